package door

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/engine"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/journeys"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/sessions"
	"github.com/arbor-auth/arbor/store"
)

// Bypass is what a realm does with a login that verified no second factor for a user who
// has one enrolled.
type Bypass string

// The MFA bypass policies.
const (
	// BypassRefuse refuses the login with a clear message (the default).
	BypassRefuse Bypass = "refuse"
	// BypassRestricted grants a restricted session: it signs the user in but cannot
	// manage factors or reach admin pages.
	BypassRestricted Bypass = "restricted"
)

// RealmPolicy is how one realm signs users in.
type RealmPolicy struct {
	// DefaultJourney starts when a door names none (default "login").
	DefaultJourney string
	// StepUpJourney is the journey a signed-in user goes through for a sensitive action
	// (default "push-mfa").
	StepUpJourney string
	// OTPStepUpJourney replaces StepUpJourney for a user whose only second factor is an
	// authenticator app (default "oath-mfa"): a push journey cannot verify them.
	OTPStepUpJourney string
	// MFABypass decides a login below the account's level (default BypassRefuse).
	MFABypass Bypass
}

// Config configures the Core.
type Config struct {
	// Realms lists the realms besides "/" (in any form NormalizeRealm reads).
	Realms []string
	// Policies are per-realm policies keyed by the normalised realm ("/", "/alpha");
	// Default applies to a realm without one.
	Policies map[string]RealmPolicy
	// Default is the policy of a realm not in Policies.
	Default RealmPolicy
	// DisabledJourneys cannot be started by any door.
	DisabledJourneys []string
	// TrustedProxies are the networks whose X-Forwarded-For and X-Forwarded-Proto are
	// believed. Empty: the peer address is the client, whatever the headers say.
	TrustedProxies []string
	// PublicURL is the server's public base URL; an https one makes cookies Secure and
	// turns on HSTS.
	PublicURL string
	// SecureCookies forces cookies Secure.
	SecureCookies bool
	// SuccessURL is where a login with no allowed goto leads (default "/").
	SuccessURL string
	// AllowedRedirects lists the URL prefixes a goto may point to (see AllowedRedirect).
	AllowedRedirects []string
	// FreshFor is how recent a login must be for a sensitive action (default 5m).
	FreshFor time.Duration
}

// Enrollments tells which second factors a user has enrolled. devices.Registry
// implements it for push devices; OATH devices join by implementing it too.
type Enrollments interface {
	// SecondFactors returns the kinds of second factor the user can verify ("push",
	// "otp"), empty if none.
	SecondFactors(ctx context.Context, realm, user string) ([]string, error)
}

// Users reads accounts; *identity.Store implements it.
type Users interface {
	// Get returns the user, or an error wrapping identity.ErrNotFound.
	Get(ctx context.Context, realm, username string) (*identity.User, error)
}

// Deps are the services the Core needs.
type Deps struct {
	Engine   *engine.Engine
	Sessions *sessions.Manager
	Users    Users
	// Enrollments lists users' second factors; nil means nobody has one.
	Enrollments Enrollments
	Audit       *audit.Logger
	Log         *slog.Logger
	// Now is the clock (default time.Now); it must be the sessions' clock.
	Now func() time.Time
}

// Core is the door core. It is safe for concurrent use.
type Core struct {
	cfg      Config
	d        Deps
	realms   map[string]bool
	disabled map[string]bool
	proxies  proxies
	log      *slog.Logger
	// factorsRead is d.Enrollments' FactorsRead, or nil: a method value made once
	// rather than on every request (readAhead).
	factorsRead func(realm, user string) (store.Op, bool)
}

