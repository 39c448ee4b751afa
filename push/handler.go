package push

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/store"
)

// MaxBodyBytes bounds a device request body; real ones are well under 4 KiB.
const MaxBodyBytes = 64 << 10

// MaxPollTokenAge bounds a poll token: its exp may be at most this far past its iat,
// and its iat at most this far in the past, so a captured token is soon worthless.
const MaxPollTokenAge = 5 * time.Minute

// clockSkew tolerates devices whose clock runs a little ahead of the server's.
const clockSkew = 30 * time.Second

// Handler returns the device endpoint, AM's push/sns/message route:
//
//	POST {prefix}/json[/realms/root[/realms/X]...]/push/sns/message?_action=register
//	POST ...?_action=authenticate
//	POST ...?_action=poll   (Arbor's addition for poll mode)
//
// The realm comes from the path ("/json/realms/root/realms/alpha/..." is "/alpha",
// "/json/push/..." and "/json/realms/root/push/..." are "/"), so it can be mounted
// under any prefix or served on its own listener. Success is 200 with a JSON body;
// every rejected request is a 400 (404 for an unknown message id) with an AM-style
// error body, changes nothing and is audited as push.reply_rejected; a store outage is
// a 503.
func (s *Service) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

// realmFromPath extracts the realm from a device endpoint path, or reports false if the
// path is not one.
func realmFromPath(path string) (string, bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	n := len(segs)
	if n < 4 || segs[n-3] != "push" || segs[n-2] != "sns" || segs[n-1] != "message" {
		return "", false
	}
	// Try every "json" segment, so a mount prefix that itself contains one still works.
	for i := 0; i < n-3; i++ {
		if segs[i] != "json" {
			continue
		}
		if realm, ok := realmFromSegments(segs[i+1 : n-3]); ok {
			return realm, true
		}
	}
	return "", false
}

func realmFromSegments(segs []string) (string, bool) {
	if len(segs) == 0 {
		return "/", true
	}
	if len(segs) < 2 || len(segs)%2 != 0 || segs[0] != "realms" || segs[1] != "root" {
		return "", false
	}
	realm := ""
	for i := 2; i < len(segs); i += 2 {
		// Split before unescaping, so an escaped '/' inside a realm name cannot forge
		// a deeper realm path.
		name, err := url.PathUnescape(segs[i+1])
		if segs[i] != "realms" || err != nil || name == "" || strings.Contains(name, "/") {
			return "", false
		}
		realm += "/" + name
	}
	if realm == "" {
		realm = "/"
	}
	return realm, true
}

// request is one device request in flight, carrying what a rejection needs to audit.
type request struct {
	w       http.ResponseWriter
	r       *http.Request
	realm   string
	action  string
	client  string
	user    string
	message string
	device  string
}

func (s *Service) serveHTTP(w http.ResponseWriter, r *http.Request) {
	realm, ok := realmFromPath(r.URL.EscapedPath())
	if !ok {
		writeError(w, http.StatusNotFound, "Resource '"+r.URL.Path+"' not found")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "Method not allowed; use POST")
		return
	}
	q := &request{w: w, r: r, realm: realm, action: r.URL.Query().Get("_action"), client: clientIP(r)}
	switch q.action {
	case "register":
		s.handleRegister(q)
	case "authenticate":
		s.handleAuthenticate(q)
	case "poll":
		s.handlePoll(q)
	default:
		s.reject(q, http.StatusBadRequest, fmt.Sprintf("Action %q not supported; use register, authenticate or poll", q.action))
	}
}

