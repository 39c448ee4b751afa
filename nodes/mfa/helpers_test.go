package mfa_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/nodes/nodetest"
	"github.com/arbor-auth/arbor/store/storetest"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/authenticator"
	"github.com/arbor-auth/arbor/authenticator/authtest"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/mfa"
	"github.com/arbor-auth/arbor/push"
	"github.com/arbor-auth/arbor/sessions"
	"github.com/arbor-auth/arbor/store/embedded"
)

// fixture is a registry with the push MFA family and a real push server (authtest)
// over an in-memory embedded store that a test can take down. Node audit events and
// the push service's go to the same recorder, env.Audit.
type fixture struct {
	env   *authtest.Env
	reg   *nodes.Registry
	deps  *nodes.Deps
	users *identity.Store
	st    *storetest.Flaky
	// sessions holds the users' sessions; ended is the door core's SessionEnder over it.
	sessions *sessions.Manager
	ended    *nodetest.SessionEnder
}

// newFixture starts a push server configured with cfg (PublicURL and Now are filled in).
func newFixture(t *testing.T, cfg push.Config) *fixture {
	t.Helper()
	// The embedded store runs on the Env's manual clock, which exists only once New
	// has run: bind it late.
	var clock atomic.Pointer[authtest.Clock]
	emb, err := embedded.Open(embedded.Options{Now: func() time.Time {
		if c := clock.Load(); c != nil {
			return c.Now()
		}
		return authtest.NewClock().Now()
	}})
	if err != nil {
		t.Fatalf("embedded.Open: %v", err)
	}
	t.Cleanup(func() { emb.Close() })
	st := storetest.NewFlaky(emb)
	env := authtest.New(t, authtest.Options{Store: st, Config: cfg})
	clock.Store(env.Clock)

	al := audit.New(discard())
	al.AddSink(env.Audit.Sink())
	users := identity.New(st, identity.Options{Params: identity.Params{MemoryKiB: 8, Iterations: 1, Parallelism: 1}, Logger: discard()})
	r := nodes.NewRegistry()
	mfa.Register(r)
	sm := sessions.New(emb, sessions.Config{IdleTimeout: time.Hour, MaxLifetime: time.Hour})
	ended := &nodetest.SessionEnder{M: sm}
	return &fixture{
		env: env,
		reg: r,
		deps: &nodes.Deps{Store: st, Users: users, Keys: env.Ring, Audit: al, Log: discard(),
			Push: env.Push, Devices: env.Devices, Sessions: ended},
		users:    users,
		st:       st,
		sessions: sm,
		ended:    ended,
	}
}

// signIn gives user n sessions, as earlier logins elsewhere would have.
func (f *fixture) signIn(t *testing.T, user string, n int) {
	t.Helper()
	for range n {
		if _, _, err := f.sessions.Grant(context.Background(), sessions.Grant{Username: user, Realm: "/"}); err != nil {
			t.Fatal(err)
		}
	}
}

