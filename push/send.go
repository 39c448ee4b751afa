package push

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/push/delivery"
	"github.com/arbor-auth/arbor/store"
)

// Type is what the user must do on the device to accept a push (AM's push type).
type Type string

// Push types.
const (
	// TypeTap: tap Accept (AM's DEFAULT, the "k" claim "default").
	TypeTap Type = "tap"
	// TypeChallenge: pick, among three numbers, the one the login page shows (AM's
	// CHALLENGE, number matching).
	TypeChallenge Type = "challenge"
	// TypeBiometric: accept after a local biometric check (AM's BIOMETRIC).
	TypeBiometric Type = "biometric"
)

// claim returns the "k" claim value for t.
func (t Type) claim() string {
	if t == TypeTap {
		return "default"
	}
	return string(t)
}

// ParseType maps a node config value or a "k" claim to a Type: "tap", "default" and ""
// give TypeTap; AM's upper-case names are accepted too.
func ParseType(s string) (Type, error) {
	switch strings.ToLower(s) {
	case "", "tap", "default":
		return TypeTap, nil
	case "challenge":
		return TypeChallenge, nil
	case "biometric":
		return TypeBiometric, nil
	}
	return "", fmt.Errorf("%w: unknown push type %q", ErrInvalidRequest, s)
}

// FormatMessage fills AM's {{user}} and {{issuer}} placeholders in tmpl; an empty tmpl
// gives DefaultMessage filled in.
func FormatMessage(tmpl, user, issuer string) string {
	if tmpl == "" {
		tmpl = DefaultMessage
	}
	return strings.NewReplacer("{{user}}", user, "{{issuer}}", issuer).Replace(tmpl)
}

// SendRequest asks for one push (the push_sender node).
type SendRequest struct {
	// Realm and Username of the user to push to; the push goes to the user's first
	// device, as in AM.
	Realm, Username string
	// Devices, when not nil, limits the push to the user's devices with these ids (the
	// devices whose token PIN the flow verified): it goes to the first of them, and a
	// user with none of them is ErrNotRegistered.
	Devices []string
	// FlowID binds the push to one journey flow: only that flow can read its result.
	FlowID string
	// PushType is tap, challenge (number matching) or biometric; empty means tap.
	PushType Type
	// Message is the text shown on the device, already localised. Placeholders left in
	// it are filled by Send with the username and the device's issuer; empty means
	// DefaultMessage.
	Message string
	// Timeout is how long the push stays valid; 0 means DefaultMessageTimeout.
	Timeout time.Duration
	// ContextInfo is shown on the device to help the user judge the request
	// (remoteIp, userAgent, location); nil sends none.
	ContextInfo map[string]any
	// Payload is the custom payload (the "p" claim); its JSON must fit MaxPayload.
	Payload map[string]any
	// ClientIP is the address of the login that caused the push, for delivery policy
	// and audit.
	ClientIP string
	// Transaction, when set, binds the push to one transaction: the device shows its
	// text instead of Message, and only an approval naming its id and text counts.
	Transaction *Transaction
}

// Sent describes a push that was sent.
type Sent struct {
	// MessageID identifies the push ("AUTHENTICATE:<uuid><ms>"); keep it in the flow's
	// state and pass it to Result.
	MessageID string
	// Number is the number to show on the login page for TypeChallenge, else 0.
	Number int
	// DeviceID is the device the push went to.
	DeviceID string
	// Expires is when the push stops being accepted.
	Expires time.Time
}

// Status is where a push stands.
type Status string

// Push statuses (AM's UNKNOWN, SUCCESS, DENIED and null).
const (
	// StatusWaiting: no answer yet; poll again.
	StatusWaiting Status = "waiting"
	// StatusApproved: the user accepted (and picked the right number).
	StatusApproved Status = "approved"
	// StatusDenied: the user rejected, or picked a wrong number.
	StatusDenied Status = "denied"
	// StatusExpired: the push timed out, was already consumed, or is unknown to this
	// flow.
	StatusExpired Status = "expired"
)

// Result is the answer to Service.Result.
type Result struct {
	// Status says where the push stands.
	Status Status
	// Number is the number the user picked on the device (challenge pushes that were
	// answered), else 0.
	Number int
	// DeviceID is the device that answered (approved or denied), else empty.
	DeviceID string
}