func clientIP(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

// errorBody is AM's JSON error shape.
type errorBody struct {
	Code    int    `json:"code"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Code: status, Reason: http.StatusText(status), Message: msg})
}

// reject answers a refused device request and audits it. reason is what the device is
// told and what the audit records; it never carries a secret.
func (s *Service) reject(q *request, status int, reason string) {
	details := map[string]any{"action": q.action}
	if q.device != "" {
		details["device_id"] = q.device
	}
	s.emit(q.r.Context(), audit.Event{
		Type: audit.PushRejected, Realm: q.realm, User: q.user, Message: q.message,
		Client: q.client, Reason: reason, Details: details,
	})
	s.log.InfoContext(q.r.Context(), "push: device request rejected", "action", q.action, "realm", q.realm,
		"message_id", q.message, "device_id", q.device, "client_ip", q.client, "reason", reason)
	writeError(q.w, status, reason)
}

// fail answers a request that could not be served because of the store (503) or an
// internal error (500); neither is the device's fault, so neither is a rejection.
func (s *Service) fail(q *request, err error) {
	s.log.ErrorContext(q.r.Context(), "push: device request failed", "action", q.action, "realm", q.realm,
		"message_id", q.message, "device_id", q.device, "err", err)
	if errors.Is(err, store.ErrUnavailable) {
		writeError(q.w, http.StatusServiceUnavailable, "The service is temporarily unavailable, try again")
		return
	}
	writeError(q.w, http.StatusInternalServerError, "Internal error")
}

// decodeBody reads the JSON body into v, enforcing MaxBodyBytes. On failure it has
// already answered.
func (s *Service) decodeBody(q *request, v any) bool {
	body := http.MaxBytesReader(q.w, q.r.Body, MaxBodyBytes)
	b, err := io.ReadAll(body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.reject(q, http.StatusBadRequest, fmt.Sprintf("Request body larger than %d bytes", MaxBodyBytes))
			return false
		}
		s.reject(q, http.StatusBadRequest, "Could not read the request body")
		return false
	}
	if err := json.Unmarshal(b, v); err != nil {
		s.reject(q, http.StatusBadRequest, "Request body is not valid JSON: "+jsonProblem(err))
		return false
	}
	return true
}

// jsonProblem describes a JSON error without echoing the body back.
func jsonProblem(err error) string {
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return fmt.Sprintf("field %q has the wrong type", typ.Field)
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	}
	return "malformed"
}

// reply is the body of register and authenticate requests.
type reply struct {
	MessageID string `json:"messageId"`
	JWT       string `json:"jwt"`
}

// verifyJWT checks a HS256 JWS with secret and returns its claims, or a reason to give
// the device.
func (s *Service) verifyJWT(tok string, secret []byte) (jwt.MapClaims, string) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithTimeFunc(s.now), jwt.WithLeeway(clockSkew))
	switch {
	case err == nil:
		return claims, ""
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, "Malformed JWT"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return nil, "JWT signature does not verify"
	case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenNotValidYet):
		return nil, "JWT is expired or not yet valid"
	}
	return nil, "Invalid JWT"
}

// checkResponse verifies the "response" claim, the HMAC of the challenge under the
// secret, in constant time.
// verifyDeviceJWT opens dev's shared secret and verifies token with it, returning the
// secret and the token's claims. On failure it has already answered.
func (s *Service) verifyDeviceJWT(q *request, dev *devices.Device, token string) ([]byte, jwt.MapClaims, bool) {
	secret, err := s.devs.Secret(q.r.Context(), dev)
	if err != nil {
		s.fail(q, err)
		return nil, nil, false
	}
	claims, problem := s.verifyJWT(token, secret)
	if problem != "" {
		s.reject(q, http.StatusBadRequest, problem)
		return nil, nil, false
	}
	return secret, claims, true
}

func checkResponse(claims jwt.MapClaims, secret []byte, challengeB64 string) bool {
	got, _ := claims["response"].(string)
	challenge, err := base64.StdEncoding.DecodeString(challengeB64)
	if err != nil || got == "" {
		return false
	}
	return sameString(got, challengeResponse(secret, challenge))
}

// checkTransaction checks a reply to a transaction push: it must name the transaction
// the push was sent for and carry the hash of the text the push showed. A denial is
// held to the same rule, so a reply for another transaction changes nothing at all.
func checkTransaction(claims jwt.MapClaims, m *message) string {
	if m.TxHash == "" {
		return ""
	}
	if tx := claimString(claims, "tx"); tx == "" || !sameString(tx, m.TxID) {
		return "Reply is for another transaction"
	}
	if th := claimString(claims, "th"); th == "" || !sameString(th, m.TxHash) {
		return "Transaction text does not match what was sent"
	}
	return ""
}

// claimString returns a string claim, or "" if absent or not a string.
func claimString(c jwt.MapClaims, k string) string {
	v, _ := c[k].(string)
	return v
}

// isDeny reports a deny claim: the SDKs send the boolean true; the string "true" is
// tolerated.
func isDeny(c jwt.MapClaims) bool {
	switch v := c["deny"].(type) {
	case bool:
		return v
	case string:
		return strings.EqualFold(v, "true")
	}
	return false
}

// claimNumber reads the challengeResponse claim, which the SDKs send as a string; a
// JSON number is accepted too. ok is false when absent or not an integer.
func claimNumber(c jwt.MapClaims, k string) (int, bool) {
	switch v := c[k].(type) {
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(v))
		return n, err == nil
	case float64:
		if v == float64(int(v)) {
			return int(v), true
		}
	case json.Number:
		n, err := strconv.Atoi(v.String())
		return n, err == nil
	}
	return 0, false
}

// readReply decodes a device reply and reads the message it names, running the checks
// that need no secret. On failure it has already answered.
func (s *Service) readReply(q *request, prefix, kind string) (reply, *message, uint64, bool) {
	var body reply
	if !s.decodeBody(q, &body) {
		return body, nil, 0, false
	}
	if body.MessageID == "" || body.JWT == "" {
		s.reject(q, http.StatusBadRequest, "messageId and jwt are required")
		return body, nil, 0, false
	}
	m, rev, ok := s.loadForReply(q, body.MessageID, prefix, kind)
	return body, m, rev, ok
}

// loadForReply reads the message id names and runs the checks that need no secret. On
// failure it has already answered.
func (s *Service) loadForReply(q *request, id, prefix, kind string) (*message, uint64, bool) {
	q.message = id
	if !strings.HasPrefix(id, prefix) {
		s.reject(q, http.StatusBadRequest, fmt.Sprintf("messageId is not a %s message id", strings.TrimSuffix(prefix, ":")))
		return nil, 0, false
	}
	m, rev, err := s.getMessage(q.r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		s.reject(q, http.StatusNotFound, "Unknown or expired message")
		return nil, 0, false
	}
	if err != nil {
		s.fail(q, err)
		return nil, 0, false
	}
	if m.Kind != kind {
		s.reject(q, http.StatusNotFound, "Unknown or expired message")
		return nil, 0, false
	}
	q.user = m.User
	if m.Realm != q.realm {
		s.reject(q, http.StatusBadRequest, "Message belongs to another realm")
		return nil, 0, false
	}
	if m.State != statePending {
		s.reject(q, http.StatusBadRequest, "Message has already been answered")
		return nil, 0, false
	}
	if !s.now().Before(m.Expires) {
		s.reject(q, http.StatusBadRequest, "Message has expired")
		return nil, 0, false
	}
	return m, rev, true
}

func (s *Service) handleRegister(q *request) {
	ctx := q.r.Context()
	body, m, rev, ok := s.readReply(q, RegisterPrefix, kindRegister)
	if !ok {
		return
	}
	secret, err := s.sealer.Open(m.SecretSealed, registrationSecretContext(body.MessageID))
	if err != nil {
		s.fail(q, fmt.Errorf("open registration secret: %w", err))
		return
	}
	claims, problem := s.verifyJWT(body.JWT, secret)
	if problem != "" {
		s.reject(q, http.StatusBadRequest, problem)
		return
	}
	if !checkResponse(claims, secret, m.Challenge) {
		s.reject(q, http.StatusBadRequest, "Challenge response does not match")
		return
	}
	if problem := checkTransaction(claims, m); problem != "" {
		s.reject(q, http.StatusBadRequest, problem)
		return
	}

	if isDeny(claims) {
		m.State = stateDenied
		if err := s.casMessage(ctx, body.MessageID, m, rev); err != nil {
			s.answerLostRace(q, err)
			return
		}
		s.emit(ctx, audit.Event{Type: audit.PushDenied, Realm: m.Realm, User: m.User, FlowID: m.FlowID,
			Message: body.MessageID, Client: q.client, Reason: "device declined the registration"})
		writeJSON(q.w, http.StatusOK, struct{}{})
		return
	}

	uid := claimString(claims, "mechanismUid")
	q.device = uid
	if uid == "" || len(uid) > 128 || !utf8.ValidString(uid) || strings.ContainsAny(uid, " \t\r\n/{}") {
		s.reject(q, http.StatusBadRequest, "mechanismUid is missing or malformed")
		return
	}
	comm, err := devices.NormalizeCommunication(claimString(claims, "communicationType"))
	if err != nil {
		s.reject(q, http.StatusBadRequest, "communicationType is missing or unknown")
		return
	}
	token := claimString(claims, "deviceId")
	if (comm == devices.CommFCM || comm == devices.CommAPNs) && token == "" {
		s.reject(q, http.StatusBadRequest, "deviceId (the push token) is required for "+comm)
		return
	}
	dev := devices.Device{
		ID:            uid,
		Name:          truncate(claimString(claims, "deviceName"), 128),
		Issuer:        m.Issuer,
		Platform:      truncate(claimString(claims, "deviceType"), 32),
		Communication: comm,
		Token:         truncate(token, 4096),
		Created:       s.now(),
	}

	// Save the device first, so that RegistrationResult never reports a device that is
	// not there yet; the message CAS below then decides which reply wins, and a loser's
	// device is removed again.
	if err := s.devs.Add(ctx, m.Realm, m.User, dev, secret); err != nil {
		switch {
		case errors.Is(err, devices.ErrExists):
			s.reject(q, http.StatusBadRequest, "Device is already registered")
		case errors.Is(err, devices.ErrInvalid):
			s.reject(q, http.StatusBadRequest, "Device registration is invalid")
		default:
			s.fail(q, err)
		}
		return
	}
	m.State, m.DeviceID, m.DeviceName = stateRegistered, uid, dev.Name
	m.SecretSealed = "" // the registry holds the secret now
	if err := s.casMessage(ctx, body.MessageID, m, rev); err != nil {
		if rerr := s.devs.Revoke(context.WithoutCancel(ctx), m.Realm, m.User, uid); rerr != nil {
			s.log.ErrorContext(ctx, "push: could not undo a registration that lost its race", "message_id", body.MessageID, "device_id", uid, "err", rerr)
		}
		s.answerLostRace(q, err)
		return
	}
	s.emit(ctx, audit.Event{Type: audit.DeviceRegistered, Realm: m.Realm, User: m.User, FlowID: m.FlowID,
		Message: body.MessageID, Client: q.client,
		Details: map[string]any{"device_id": uid, "device_name": dev.Name, "platform": dev.Platform, "communication": comm}})
	s.log.InfoContext(ctx, "push: device registered", "message_id", body.MessageID, "flow_id", m.FlowID, "device_id", uid)
	writeJSON(q.w, http.StatusOK, struct{}{})
}

// answerLostRace answers a reply whose final compare-and-swap failed: a conflict means
// another reply answered first (a replay), anything else is the store's fault.
func (s *Service) answerLostRace(q *request, err error) {
	if errors.Is(err, store.ErrConflict) {
		s.reject(q, http.StatusBadRequest, "Message has already been answered")
		return
	}
	s.fail(q, err)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func (s *Service) handleAuthenticate(q *request) {
	ctx := q.r.Context()
	body, m, rev, ok := s.readReply(q, AuthenticatePrefix, kindAuthenticate)
	if !ok {
		return
	}
	q.device = m.DeviceID
	dev, err := s.devs.Device(ctx, m.DeviceID)
	if errors.Is(err, devices.ErrNotFound) {
		s.reject(q, http.StatusBadRequest, "Device is no longer registered")
		return
	}
	if err != nil {
		s.fail(q, err)
		return
	}
	// A reply signed by any other device (another user's included) fails here: the
	// message was signed for, and only verifies with, the device it was sent to.
	secret, claims, ok := s.verifyDeviceJWT(q, dev, body.JWT)
	if !ok {
		return
	}
	if !checkResponse(claims, secret, m.Challenge) {
		s.reject(q, http.StatusBadRequest, "Challenge response does not match")
		return
	}
	if problem := checkTransaction(claims, m); problem != "" {
		s.reject(q, http.StatusBadRequest, problem)
		return
	}

	ev := audit.Event{Realm: m.Realm, User: m.User, FlowID: m.FlowID, Message: body.MessageID, Client: q.client,
		Details: map[string]any{"device_id": m.DeviceID, "type": string(m.Type)}}
	switch {
	case isDeny(claims):
		m.State = stateDenied
		ev.Type = audit.PushDenied
	case m.Type == TypeChallenge:
		n, ok := claimNumber(claims, "challengeResponse")
		m.Chosen = n
		if ok && n == m.Number {
			m.State = stateApproved
			ev.Type = audit.PushApproved
			break
		}
		// A wrong number is a denial, not a rejected reply: the user may be looking at
		// an attacker's login, and that login must fail.
		m.State, m.Mismatch = stateDenied, true
		ev.Type, ev.Reason = audit.PushMismatch, "the number chosen on the device is not the one shown"
		ev.Details["chosen"] = n
	default:
		m.State = stateApproved
		ev.Type = audit.PushApproved
	}
	if err := s.casMessage(ctx, body.MessageID, m, rev); err != nil {
		s.answerLostRace(q, err)
		return
	}
	s.dropPending(ctx, m.DeviceID, body.MessageID)
	s.emit(ctx, ev)
	s.log.InfoContext(ctx, "push: device answered", "message_id", body.MessageID, "flow_id", m.FlowID, "device_id", m.DeviceID, "state", m.State)
	// The device learns what its answer did: a wrong number denied the login, and the
	// user holding the phone should know (AM's apps ignore the body).
	result := AnswerApproved
	switch {
	case m.Mismatch:
		result = AnswerWrongNumber
	case m.State == stateDenied:
		result = AnswerDenied
	}
	writeJSON(q.w, http.StatusOK, AnswerResponse{Result: result})
}

// ReasonUnknownDevice is the message of the 400 a device gets when the server does not
// know it (removed, or never registered), so an authenticator can tell its user.
const ReasonUnknownDevice = "Unknown device"

// AnswerResponse is the body of a successful device answer: what the answer did.
type AnswerResponse struct {
	// Result is AnswerApproved, AnswerDenied or AnswerWrongNumber.
	Result string `json:"result"`
}

// What a device's answer did to the login.
const (
	AnswerApproved    = "approved"
	AnswerDenied      = "denied"
	AnswerWrongNumber = "wrong_number"
)

// pollRequest is the body of a poll.
type pollRequest struct {
	MechanismUID string `json:"mechanismUid"`
	JWT          string `json:"jwt"`
}

// PollMessage is one pending push in a poll answer.
type PollMessage struct {
	// MessageID is the push message id.
	MessageID string `json:"messageId"`
	// Message is the signed push JWT, exactly as a push provider would carry it.
	Message string `json:"message"`
}

// PollResponse is the body of a successful poll.
type PollResponse struct {
	// Messages are the device's pending, unexpired pushes, oldest first.
	Messages []PollMessage `json:"messages"`
}

func (s *Service) handlePoll(q *request) {
	ctx := q.r.Context()
	var body pollRequest
	if !s.decodeBody(q, &body) {
		return
	}
	if body.MechanismUID == "" || body.JWT == "" {
		s.reject(q, http.StatusBadRequest, "mechanismUid and jwt are required")
		return
	}
	q.device = body.MechanismUID
	dev, err := s.devs.Device(ctx, body.MechanismUID)
	if errors.Is(err, devices.ErrNotFound) {
		s.reject(q, http.StatusBadRequest, ReasonUnknownDevice)
		return
	}
	if err != nil {
		s.fail(q, err)
		return
	}
	q.user = dev.User
	if dev.Realm != q.realm {
		s.reject(q, http.StatusBadRequest, "Device belongs to another realm")
		return
	}
	_, claims, ok := s.verifyDeviceJWT(q, dev, body.JWT)
	if !ok {
		return
	}
	if problem := s.checkPollClaims(claims, dev.ID); problem != "" {
		s.reject(q, http.StatusBadRequest, problem)
		return
	}
	if used, err := s.spendPollToken(ctx, dev.ID, claims); err != nil {
		s.fail(q, err)
		return
	} else if used {
		s.reject(q, http.StatusBadRequest, "Poll token already used")
		return
	}

	it, err := s.st.Get(ctx, pendingKey(dev.ID))
	var index []pendingEntry
	switch {
	case err == nil:
		_ = json.Unmarshal(it.Value, &index) // a corrupt index just yields nothing
	case errors.Is(err, store.ErrNotFound):
	default:
		s.fail(q, fmt.Errorf("read poll index: %w", err))
		return
	}
	resp := PollResponse{Messages: []PollMessage{}}
	now := s.now()
	stale := false
	for _, e := range index {
		if !now.Before(e.Expires) {
			stale = true
			continue
		}
		m, _, err := s.getMessage(ctx, e.ID)
		if errors.Is(err, store.ErrNotFound) {
			stale = true
			continue
		}
		if err != nil {
			s.fail(q, err)
			return
		}
		if m.Kind != kindAuthenticate || m.DeviceID != dev.ID || m.Realm != dev.Realm || m.State != statePending || !now.Before(m.Expires) {
			stale = true
			continue
		}
		resp.Messages = append(resp.Messages, PollMessage{MessageID: e.ID, Message: m.JWT})
	}
	if stale {
		keep := make(map[string]bool, len(resp.Messages))
		for _, pm := range resp.Messages {
			keep[pm.MessageID] = true
		}
		// Best effort: a failed prune is retried at the next poll.
		_ = s.updatePending(context.WithoutCancel(ctx), dev.ID, func(l []pendingEntry) []pendingEntry {
			out := l[:0]
			for _, e := range l {
				// Keep entries added since the read above, prune only what was seen stale.
				if keep[e.ID] || !seen(index, e.ID) {
					out = append(out, e)
				}
			}
			return out
		})
	}
	writeJSON(q.w, http.StatusOK, resp)
}

// spendPollToken marks a checked poll token's jti as used, so that a captured token
// cannot be replayed within its life. It reports whether the jti was used before. The
// mark lives as long as the token could still pass checkPollClaims (its exp plus the
// clock skew allowed), so the store forgets it by itself. The key holds a hash of the
// jti: bounded in length whatever the device sent.
func (s *Service) spendPollToken(ctx context.Context, device string, c jwt.MapClaims) (used bool, err error) {
	exp, _ := c.GetExpirationTime() // present: checkPollClaims passed
	sum := sha256.Sum256([]byte(claimString(c, "jti")))
	key := "pushpoll:{" + device + "}:" + hex.EncodeToString(sum[:16])
	ttl := max(exp.Sub(s.now())+clockSkew, time.Second)
	_, err = s.st.CAS(ctx, key, []byte{1}, 0, ttl)
	if errors.Is(err, store.ErrConflict) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("push: record poll token use: %w", err)
	}
	return false, nil
}

func seen(index []pendingEntry, id string) bool {
	for _, e := range index {
		if e.ID == id {
			return true
		}
	}
	return false
}

// Bounds on a poll token's jti: long enough to be unguessable and unique per token
// (the reference authenticator sends 22 characters, 128 random bits), short enough to
// keep the request small.
const (
	minJTILen = 16
	maxJTILen = 128
)

// checkPollClaims enforces the poll token's shape: it names this device, carries a
// jti, and is short lived ({u, jti, iat, exp} with exp after now, iat not stale nor in
// the future, and a lifetime of at most MaxPollTokenAge).
func (s *Service) checkPollClaims(c jwt.MapClaims, device string) string {
	if u := claimString(c, "u"); u == "" || !sameString(u, device) {
		return "Poll token is for another device"
	}
	if jti := claimString(c, "jti"); len(jti) < minJTILen || len(jti) > maxJTILen {
		return fmt.Sprintf("Poll token needs a jti of %d to %d characters, unique per token", minJTILen, maxJTILen)
	}
	iat, err1 := c.GetIssuedAt()
	exp, err2 := c.GetExpirationTime()
	if err1 != nil || err2 != nil || iat == nil || exp == nil {
		return "Poll token needs numeric iat and exp"
	}
	now := s.now()
	switch {
	case exp.Sub(iat.Time) > MaxPollTokenAge:
		return "Poll token lives too long"
	case !exp.After(iat.Time):
		return "Poll token expires before it was issued"
	case iat.Time.After(now.Add(clockSkew)):
		return "Poll token issued in the future"
	case now.Sub(iat.Time) > MaxPollTokenAge:
		return "Poll token is stale"
	case !exp.After(now.Add(-clockSkew)):
		return "Poll token has expired"
	}
	return ""
}
