package door

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/engine"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/sessions"
	"github.com/arbor-auth/arbor/store"
)

// Audit event types the core writes.
const (
	// EventSessionCreated is a session a login created.
	EventSessionCreated = "session.created"
	// EventSessionRefused is a login whose journey succeeded but that the core refused.
	EventSessionRefused = "session.refused"
	// EventAttested is a successful flow without a session whose level counts factors
	// the caller vouched for (Start.Attested): the verdict the door answers with rests
	// on them, so it is recorded with them.
	EventAttested = "login.attested"
)

// hookArgs is what a Start or Continue tells the success hook.
type hookArgs struct {
	door      string
	client    Client
	noSession bool
	life      Lifetime
	// attested are the caller's factors (Start.Attested); only with noSession.
	attested []nodes.Factor
}

// KeyRemember is the shared-state flag a journey sets (to true) to ask that the session
// cookie outlive the browser session; without it the cookie has no Expires.
const KeyRemember = nodes.KeyRemember

// login is one Start or Continue's part in the engine's step: the success hook with
// what it needs, the read-ahead, the outcome they fill, and the commit the hook
// returns, in one allocation; each was one of its own, with the closures that bound
// them, ten allocations on a login's last step (README, Speed, "Fifth round:
// allocations").
type login struct {
	c     *Core
	a     hookArgs
	out   Outcome
	ahead nodes.ReadAhead
	// aheadp is &ahead when the step reads ahead, nil otherwise (Core.readAhead).
	aheadp *nodes.ReadAhead
	// Set by success for its commit's Finish and Undo.
	ctx    context.Context
	res    *engine.Result
	ev     audit.Event
	level  int
	p      *sessions.Pending
	commit engine.Commit
}

// hook appends to opts the engine success hook that applies the session rules and prepares the
// session, whose record and index entry the engine writes in one batch with the flow's
// final write (engine.Commit): a store failure leaves the step retryable, and if the
// engine loses the race the session is ended again. The session is audited and logged
// once that write won. It appends the read-ahead option and the hook as two options
// rather than one engine.Options of them (two allocations fewer per request), and
// returns the outcome the hook fills.
func (c *Core) hook(opts []engine.StepOption, a hookArgs) ([]engine.StepOption, *Outcome) {
	l := &login{c: c, a: a}
	// The user's second factors are read in the batch that checks a password, if the
	// step checks one (see requiredLevelAhead).
	l.aheadp = c.readAhead(&l.ahead)
	return append(opts, engine.ReadAhead(l.aheadp), engine.OnSuccess(l.success)), &l.out
}

// success is the success hook (see hook).
func (l *login) success(ctx context.Context, res *engine.Result) (*engine.Commit, error) {
	c, a, out := l.c, l.a, &l.out
	doorName, cl, noSession, life := a.door, a.client, a.noSession, a.life
	ahead := l.aheadp
	l.ctx, l.res = ctx, res
	ev := &l.ev
	*ev = audit.Event{Realm: res.Realm, User: res.Username, Journey: res.Journey, FlowID: res.FlowID, Client: cl.IP,
		Details: map[string]any{"door": doorName}}
	if len(a.attested) > 0 {
		if !noSession {
			// Start and Continue refuse this before the engine runs; a hook is
			// never the place a session rests on a caller's word.
			return nil, ErrAttestedSession
		}
		ev.Details["attested"] = a.attested
	}
	refuse := func(reason, msg string) (*engine.Commit, error) {
		out.Refused = &RefusedError{Reason: reason, Message: msg}
		ev.Type, ev.Reason = EventSessionRefused, reason
		c.emit(ctx, *ev)
		c.log.Warn("login refused", "door", doorName, "reason", reason, "realm", res.Realm, "journey", res.Journey,
			"user", TruncateUser(res.Username), "client_ip", cl.IP, "flow_id", res.FlowID, "attested", a.attested)
		return nil, nil
	}
	if res.Username == "" {
		return refuse(ReasonNoUser, "This sign-in journey finished without identifying a user, so no session was started.")
	}
	factors := res.Shared.Factors()
	level := Level(append(slices.Clone(factors), a.attested...))
	need, err := c.requiredLevelAhead(ctx, ahead, res.Realm, res.Username)
	if err != nil {
		return nil, err
	}
	restricted := false
	if level < need {
		if c.Policy(res.Realm).MFABypass != BypassRestricted {
			return refuse(ReasonSecondFactor, "This account has a second factor: sign in with a journey that asks for it.")
		}
		restricted = true
	}
	ev.Details["factors"], ev.Details["level"] = factors, level
	if restricted {
		ev.Details["restricted"] = true
	}
	out.Restricted = restricted
	if noSession {
		if len(a.attested) > 0 {
			ev.Type = EventAttested
			c.emit(ctx, *ev)
			c.log.Info("login verified with attested factors", "door", doorName, "flow_id", res.FlowID,
				"user", TruncateUser(res.Username), "realm", res.Realm, "factors", factors, "attested", a.attested, "level", level)
		}
		return nil, nil
	}
	remember, _ := res.Shared[KeyRemember].(bool)
	p, err := c.d.Sessions.Prepare(sessions.Grant{Username: res.Username, Realm: res.Realm, Journey: res.Journey,
		Factors: factors, Level: level, Restricted: restricted, Remember: remember, Props: sessionProps(doorName, cl),
		IdleTimeout: life.Idle, MaxLifetime: life.Max})
	if err != nil {
		return nil, err
	}
	l.p, l.level = p, level
	l.commit = engine.Commit{Ops: p.Ops(), Finish: l.finish, Undo: l.undo}
	return &l.commit, nil
}