// Send pushes a login request to the user's first device. It returns ErrNotRegistered
// when the user has none, ErrRateLimited past the per-user limit, ErrPayloadTooLarge,
// ErrInvalidRequest, an error wrapping ErrTransmission when delivery fails, or a
// wrapped store error (errors.Is(err, store.ErrUnavailable)) when state cannot be
// saved. The check order follows what a node needs: a user without a device is never
// counted against the rate limit.
func (s *Service) Send(ctx context.Context, req SendRequest) (*Sent, error) {
	if !strings.HasPrefix(req.Realm, "/") || strings.TrimSpace(req.Username) == "" || req.FlowID == "" {
		return nil, fmt.Errorf("%w: a push needs a realm, a username and a flow id", ErrInvalidRequest)
	}
	typ, err := ParseType(string(req.PushType))
	if err != nil {
		return nil, err
	}
	if req.Timeout < 0 {
		return nil, fmt.Errorf("%w: negative timeout", ErrInvalidRequest)
	}
	if req.Transaction != nil {
		if err := req.Transaction.check(); err != nil {
			return nil, err
		}
	}
	timeout := req.Timeout
	if timeout == 0 {
		timeout = DefaultMessageTimeout
	}
	var payload, contextInfo string
	if len(req.Payload) > 0 {
		b, err := json.Marshal(req.Payload)
		if err != nil {
			return nil, fmt.Errorf("%w: custom payload: %v", ErrInvalidRequest, err)
		}
		if len(b) > MaxPayload {
			return nil, fmt.Errorf("%w (%d bytes)", ErrPayloadTooLarge, len(b))
		}
		payload = string(b)
	}
	if len(req.ContextInfo) > 0 {
		b, err := json.Marshal(req.ContextInfo)
		if err != nil {
			return nil, fmt.Errorf("%w: context info: %v", ErrInvalidRequest, err)
		}
		contextInfo = string(b)
	}
	ev := audit.Event{Type: audit.PushFailed, Realm: req.Realm, User: req.Username, FlowID: req.FlowID, Client: req.ClientIP}

	devs, err := s.devs.Devices(ctx, req.Realm, req.Username)
	if err != nil {
		ev.Reason = "store error reading devices"
		s.emit(ctx, ev)
		return nil, fmt.Errorf("push: send: %w", err)
	}
	if req.Devices != nil {
		devs = slices.DeleteFunc(devs, func(d devices.Device) bool { return !slices.Contains(req.Devices, d.ID) })
	}
	if len(devs) == 0 {
		return nil, ErrNotRegistered
	}
	dev := devs[0]
	ev.Details = map[string]any{"device_id": dev.ID, "type": string(typ)}

	if limit := s.cfg.RateLimit; limit.Count > 0 {
		n, err := s.st.Incr(ctx, rateKey(req.Realm, req.Username), 1, limit.Window)
		if err != nil {
			ev.Reason = "store error counting pushes"
			s.emit(ctx, ev)
			return nil, fmt.Errorf("push: send: rate limit: %w", err)
		}
		if n == 1 {
			// The first push of a window records when it began. Only a refused send reads
			// it, so a failed write costs the message's precision, never the push.
			start := strconv.FormatInt(s.now().UnixMilli(), 10)
			if _, err := s.st.Set(ctx, rateStartKey(req.Realm, req.Username), []byte(start), limit.Window); err != nil {
				s.log.Warn("push rate limit: window start not recorded", "err", err)
			}
		}
		if n > int64(limit.Count) {
			rl := ev
			rl.Type, rl.Reason = audit.PushRateLimited, fmt.Sprintf("more than %d pushes in %s", limit.Count, limit.Window)
			s.emit(ctx, rl)
			return nil, &RateLimitError{Until: s.windowEnd(ctx, req, limit)}
		}
	}

	target := delivery.Device{ID: dev.ID, Platform: dev.Platform, Communication: dev.Communication, Token: dev.Token}
	if vd, ok := s.dlv.(delivery.ValidityDeliverer); ok {
		// A provider with its own timeout (challenge_service) decides how long the push
		// is valid, as LinOTP's push providers do.
		if v := vd.Validity(delivery.Message{Device: target, Realm: req.Realm, User: req.Username, ClientIP: req.ClientIP}); v > 0 {
			timeout = v
		}
	}

	secret, err := s.devs.Secret(ctx, &dev)
	if err != nil {
		ev.Reason = "device secret does not open"
		s.emit(ctx, ev)
		return nil, fmt.Errorf("push: send: %w", err)
	}

	now := s.now()
	id := newMessageID(AuthenticatePrefix, now)
	challenge := randomBytes(32)
	text := FormatMessage(req.Message, req.Username, dev.Issuer)
	txHash := ""
	if tx := req.Transaction; tx != nil {
		// The transaction's text is shown verbatim: no placeholders are filled in, so
		// what the hash binds is exactly what the user reads.
		if tx.Text != "" {
			text = tx.Text
		}
		txHash = TransactionHash(tx.ID, text)
	}
	claims := jwt.MapClaims{
		"u": dev.ID,
		"l": base64.StdEncoding.EncodeToString([]byte(s.cfg.LoadBalancerCookie)),
		"c": base64.StdEncoding.EncodeToString(challenge),
		"m": text,
		"k": typ.claim(),
		"i": strconv.FormatInt(now.UnixMilli(), 10),
		"t": strconv.FormatInt(int64(timeout/time.Second), 10),
		"d": req.Username,
	}
	if payload != "" {
		claims["p"] = payload
	}
	if contextInfo != "" {
		claims["x"] = contextInfo
	}
	if txHash != "" {
		claims["tx"] = req.Transaction.ID
		claims["th"] = txHash
	}
	number := 0
	if typ == TypeChallenge {
		nums := challengeNumbers()
		number = nums[randIntn(len(nums))]
		claims["n"] = fmt.Sprintf("%d,%d,%d", nums[0], nums[1], nums[2])
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return nil, fmt.Errorf("push: sign message: %w", err)
	}

	rec := &message{
		Kind:      kindAuthenticate,
		Realm:     req.Realm,
		User:      req.Username,
		FlowID:    req.FlowID,
		State:     statePending,
		Created:   now,
		Expires:   now.Add(timeout),
		Challenge: claims["c"].(string),
		DeviceID:  dev.ID,
		Type:      typ,
		Number:    number,
		JWT:       signed,
		TxHash:    txHash,
	}
	if req.Transaction != nil {
		rec.TxID = req.Transaction.ID
	}
	ev.Message = id
	if err := s.casMessage(ctx, id, rec, 0); err != nil {
		ev.Reason = "store error saving message"
		s.emit(ctx, ev)
		return nil, fmt.Errorf("push: send: %w", err)
	}
	err = s.updatePending(ctx, dev.ID, func(l []pendingEntry) []pendingEntry {
		return append(l, pendingEntry{ID: id, Expires: rec.Expires})
	})
	if err != nil {
		_ = s.st.Delete(context.WithoutCancel(ctx), messageKey(id))
		ev.Reason = "store error saving poll index"
		s.emit(ctx, ev)
		return nil, fmt.Errorf("push: send: %w", err)
	}

	answer := "arbor device approve " + id
	if typ == TypeChallenge {
		answer = fmt.Sprintf("arbor device approve --number %d %s", number, id)
	}
	dctx, cancel := context.WithTimeout(ctx, s.cfg.DeliveryTimeout)
	derr := s.dlv.Deliver(dctx, delivery.Message{
		MessageID:     id,
		JWT:           signed,
		Title:         "Login request",
		Body:          text,
		Device:        target,
		Realm:         req.Realm,
		User:          req.Username,
		ClientIP:      req.ClientIP,
		TTL:           timeout,
		AnswerCommand: answer,
	})
	cancel()
	if derr != nil {
		s.markFailed(ctx, id, dev.ID)
		ev.Reason = "delivery failed: " + derr.Error()
		s.emit(ctx, ev)
		s.log.WarnContext(ctx, "push: delivery failed", "message_id", id, "flow_id", req.FlowID, "device_id", dev.ID, "err", derr)
		if errors.Is(derr, ErrTransmission) {
			return nil, fmt.Errorf("push: send %s: %w", id, derr)
		}
		return nil, fmt.Errorf("push: send %s: %w: %w", id, ErrTransmission, derr)
	}

	ok := ev
	ok.Type, ok.Reason = audit.PushSent, ""
	s.emit(ctx, ok)
	s.log.InfoContext(ctx, "push: sent", "message_id", id, "flow_id", req.FlowID, "device_id", dev.ID, "type", string(typ))
	return &Sent{MessageID: id, Number: number, DeviceID: dev.ID, Expires: rec.Expires}, nil
}