// New returns a Core, or an error naming every bad setting.
func New(cfg Config, d Deps) (*Core, error) {
	if d.Engine == nil || d.Sessions == nil || d.Users == nil {
		return nil, errors.New("door: the engine, sessions and users are required")
	}
	if cfg.SuccessURL == "" {
		cfg.SuccessURL = "/"
	}
	if cfg.FreshFor <= 0 {
		cfg.FreshFor = 5 * time.Minute
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	c := &Core{cfg: cfg, d: d, realms: map[string]bool{"/": true}, disabled: map[string]bool{}, log: d.Log}
	if r, ok := d.Enrollments.(EnrollmentsReader); ok {
		c.factorsRead = r.FactorsRead
	}
	var errs []error
	for _, r := range cfg.Realms {
		n, err := NormalizeRealm(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.realms[n] = true
	}
	policies := map[string]RealmPolicy{}
	for r, p := range cfg.Policies {
		n, err := NormalizeRealm(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := p.check(); err != nil {
			errs = append(errs, fmt.Errorf("realm %s: %w", n, err))
		}
		policies[n] = p
	}
	c.cfg.Policies = policies
	if err := cfg.Default.check(); err != nil {
		errs = append(errs, err)
	}
	for _, j := range cfg.DisabledJourneys {
		c.disabled[j] = true
	}
	var err error
	if c.proxies, err = parseProxies(cfg.TrustedProxies); err != nil {
		errs = append(errs, err)
	}
	for r := range c.realms {
		p := c.Policy(r)
		if c.disabled[p.DefaultJourney] || c.disabled[p.StepUpJourney] {
			errs = append(errs, fmt.Errorf("realm %s: its default journey %q or step-up journey %q is disabled", r, p.DefaultJourney, p.StepUpJourney))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("door: %w", errors.Join(errs...))
	}
	return c, nil
}

func (p RealmPolicy) check() error {
	switch p.MFABypass {
	case "", BypassRefuse, BypassRestricted:
		return nil
	}
	return fmt.Errorf("mfa_bypass %q is not %q or %q", p.MFABypass, BypassRefuse, BypassRestricted)
}

// Policy returns the policy of realm (normalised), defaults filled in.
func (c *Core) Policy(realm string) RealmPolicy {
	p, ok := c.cfg.Policies[realm]
	if !ok {
		p = c.cfg.Default
	}
	if p.DefaultJourney == "" {
		p.DefaultJourney = c.cfg.Default.DefaultJourney
	}
	if p.DefaultJourney == "" {
		p.DefaultJourney = "login"
	}
	if p.StepUpJourney == "" {
		p.StepUpJourney = c.cfg.Default.StepUpJourney
	}
	if p.StepUpJourney == "" {
		p.StepUpJourney = "push-mfa"
	}
	if p.OTPStepUpJourney == "" {
		p.OTPStepUpJourney = c.cfg.Default.OTPStepUpJourney
	}
	if p.OTPStepUpJourney == "" {
		p.OTPStepUpJourney = "oath-mfa"
	}
	if p.MFABypass == "" {
		p.MFABypass = c.cfg.Default.MFABypass
	}
	if p.MFABypass == "" {
		p.MFABypass = BypassRefuse
	}
	return p
}

// ConfigDisabled reports whether the configuration (disabled_journeys) disables journey;
// the store's flag (journeys.Repo.SetEnabled) comes on top of it.
func (c *Core) ConfigDisabled(journey string) bool { return c.disabled[journey] }

// HasRealm reports whether realm (normalised) is served.
func (c *Core) HasRealm(realm string) bool { return c.realms[realm] }

// Realms returns the served realms, sorted.
func (c *Core) Realms() []string {
	out := make([]string, 0, len(c.realms))
	for r := range c.realms {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// Start begins a flow.
type Start struct {
	// Door names the door in audit events and logs ("rest", "web", "radius").
	Door string
	// Realm is the normalised realm.
	Realm string
	// Journey is the journey to run; empty runs the realm's default journey.
	Journey string
	// Client is the request context.
	Client Client
	// NoSession runs the journey without creating a session on success (AM's
	// noSession=true); the session rules still decide whether the login succeeds.
	NoSession bool
	// Lifetime, when not zero, gives the session other timeouts than the server's.
	Lifetime Lifetime
	// Attested are factors the caller vouches for, which the journey does not verify:
	// a door sets them only from its own configuration (the LinOTP-style door's
	// otppin: none, whose gateway checks the password itself, attests pwd). They count
	// in the level like verified factors, are audited (EventAttested) and logged, and
	// are honoured only with NoSession: the answer is a verdict for the caller, never a
	// session, so a start with Attested and a session is refused (ErrAttestedSession).
	Attested []nodes.Factor
	// Seal asks for the first step sealed in Outcome.Sealed instead of stored
	// (engine.SealFirstStep), for a door that hands it to its client and passes it back
	// in Continue.Sealed (the REST door's authId). Doors that name a flow across
	// requests without carrying its step leave it false.
	Seal bool
}

// ErrAttestedSession refuses a Start or Continue that attests factors and asks for a
// session: factors nobody in this server verified may decide a caller's verdict, never
// earn a session.
var ErrAttestedSession = errors.New("door: attested factors are only honoured without a session (NoSession)")

// Lifetime is a door's own session timeouts (the FortiGate-style door's fixed-lifetime
// key, or its cookie's admin idle timeout). Zero fields take the server's; neither goes
// past the server's maximum session lifetime.
type Lifetime struct {
	Idle, Max time.Duration
}

// Continue submits answers to a flow's pending step.
type Continue struct {
	Door    string
	Realm   string
	FlowID  string
	Answers []nodes.Callback
	Client  Client
	// NoSession, Lifetime and Attested are as in Start: a door attests the same
	// factors on every step of a flow.
	NoSession bool
	Lifetime  Lifetime
	Attested  []nodes.Factor
	// Sealed is the flow's sealed first step, when its start gave one (Outcome.Sealed):
	// the engine opens it instead of reading the flow from the store.
	Sealed string
}

// Outcome is where a step left a flow.
type Outcome struct {
	*engine.Result
	// Session and Token are the session a success created (nil with NoSession).
	Session *sessions.Session
	Token   string
	// Refused is set when the journey succeeded but the core refused the login; Status
	// is then engine.Failed and FailureMessage says why.
	Refused *RefusedError
	// Restricted reports a success below the account's level that the realm's
	// mfa_bypass: restricted let through (the session, if any, is restricted). A door
	// that cannot restrict what follows (RADIUS) refuses it.
	Restricted bool
}

// ErrJourneyDisabled reports a start of a journey the configuration disabled, or one
// disabled in the store (journeys.Repo.SetEnabled): it is journeys.ErrDisabled, so one
// errors.Is covers both.
var ErrJourneyDisabled = journeys.ErrDisabled

// ErrUnknownRealm reports a realm this server does not serve.
var ErrUnknownRealm = errors.New("unknown realm")

// RefusedError is a login the core refused although its journey succeeded.
type RefusedError struct {
	// Reason is a stable id: "no_user" or "second_factor_required".
	Reason string
	// Message is for the user.
	Message string
}

// Error returns the message.
func (e *RefusedError) Error() string { return e.Message }

// Refusal reasons.
const (
	ReasonNoUser          = "no_user"
	ReasonSecondFactor    = "second_factor_required"
	ReasonAccountInactive = "account_inactive"
)

// Start starts a flow of s.Journey (or the realm's default) and runs it to its first
// question or its end.
func (c *Core) Start(ctx context.Context, s Start) (*Outcome, error) {
	if !c.realms[s.Realm] {
		return nil, ErrUnknownRealm
	}
	if s.Journey == "" {
		s.Journey = c.Policy(s.Realm).DefaultJourney
	}
	if len(s.Attested) > 0 && !s.NoSession {
		return nil, ErrAttestedSession
	}
	if c.disabled[s.Journey] {
		return nil, fmt.Errorf("start %q: %w", s.Journey, ErrJourneyDisabled)
	}
	var buf [3]engine.StepOption
	opts, out := c.hook(buf[:0], hookArgs{door: s.Door, client: s.Client, noSession: s.NoSession, life: s.Lifetime, attested: s.Attested})
	if s.Seal {
		opts = append(opts, engine.SealFirstStep())
	}
	res, err := c.d.Engine.Start(ctx, engine.StartRequest{Journey: s.Journey, Realm: s.Realm, Request: s.Client.NodeRequest()}, opts...)
	return c.finish(out, res, err)
}

// Continue submits answers to the flow's pending step and runs it on.
func (c *Core) Continue(ctx context.Context, k Continue) (*Outcome, error) {
	if !c.realms[k.Realm] {
		return nil, ErrUnknownRealm
	}
	if len(k.Attested) > 0 && !k.NoSession {
		return nil, ErrAttestedSession
	}
	var buf [3]engine.StepOption
	opts, out := c.hook(buf[:0], hookArgs{door: k.Door, client: k.Client, noSession: k.NoSession, life: k.Lifetime, attested: k.Attested})
	if k.Sealed != "" {
		opts = append(opts, engine.FromSealed(k.Sealed))
	}
	res, err := c.d.Engine.Continue(ctx, k.FlowID, k.Realm, k.Answers, k.Client.NodeRequest(), opts...)
	return c.finish(out, res, err)
}

// Pending returns what the flow waits on (engine.Engine.Pending), for a door whose
// clients name a flow without its step.
func (c *Core) Pending(ctx context.Context, realm, flowID string) ([]engine.Pending, error) {
	if !c.realms[realm] {
		return nil, ErrUnknownRealm
	}
	return c.d.Engine.Pending(ctx, flowID, realm)
}

func (c *Core) finish(out *Outcome, res *engine.Result, err error) (*Outcome, error) {
	if err != nil {
		return nil, err
	}
	out.Result = res
	if out.Refused != nil && res.Status == engine.Succeeded {
		// The engine recorded the flow as finished; to the door it is a failure.
		r := *res
		r.Status, r.FailureMessage = engine.Failed, out.Refused.Message
		out.Result = &r
	}
	return out, nil
}

// RequiredJourneyError says a journey is one a realm's policy names (its default,
// step-up or OTP step-up journey), so it must stay enabled and may not be deleted.
type RequiredJourneyError struct {
	Journey, Realm, Role string
}

// Error says which realm needs the journey, and as what.
func (e *RequiredJourneyError) Error() string {
	return fmt.Sprintf("journey %q is the %s journey of realm %s; configure another one first", e.Journey, e.Role, e.Realm)
}

// RequiredBy returns a *RequiredJourneyError if a served realm's policy names journey,
// nil otherwise: every door that disables or deletes journeys (the admin API, AM's
// trees endpoints) asks here, so none can leave a realm without its sign-in.
func (c *Core) RequiredBy(journey string) error {
	for _, r := range c.Realms() {
		p := c.Policy(r)
		for _, x := range []struct{ name, role string }{
			{p.DefaultJourney, "default"}, {p.StepUpJourney, "step-up"}, {p.OTPStepUpJourney, "OTP step-up"},
		} {
			if x.name == journey {
				return &RequiredJourneyError{Journey: journey, Realm: r, Role: x.role}
			}
		}
	}
	return nil
}