// finish is the commit's Finish: the session is handed out, audited and logged.
func (l *login) finish(ctx context.Context, ops []store.Op) error {
	if err := l.p.Finish(ctx, ops); err != nil {
		return err
	}
	c, res, ev := l.c, l.res, &l.ev
	l.out.Token, l.out.Session = l.p.Token, l.p.Session
	ev.Type, ev.Session = EventSessionCreated, l.p.Session.Handle
	c.emit(ctx, *ev)
	// Its arguments are boxed before slog looks at the level: 5 allocations
	// per login at --log-level warn without this check.
	if c.log.Enabled(ctx, slog.LevelInfo) {
		c.log.Info("session created", "door", l.a.door, "session_id", l.p.Session.Handle, "flow_id", res.FlowID,
			"user", TruncateUser(res.Username), "realm", res.Realm, "level", l.level)
	}
	return nil
}

// undo is the commit's Undo: the session is ended again.
func (l *login) undo() { l.p.Undo(l.ctx) }

// Session properties the core records, so that a user (their sessions on the account
// page) and an admin can tell one session from another.
const (
	PropDoor  = "door"
	PropIP    = "ip"
	PropAgent = "agent"
)

// maxAgent bounds the user agent kept with a session: enough to tell browsers apart, no
// room for a client to grow the store.
const maxAgent = 160

func sessionProps(doorName string, cl Client) map[string]string {
	p := map[string]string{PropDoor: doorName}
	if cl.IP != "" {
		p[PropIP] = cl.IP
	}
	if ua := strings.ToValidUTF8(cl.UserAgent, ""); ua != "" {
		if len(ua) > maxAgent {
			ua = strings.ToValidUTF8(ua[:maxAgent], "")
		}
		p[PropAgent] = ua
	}
	return p
}

// Validate returns the session of token if it is valid in realm and its account is still
// active (one extra store read): a session of another realm, or of a locked or deleted
// account, is sessions.ErrInvalid.
func (c *Core) Validate(ctx context.Context, realm, token string) (*sessions.Session, error) {
	s, _, err := c.ValidateUser(ctx, realm, token)
	return s, err
}

// ValidateUser is Validate that also returns the session's account, which Validate reads
// anyway, for doors that pass the user's attributes on (forward-auth's groups header).
func (c *Core) ValidateUser(ctx context.Context, realm, token string) (*sessions.Session, *identity.User, error) {
	s, err := c.d.Sessions.Validate(ctx, token)
	if err != nil {
		return nil, nil, err
	}
	u, err := c.checkSession(ctx, realm, s)
	if err != nil {
		return nil, nil, err
	}
	return s, u, nil
}

// Refresh is Validate that also extends the session's idle timeout (browser activity and
// REST refresh alike).
func (c *Core) Refresh(ctx context.Context, realm, token string) (*sessions.Session, error) {
	s, _, err := c.RefreshUser(ctx, realm, token)
	return s, err
}

// RefreshUser is Refresh that also returns the session's account, which Refresh reads
// anyway, for pages that go on to check the account (AuthorizeUser).
func (c *Core) RefreshUser(ctx context.Context, realm, token string) (*sessions.Session, *identity.User, error) {
	s, err := c.d.Sessions.Validate(ctx, token)
	if err != nil {
		return nil, nil, err
	}
	u, err := c.checkSession(ctx, realm, s)
	if err != nil {
		return nil, nil, err
	}
	if s, err = c.d.Sessions.Refresh(ctx, token); err != nil {
		return nil, nil, err
	}
	return s, u, nil
}

// EventSessionRenewed is a session whose token a door replaced (the FortiGate-style
// door's PUT): the old token stopped working.
const EventSessionRenewed = "session.renewed"

// Renew replaces the token of a session valid in realm (as Validate checks it) with a
// new one, audits it, and returns the new token and the session. The old token stops
// working at once.
func (c *Core) Renew(ctx context.Context, doorName, realm, token string, cl Client) (string, *sessions.Session, error) {
	if _, err := c.Validate(ctx, realm, token); err != nil {
		return "", nil, err
	}
	fresh, s, err := c.d.Sessions.Renew(ctx, token)
	if err != nil {
		return "", nil, err
	}
	c.emit(ctx, audit.Event{Type: EventSessionRenewed, Realm: s.Realm, User: s.Username, Session: s.Handle, Client: cl.IP,
		Details: map[string]any{"door": doorName}})
	return fresh, s, nil
}

