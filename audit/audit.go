// Package audit records security events: every login success and failure, every push
// sent, approved, denied or expired, every rejected device reply. Events go to the
// structured log (slog, with audit=true) and to any sinks a caller adds, such as tests or
// the metrics exporter.
//
// Events never carry secrets: no passwords, codes, device secrets or session tokens.
package audit

import (
	"context"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"
)

// Event types. They are stable ids: dashboards and alerts key on them.
const (
	LoginSuccess      = "login.success"
	LoginFailure      = "login.failure"
	AccountLocked     = "account.locked"
	PushSent          = "push.sent"
	PushApproved      = "push.approved"
	PushDenied        = "push.denied"
	PushExpired       = "push.expired"
	PushMismatch      = "push.number_mismatch"
	PushRejected      = "push.reply_rejected"
	PushRateLimited   = "push.rate_limited"
	PushFailed        = "push.send_failed"
	DeviceRegistered  = "device.registered"
	DeviceRevoked     = "device.revoked"
	RecoveryCodeUsed  = "recovery_code.used"
	RecoveryCodeBad   = "recovery_code.rejected"
	RecoveryCodesNew  = "recovery_codes.generated"
	MFAOptOut         = "mfa.opt_out"
	SessionLogout     = "session.logout"
	JourneyNodeFailed = "journey.node_error"
	// ThrottleRefused is a secret not checked because guessing it is being throttled;
	// the client was answered as for a wrong secret.
	ThrottleRefused = "throttle.refused"
	// ThrottleUserDelayed is an account-wide delay starting or growing: failures from
	// many addresses passed the per-user threshold. It expires by itself.
	ThrottleUserDelayed = "throttle.user_delayed"
)

// One-time code event types: a code accepted, a wrong (or throttled) code, a right code
// refused because its time step was already used, and a push withdrawn because a code
// was typed instead.
const (
	OTPAccepted = "otp.accepted"
	OTPRejected = "otp.rejected"
	OTPReused   = "otp.reused"
	// PushCancelled: a push withdrawn because the login went on without it.
	PushCancelled = "push.cancelled"
)

// Token PIN event types (the token_pin node): a PIN that matched one or more of the
// user's devices, and one that matched none (or was throttled). Never the PIN itself.
const (
	PINAccepted = "pin.accepted"
	PINRejected = "pin.rejected"
)

// Account event types: a password a user changed in a journey (password_change), or a
// new password the journey refused (reason says which rule).
const (
	PasswordChanged = "password.changed"
	PasswordRefused = "password.refused"
)

// Event is one audit record.
type Event struct {
	Time    time.Time      `json:"time"`
	Type    string         `json:"type"`
	Realm   string         `json:"realm,omitempty"`
	User    string         `json:"user,omitempty"`
	Journey string         `json:"journey,omitempty"`
	FlowID  string         `json:"flow_id,omitempty"`
	Node    string         `json:"node,omitempty"`
	Session string         `json:"session_id,omitempty"`
	Message string         `json:"message_id,omitempty"`
	Client  string         `json:"client_ip,omitempty"`
	Reason  string         `json:"reason,omitempty"`
	Details map[string]any `json:"details,omitempty"`
}

// Logger emits audit events. The zero value is not usable; use New. A nil *Logger
// discards events, so optional wiring stays simple.
type Logger struct {
	log   *slog.Logger
	mu    sync.RWMutex
	sinks []func(Event)
}

// New returns a Logger writing to log (slog.Default() if nil).
func New(log *slog.Logger) *Logger {
	if log == nil {
		log = slog.Default()
	}
	return &Logger{log: log}
}

// AddSink registers fn to receive every later event. fn must not block.
func (l *Logger) AddSink(fn func(Event)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sinks = append(l.sinks, fn)
}

// Emit records e, stamping its time if unset. Every sink gets every event; the log
// record is only built when the logger is enabled for Info.
func (l *Logger) Emit(ctx context.Context, e Event) {
	if l == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if l.log.Enabled(ctx, slog.LevelInfo) {
		l.write(ctx, &e)
	}
	l.mu.RLock()
	sinks := l.sinks
	l.mu.RUnlock()
	for _, s := range sinks {
		s(e)
	}
}

// maxLoggedUser bounds a user name in logs.
const maxLoggedUser = 32

// TruncateUser shortens a user name for logs: at most 32 bytes, cut on a rune boundary
// and marked with "…". A typed "user name" may be a password pasted into the wrong
// field, and an unbounded one floods logs. Every log line that names a user goes
// through it (the audit log, the engine, the doors).
func TruncateUser(u string) string {
	if len(u) <= maxLoggedUser {
		return u
	}
	cut := maxLoggedUser
	for cut > 0 && !utf8.RuneStart(u[cut]) {
		cut--
	}
	return u[:cut] + "…"
}

// write logs e as one structured record with audit=true.
func (l *Logger) write(ctx context.Context, e *Event) {
	attrs := make([]slog.Attr, 0, 12)
	attrs = append(attrs, slog.Bool("audit", true), slog.String("event", e.Type))
	add := func(k, v string) {
		if v != "" {
			attrs = append(attrs, slog.String(k, v))
		}
	}
	add("realm", e.Realm)
	add("user", TruncateUser(e.User))
	add("journey", e.Journey)
	add("flow_id", e.FlowID)
	add("node", e.Node)
	add("session_id", e.Session)
	add("message_id", e.Message)
	add("client_ip", e.Client)
	add("reason", e.Reason)
	if len(e.Details) > 0 {
		attrs = append(attrs, slog.Any("details", e.Details))
	}
	l.log.LogAttrs(ctx, slog.LevelInfo, "audit", attrs...)
}

// Recorder is a sink that keeps events in memory, for tests and the admin pages.
type Recorder struct {
	mu     sync.Mutex
	events []Event
}

// Sink returns the function to pass to AddSink.
func (r *Recorder) Sink() func(Event) {
	return func(e Event) {
		r.mu.Lock()
		r.events = append(r.events, e)
		r.mu.Unlock()
	}
}

// Events returns a copy of the events recorded so far.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// Count returns how many recorded events have type typ.
func (r *Recorder) Count(typ string) int {
	n := 0
	for _, e := range r.Events() {
		if e.Type == typ {
			n++
		}
	}
	return n
}