// markFailed records that a push was never delivered, so the device cannot answer it
// and poll does not offer it. Best effort: the record expires anyway.
func (s *Service) markFailed(ctx context.Context, id, device string) {
	ctx = context.WithoutCancel(ctx)
	s.dropPending(ctx, device, id)
	_, _ = store.Update(ctx, s.st, messageKey(id), func(cur []byte, exists bool) ([]byte, time.Duration, error) {
		if !exists {
			return nil, 0, store.ErrNoChange // expired: nothing left to answer
		}
		var m message
		if err := json.Unmarshal(cur, &m); err != nil {
			return nil, 0, fmt.Errorf("push: decode message %s: %w", id, err)
		}
		m.State = stateFailed
		b, err := json.Marshal(&m)
		return b, s.ttlFor(m.Expires), err
	})
}

// challengeNumbers returns three distinct numbers in [10, 99], sorted, as AM's
// PushNumbersChallenge does.
func challengeNumbers() []int {
	nums := make([]int, 0, 3)
	for len(nums) < 3 {
		n := 10 + randIntn(90)
		if !slices.Contains(nums, n) {
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	return nums
}

// Result reports how the push messageID sent for flowID stands (the push_result_verifier
// node). Approved and Denied results are consumed: the message is removed as it is
// read, so a second Result for the same id is Expired and an approval can be used by
// one step only. A push past its timeout is Expired (audited push.expired once); an
// unknown id, or one sent for another flow, is Expired too, so a flow learns nothing
// about pushes that are not its own. On approval the device's LastUsed is updated.
// Only store failures are errors.
func (s *Service) Result(ctx context.Context, messageID, flowID string) (*Result, error) {
	expired := &Result{Status: StatusExpired}
	if !strings.HasPrefix(messageID, AuthenticatePrefix) || flowID == "" {
		return expired, nil
	}
	m, _, err := s.getMessage(ctx, messageID)
	if errors.Is(err, store.ErrNotFound) {
		return expired, nil
	}
	if err != nil {
		return nil, err
	}
	if m.Kind != kindAuthenticate || !sameString(m.FlowID, flowID) {
		return expired, nil
	}
	ev := audit.Event{Realm: m.Realm, User: m.User, FlowID: m.FlowID, Message: messageID,
		Details: map[string]any{"device_id": m.DeviceID, "type": string(m.Type)}}
	switch m.State {
	case statePending:
		if s.now().Before(m.Expires) {
			return &Result{Status: StatusWaiting}, nil
		}
		// Take, not Delete, so that of several instances polling the same flow exactly
		// one audits the expiry.
		if _, err := s.st.Take(ctx, messageKey(messageID)); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return expired, nil
			}
			return nil, fmt.Errorf("push: expire %s: %w", messageID, err)
		}
		s.dropPending(ctx, m.DeviceID, messageID)
		ev.Type, ev.Reason = audit.PushExpired, "no answer before the timeout"
		s.emit(ctx, ev)
		return expired, nil
	case stateApproved, stateDenied:
		b, err := s.st.Take(ctx, messageKey(messageID))
		if errors.Is(err, store.ErrNotFound) {
			return expired, nil // consumed by a concurrent Result
		}
		if err != nil {
			return nil, fmt.Errorf("push: consume %s: %w", messageID, err)
		}
		var taken message
		if err := json.Unmarshal(b, &taken); err != nil {
			return nil, fmt.Errorf("push: decode message %s: %w", messageID, err)
		}
		res := &Result{Status: StatusDenied, Number: taken.Chosen, DeviceID: taken.DeviceID}
		if taken.State == stateApproved {
			res.Status = StatusApproved
			if err := s.devs.Touch(ctx, taken.DeviceID, s.now()); err != nil {
				s.log.WarnContext(ctx, "push: could not record device use", "message_id", messageID, "device_id", taken.DeviceID, "err", err)
			}
		}
		return res, nil
	}
	return expired, nil // failed deliveries: Send already reported them
}