// AnyRealm makes Validate and Refresh accept a session of any realm, for pages that
// serve every realm's users (the account pages).
const AnyRealm = "*"

// checkSession returns the account of s if s is valid in realm and the account active.
func (c *Core) checkSession(ctx context.Context, realm string, s *sessions.Session) (*identity.User, error) {
	if realm != AnyRealm && s.Realm != realm {
		return nil, sessions.ErrInvalid
	}
	u, err := c.d.Users.Get(ctx, s.Realm, s.Username)
	if errors.Is(err, identity.ErrNotFound) {
		return nil, sessions.ErrInvalid
	}
	if err != nil {
		return nil, fmt.Errorf("check account of session %s: %w", s.Handle, err)
	}
	if u.Status != identity.StatusActive {
		// The account was locked or disabled since, by a path that could not end its
		// sessions itself: end all of them now, not only this one.
		if _, err := c.EndSessions(ctx, s.Realm, s.Username, "", "account "+string(u.Status)); err != nil {
			c.log.Warn("could not end a locked account's sessions", "realm", s.Realm, "user", TruncateUser(s.Username), "err", err)
		}
		return nil, sessions.ErrInvalid
	}
	return u, nil
}

// EndOtherSessions ends every session of sess's user except sess itself, after a
// factor or password change through a door, and audits it with reason.
func (c *Core) EndOtherSessions(ctx context.Context, doorName string, sess *sessions.Session, cl Client, reason string) error {
	_, err := c.endSessions(ctx, audit.Event{Realm: sess.Realm, User: sess.Username, Session: sess.Handle, Client: cl.IP,
		Reason: reason, Details: map[string]any{"door": doorName}})
	return err
}

// UserSessions lists user's live sessions in realm, oldest first, for the account page
// and the admin API (handles, never tokens).
func (c *Core) UserSessions(ctx context.Context, realm, user string) ([]sessions.Session, error) {
	return c.d.Sessions.List(ctx, realm, user)
}

// EndSession ends user's session whose handle is handle (by the user elsewhere, or by
// an admin), audits it with reason and reports whether there was one.
func (c *Core) EndSession(ctx context.Context, doorName, realm, user, handle string, cl Client, reason string) (bool, error) {
	ended, err := c.d.Sessions.End(ctx, realm, user, handle)
	if err != nil {
		return false, fmt.Errorf("end session of %s: %w", TruncateUser(user), err)
	}
	if ended {
		c.emit(ctx, audit.Event{Type: audit.SessionLogout, Realm: realm, User: user, Session: handle, Client: cl.IP,
			Reason: reason, Details: map[string]any{"door": doorName}})
	}
	return ended, nil
}

// The door core is what nodes end sessions through.
var _ nodes.SessionEnder = (*Core)(nil)

// EndSessions ends every session of user in realm except the one whose handle is keep
// (empty keeps none), audits it with reason and returns how many it ended. It is the
// one place sessions end for a changed account: a lock or disable (all of them), a
// password or factor change inside a flow (nodes reach it as nodes.SessionEnder).
func (c *Core) EndSessions(ctx context.Context, realm, user, keep, reason string) (int, error) {
	return c.endSessions(ctx, audit.Event{Realm: realm, User: user, Session: keep, Reason: reason, Details: map[string]any{}})
}

// endSessions ends ev.User's sessions but ev.Session and emits ev as a logout event
// when any ended.
func (c *Core) endSessions(ctx context.Context, ev audit.Event) (int, error) {
	n, err := c.d.Sessions.EndAll(ctx, ev.Realm, ev.User, ev.Session)
	if err != nil {
		return 0, fmt.Errorf("end sessions of %s: %w", TruncateUser(ev.User), err)
	}
	if n > 0 {
		ev.Type = audit.SessionLogout
		ev.Details["sessions_ended"] = n
		c.emit(ctx, ev)
	}
	return n, nil
}

// Logout ends the session of token if it belongs to realm (or realm is AnyRealm) and
// audits it. It returns sessions.ErrInvalid if there was none. The account's status is
// not checked: a locked user's session can always be ended.
func (c *Core) Logout(ctx context.Context, doorName, realm, token string, cl Client, reason string) (*sessions.Session, error) {
	if realm != AnyRealm {
		s, err := c.d.Sessions.Validate(ctx, token)
		if err != nil {
			return nil, err
		}
		if s.Realm != realm {
			return nil, sessions.ErrInvalid
		}
	}
	s, err := c.d.Sessions.Logout(ctx, token)
	if err != nil {
		return nil, err
	}
	c.emit(ctx, audit.Event{Type: audit.SessionLogout, Realm: s.Realm, User: s.Username, Session: s.Handle, Client: cl.IP,
		Reason: reason, Details: map[string]any{"door": doorName}})
	return s, nil
}
