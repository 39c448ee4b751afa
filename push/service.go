// Package push is the server side of Arbor's push MFA protocol, modelled on ForgeRock
// AM's so that the ForgeRock Authenticator apps and SDKs work unmodified:
//
//   - registration: BeginRegistration makes a pushauth:// URI (shown as a QR code)
//     carrying a fresh 32-byte shared secret and challenge; the device answers on the
//     register URL with a JWT signed with that secret, and RegistrationResult tells the
//     journey how it went;
//   - authentication: Send signs a push message (a HS256 JWS with AM's claims) with the
//     device's secret and hands it to a delivery.Deliverer; the device answers on the
//     authenticate URL with a signed JWT holding the HMAC of the message's challenge (and
//     the number it was shown, for number matching), and Result tells the journey;
//   - poll: Arbor's addition, in which a device fetches its own pending pushes, so that
//     push works with no vendor cloud at all.
//
// Every message is bound to the flow it was sent for, expires, and is answered and
// consumed at most once; every reply is checked with constant-time comparisons and
// every outcome, including each rejected reply, is an audit event.
//
// # State
//
// All state is in the store, so any instance can answer any request:
//
//	push:{<message id>}      one registration or authentication message (JSON), TTL =
//	                         its timeout + 2 minutes of grace so that a late Result can
//	                         still say Expired (and audit it) rather than "not found"
//	pushpending:{<device>}   the device's pending message ids for poll mode, TTL = the
//	                         latest entry's expiry + grace
//	pushrate:{<realm>:<user>} the per-user push counter, TTL = the rate-limit window
//
// Secrets: the registration secret is sealed (keys.PurposeDevice) inside the registration
// record until the device registers, when it moves into the device registry; the
// challenge of a push is not secret (answering it needs the device secret).
package push

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/keys"
	"github.com/arbor-auth/arbor/push/delivery"
	"github.com/arbor-auth/arbor/store"
)

// Errors Send and the other Service methods return for a node to branch on. Store
// failures are wrapped, never replaced: errors.Is(err, store.ErrUnavailable) holds for
// them (AM's CTS_ERROR).
var (
	// ErrNotRegistered reports that the user has no push device (AM's NOT_REGISTERED).
	ErrNotRegistered = errors.New("push: user has no registered push device")
	// ErrRateLimited reports that the user has been sent too many pushes in the window.
	ErrRateLimited = errors.New("push: too many push notifications for this user, try again later")
	// ErrPayloadTooLarge reports a custom payload whose JSON exceeds MaxPayload bytes.
	ErrPayloadTooLarge = errors.New("push: custom payload larger than 3 KiB")
	// ErrTransmission reports that the push could not be delivered (AM's
	// TRANSMISSION_FAILURE). It is delivery.ErrTransmission itself, so either name
	// matches.
	ErrTransmission = delivery.ErrTransmission
	// ErrInvalidRequest reports a request missing what the protocol needs (realm,
	// username, flow id, a known push type, a positive timeout).
	ErrInvalidRequest = errors.New("push: invalid request")
)

// MaxPayload is the largest custom payload (the "p" claim, as JSON) in bytes, as in AM.
const MaxPayload = 3 * 1024

// DefaultMessage is AM's default push text.
const DefaultMessage = "Login attempt from {{user}} at {{issuer}}"

// Defaults for Config and requests.
const (
	DefaultRateCount           = 5
	DefaultRateWindow          = 10 * time.Minute
	DefaultRegistrationTimeout = 60 * time.Second
	DefaultMessageTimeout      = 120 * time.Second
	DefaultDeliveryTimeout     = 5 * time.Second
	DefaultIssuer              = "Arbor"
	DefaultColor               = "032b75"
	// DefaultLoadBalancerCookie fills the "l" parameter and claim: the ForgeRock iOS app
	// rejects messages without one, and Arbor needs no sticky sessions, so any value does.
	DefaultLoadBalancerCookie = "amlbcookie=01"
)

// grace keeps message records this long past their expiry, so that the journey's next
// poll sees Expired (and it is audited) instead of the record having silently vanished.
const grace = 2 * time.Minute

// RateLimit bounds the pushes one user can be sent: Count per Window, counted from the
// first push of a window (a fixed window, one atomic counter in the store).
type RateLimit struct {
	// Count is the most pushes per window; 0 means DefaultRateCount, negative disables
	// the limit.
	Count int
	// Window is the window length; 0 means DefaultRateWindow.
	Window time.Duration
}

// Config configures a Service.
type Config struct {
	// PublicURL is the base URL devices reply to ("https://arbor.example.com" or with a
	// path prefix); it may differ from the listen address when Arbor is behind NAT or a
	// proxy. The register and authenticate URLs in registration URIs are built from it;
	// when it is empty, from each registration's RegistrationRequest.BaseURL.
	PublicURL string
	// RateLimit bounds pushes per user.
	RateLimit RateLimit
	// RegistrationTimeout is how long a registration QR code stays valid when the
	// request sets no TTL; 0 means DefaultRegistrationTimeout.
	RegistrationTimeout time.Duration
	// DeliveryTimeout bounds one Deliver call, so a slow provider never hangs a journey;
	// 0 means DefaultDeliveryTimeout.
	DeliveryTimeout time.Duration
	// LoadBalancerCookie is sent as "l"; empty means DefaultLoadBalancerCookie.
	LoadBalancerCookie string
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
}