// windowEnd returns when the user's current rate-limit window ends; when its start is
// unknown, the latest it can be: a full window from now.
func (s *Service) windowEnd(ctx context.Context, req SendRequest, limit RateLimit) time.Time {
	latest := s.now().Add(limit.Window)
	it, err := s.st.Get(ctx, rateStartKey(req.Realm, req.Username))
	if err != nil {
		return latest
	}
	ms, err := strconv.ParseInt(string(it.Value), 10, 64)
	if err != nil {
		return latest
	}
	if end := time.UnixMilli(ms).Add(limit.Window); end.Before(latest) {
		return end
	}
	return latest
}

// Cancel withdraws the push messageID sent for flowID, because the flow went on without
// it (a one-time code typed instead): the record is removed, so a late approval or
// denial from the device is refused as for an unknown push, and poll no longer offers
// it. Cancelling a push that is unknown, another flow's, or already answered or expired
// does nothing. It is audited as push.cancelled. Only store failures are errors.
func (s *Service) Cancel(ctx context.Context, messageID, flowID string) error {
	if !strings.HasPrefix(messageID, AuthenticatePrefix) || flowID == "" {
		return nil
	}
	m, _, err := s.getMessage(ctx, messageID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if m.Kind != kindAuthenticate || !sameString(m.FlowID, flowID) {
		return nil
	}
	// Take, not Delete: of two cancels (or a cancel and a Result) one wins, and only
	// the winner audits.
	if _, err := s.st.Take(ctx, messageKey(messageID)); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return fmt.Errorf("push: cancel %s: %w", messageID, err)
	}
	s.dropPending(ctx, m.DeviceID, messageID)
	s.emit(ctx, audit.Event{Type: audit.PushCancelled, Realm: m.Realm, User: m.User, FlowID: m.FlowID, Message: messageID,
		Reason: "the login went on without it", Details: map[string]any{"device_id": m.DeviceID, "state": m.State}})
	return nil
}