// sessionCount returns how many sessions user has.
func (f *fixture) sessionCount(t *testing.T, user string) int {
	t.Helper()
	l, err := f.sessions.List(context.Background(), "/", user)
	if err != nil {
		t.Fatal(err)
	}
	return len(l)
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// build builds a node of type typ from raw as node "n" of journey "j", with config
// pointer /nodes/n/config.
func (f *fixture) build(typ, raw string) (nodes.Node, []nodes.Outcome, error) {
	return buildWith(f.reg, &nodes.Build{Deps: f.deps, Registry: f.reg, Journey: "j", NodeID: "n", Pointer: "/nodes/n/config"}, typ, raw)
}

func buildWith(r *nodes.Registry, b *nodes.Build, typ, raw string) (nodes.Node, []nodes.Outcome, error) {
	var msg json.RawMessage
	if raw != "" {
		msg = json.RawMessage(raw)
	}
	return r.Build(typ, msg, b)
}

func (f *fixture) mustBuild(t *testing.T, typ, raw string) nodes.Node {
	t.Helper()
	n, _, err := f.build(typ, raw)
	if err != nil {
		t.Fatalf("build %s %s: %v", typ, raw, err)
	}
	return n
}

// newCtx returns a fresh visit of node "n" of journey "j" for alice in realm "/", at
// the push server's clock reading.
func (f *fixture) newCtx() *nodes.Context {
	return &nodes.Context{
		Ctx:       context.Background(),
		FlowID:    "flow1",
		Journey:   "j",
		NodeID:    "n",
		Realm:     "/",
		Shared:    nodes.State{nodes.KeyUsername: "alice"},
		Transient: nodes.State{},
		Request:   nodes.Request{ClientIP: "192.0.2.7", UserAgent: "test-agent", Locales: []string{"en"}},
		Now:       f.env.Now(),
		Log:       discard(),
	}
}

// next turns ctx into the flow's next request after the client answered sent with vals
// (see answer): shared state goes through the flow store, transient state is new, and
// the clock is read again.
func (f *fixture) next(t *testing.T, ctx *nodes.Context, sent []nodes.Callback, vals ...any) {
	t.Helper()
	ctx.Shared = roundTrip(t, ctx.Shared)
	ctx.Transient = nodes.State{}
	ctx.Callbacks = answer(sent, vals...)
	ctx.Now = f.env.Now()
}

// register registers a reference authenticator for user in realm "/".
func (f *fixture) register(t *testing.T, user string) *authenticator.Authenticator {
	t.Helper()
	a, _ := f.env.Register(t, "/", user)
	return a
}

// skip returns user's push skip state.
func (f *fixture) skip(t *testing.T, user, method string) devices.Skip {
	t.Helper()
	s, err := f.env.Devices.SkipState(context.Background(), "/", user, method)
	if err != nil {
		t.Fatalf("SkipState: %v", err)
	}
	return s
}

// Shared helpers for node tests (see nodes/nodetest).
var (
	answer     = nodetest.Answer
	roundTrip  = nodetest.RoundTrip
	types      = nodetest.Types
	outcomeIDs = nodetest.OutcomeIDs
	problemsOf = nodetest.Problems
	run        = nodetest.Run
)

// wantProblems checks that building typ from raw fails with exactly want.
func wantProblems(t *testing.T, f *fixture, typ, raw string, want ...string) {
	t.Helper()
	_, _, err := f.build(typ, raw)
	if err == nil {
		t.Fatalf("build %s %s: no error, want %v", typ, raw, want)
	}
	if got := problemsOf(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("build %s %s:\n got %q\nwant %q\n(%v)", typ, raw, got, want, err)
	}
}

// runErr runs n expecting an error, and returns it.
func runErr(t *testing.T, n nodes.Node, ctx *nodes.Context) error {
	t.Helper()
	act, err := n.Process(ctx)
	if err == nil {
		t.Fatalf("Process = %+v, want an error", act)
	}
	return err
}

// wantOutcome runs n and checks it routes to outcome without asking anything.
func wantOutcome(t *testing.T, n nodes.Node, ctx *nodes.Context, outcome string) nodes.Action {
	t.Helper()
	act := run(t, n, ctx)
	if act.Outcome != outcome || act.Callbacks != nil {
		t.Fatalf("action %+v, want outcome %q", act, outcome)
	}
	return act
}

// wantSend runs n and checks it asks with callbacks of the given types, in order.
func wantSend(t *testing.T, n nodes.Node, ctx *nodes.Context, cbTypes ...string) []nodes.Callback {
	t.Helper()
	act := run(t, n, ctx)
	if act.Outcome != "" || !reflect.DeepEqual(types(act.Callbacks), cbTypes) {
		t.Fatalf("action outcome %q callbacks %v, want callbacks %v", act.Outcome, types(act.Callbacks), cbTypes)
	}
	return act.Callbacks
}

// stateJSON returns s as the flow store would hold it.
func stateJSON(t *testing.T, s nodes.State) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("state does not encode: %v", err)
	}
	return string(b)
}

// jwtClaims decodes the payload of a compact JWS without verifying it.
func jwtClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("JWS payload: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatalf("JWS payload: %v", err)
	}
	return claims
}