// Service runs the push protocol. It keeps no per-message state in memory, so any
// number of instances can share one store. It is safe for concurrent use.
type Service struct {
	cfg    Config
	st     store.Store
	devs   *devices.Registry
	dlv    delivery.Deliverer
	sealer *keys.Sealer
	au     *audit.Logger
	log    *slog.Logger
}

// New returns a Service. au may be nil (no audit); log nil means slog.Default().
func New(cfg Config, st store.Store, devs *devices.Registry, d delivery.Deliverer, ring *keys.Ring, au *audit.Logger, log *slog.Logger) *Service {
	if cfg.RateLimit.Count == 0 {
		cfg.RateLimit.Count = DefaultRateCount
	}
	if cfg.RateLimit.Window <= 0 {
		cfg.RateLimit.Window = DefaultRateWindow
	}
	if cfg.RegistrationTimeout <= 0 {
		cfg.RegistrationTimeout = DefaultRegistrationTimeout
	}
	if cfg.DeliveryTimeout <= 0 {
		cfg.DeliveryTimeout = DefaultDeliveryTimeout
	}
	if cfg.LoadBalancerCookie == "" {
		cfg.LoadBalancerCookie = DefaultLoadBalancerCookie
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if log == nil {
		log = slog.Default()
	}
	return &Service{cfg: cfg, st: st, devs: devs, dlv: d, sealer: ring.Sealer(keys.PurposeDevice), au: au, log: log}
}

func (s *Service) now() time.Time { return s.cfg.Now() }

// RealmPath returns the URL path segment AM uses for realm: "/" gives "realms/root",
// "/alpha/sub" gives "realms/root/realms/alpha/realms/sub".
func RealmPath(realm string) string {
	p := "realms/root"
	for _, part := range strings.Split(strings.Trim(realm, "/"), "/") {
		if part != "" {
			p += "/realms/" + url.PathEscape(part)
		}
	}
	return p
}

// MessageURL returns the device endpoint for realm and action ("register",
// "authenticate" or "poll") under the configured PublicURL.
func (s *Service) MessageURL(realm, action string) string {
	return messageURL(s.cfg.PublicURL, realm, action)
}

func messageURL(base, realm, action string) string {
	return base + "/json/" + RealmPath(realm) + "/push/sns/message?_action=" + action
}

// Keys. The message id is the hash tag, so a message's keys stay in one Cluster slot.
func messageKey(id string) string     { return "push:{" + id + "}" }
func pendingKey(device string) string { return "pushpending:{" + device + "}" }
func rateKey(realm, user string) string {
	return "pushrate:{" + url.QueryEscape(realm) + ":" + url.QueryEscape(devices.NormalizeUser(user)) + "}"
}

// rateStartKey holds when the user's current rate-limit window began, so a refused
// send can say when pushes are allowed again.
func rateStartKey(realm, user string) string {
	return "pushrate-start:{" + url.QueryEscape(realm) + ":" + url.QueryEscape(devices.NormalizeUser(user)) + "}"
}

// RateLimitError is the ErrRateLimited that Send returns: it says when the user's window
// ends and pushes are allowed again.
type RateLimitError struct {
	// Until is when the next push is allowed.
	Until time.Time
}

func (e *RateLimitError) Error() string {
	return ErrRateLimited.Error() + " (allowed again at " + e.Until.UTC().Format(time.RFC3339) + ")"
}

// Unwrap makes errors.Is(err, ErrRateLimited) hold.
func (e *RateLimitError) Unwrap() error { return ErrRateLimited }

// RateLimit returns the per-user push limit in force (defaults applied).
func (s *Service) RateLimit() RateLimit { return s.cfg.RateLimit }

// newMessageID returns AM's message id shape: prefix, UUID, then epoch milliseconds.
func newMessageID(prefix string, now time.Time) string {
	return prefix + uuid.NewString() + strconv.FormatInt(now.UnixMilli(), 10)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// randIntn returns a uniform integer in [0, n) from crypto/rand.
func randIntn(n int) int {
	limit := ^uint32(0) - ^uint32(0)%uint32(n)
	var b [4]byte
	for {
		rand.Read(b[:])
		if v := binary.BigEndian.Uint32(b[:]); v < limit {
			return int(v % uint32(n))
		}
	}
}

// challengeResponse is what a device must send back: base64(HMAC-SHA256(secret,
// challenge)), in standard base64 as the apps compute it.
func challengeResponse(secret, challenge []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(challenge)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// sameString compares in constant time; for values a forger may probe byte by byte.
func sameString(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func (s *Service) emit(ctx context.Context, e audit.Event) {
	s.au.Emit(ctx, e)
}

// record states.
const (
	statePending    = "pending"
	stateApproved   = "approved"
	stateDenied     = "denied"
	stateFailed     = "failed"
	stateRegistered = "registered"
)

// record kinds, so that a registration id can never be answered as a push or vice versa.
const (
	kindRegister     = "register"
	kindAuthenticate = "authenticate"
)

// message is what the store holds for one push or registration under messageKey.
type message struct {
	Kind    string    `json:"kind"`
	Realm   string    `json:"realm"`
	User    string    `json:"user"`
	FlowID  string    `json:"flow_id"`
	State   string    `json:"state"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	// Challenge is base64 (standard) of the 32-byte challenge.
	Challenge string `json:"challenge"`

	// Authentication only.
	DeviceID string `json:"device_id,omitempty"`
	Type     Type   `json:"type,omitempty"`
	Number   int    `json:"number,omitempty"` // the expected number, challenge type only
	Chosen   int    `json:"chosen,omitempty"` // the number the device sent
	Mismatch bool   `json:"mismatch,omitempty"`
	JWT      string `json:"jwt,omitempty"` // the signed push, for poll mode
	// TxID and TxHash bind the push to a transaction (see Transaction).
	TxID   string `json:"tx_id,omitempty"`
	TxHash string `json:"tx_hash,omitempty"`

	// Registration only.
	Issuer       string `json:"issuer,omitempty"`
	SecretSealed string `json:"secret_sealed,omitempty"`
	DeviceName   string `json:"device_name,omitempty"`
}

// ttlFor is the store TTL for a record expiring at exp: until exp plus grace, and at
// least a second so that a record never gets the "no expiry" TTL of zero.
func (s *Service) ttlFor(exp time.Time) time.Duration {
	return max(exp.Sub(s.now())+grace, time.Second)
}

func (s *Service) getMessage(ctx context.Context, id string) (*message, uint64, error) {
	it, err := s.st.Get(ctx, messageKey(id))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, 0, err
		}
		return nil, 0, fmt.Errorf("push: read message %s: %w", id, err)
	}
	var m message
	if err := json.Unmarshal(it.Value, &m); err != nil {
		return nil, 0, fmt.Errorf("push: decode message %s: %w", id, err)
	}
	return &m, it.Rev, nil
}

// casMessage writes m over revision rev, keeping its TTL in step with its expiry.
func (s *Service) casMessage(ctx context.Context, id string, m *message, rev uint64) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("push: encode message %s: %w", id, err)
	}
	if _, err := s.st.CAS(ctx, messageKey(id), b, rev, s.ttlFor(m.Expires)); err != nil {
		return fmt.Errorf("push: write message %s: %w", id, err)
	}
	return nil
}

// pendingEntry is one message in a device's poll index.
type pendingEntry struct {
	ID      string    `json:"id"`
	Expires time.Time `json:"expires"`
}

// maxPending bounds a device's poll index; the rate limit keeps real ones far smaller.
const maxPending = 32

// updatePending applies fn to the device's poll index through store.Update, dropping
// expired entries on the way.
func (s *Service) updatePending(ctx context.Context, device string, fn func([]pendingEntry) []pendingEntry) error {
	_, err := store.Update(ctx, s.st, pendingKey(device), func(cur []byte, exists bool) ([]byte, time.Duration, error) {
		var list []pendingEntry
		if exists && json.Unmarshal(cur, &list) != nil {
			list = nil // a corrupt index only costs poll visibility; rebuild it
		}
		now := s.now()
		live := list[:0:0]
		for _, e := range list {
			if now.Before(e.Expires) {
				live = append(live, e)
			}
		}
		live = fn(live)
		if len(live) > maxPending {
			live = live[len(live)-maxPending:]
		}
		latest := now
		for _, e := range live {
			if e.Expires.After(latest) {
				latest = e.Expires
			}
		}
		b, err := json.Marshal(live)
		if err != nil {
			return nil, 0, fmt.Errorf("push: encode poll index: %w", err)
		}
		return b, s.ttlFor(latest), nil
	})
	if err != nil {
		return fmt.Errorf("push: update poll index of %s: %w", device, err)
	}
	return nil
}

// dropPending removes id from the device's poll index. It is best effort: a stale entry
// is filtered out at the next poll anyway, because its record is no longer pending.
func (s *Service) dropPending(ctx context.Context, device, id string) {
	err := s.updatePending(context.WithoutCancel(ctx), device, func(l []pendingEntry) []pendingEntry {
		out := l[:0]
		for _, e := range l {
			if e.ID != id {
				out = append(out, e)
			}
		}
		return out
	})
	if err != nil {
		s.log.WarnContext(ctx, "push: could not drop message from poll index", "message_id", id, "device_id", device, "err", err)
	}
}
