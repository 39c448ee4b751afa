package basic_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/nodes/nodetest"
	"github.com/arbor-auth/arbor/store/storetest"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/basic"
	"github.com/arbor-auth/arbor/sessions"
	"github.com/arbor-auth/arbor/store/embedded"
)

// fixture is a registry with the basic family and real services over an in-memory
// embedded store, which a test can take down.
type fixture struct {
	reg      *nodes.Registry
	deps     *nodes.Deps
	users    *identity.Store
	rec      *audit.Recorder
	st       *storetest.Flaky
	sessions *sessions.Manager
	ended    *nodetest.SessionEnder
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	emb, err := embedded.Open(embedded.Options{})
	if err != nil {
		t.Fatalf("embedded.Open: %v", err)
	}
	t.Cleanup(func() { emb.Close() })
	st := storetest.NewFlaky(emb)
	users := identity.New(st, identity.Options{Params: identity.Params{MemoryKiB: 8, Iterations: 1, Parallelism: 1}, Logger: discard()})
	rec := &audit.Recorder{}
	al := audit.New(discard())
	al.AddSink(rec.Sink())
	r := nodes.NewRegistry()
	basic.Register(r)
	sm := sessions.New(emb, sessions.Config{IdleTimeout: time.Hour, MaxLifetime: time.Hour})
	ended := &nodetest.SessionEnder{M: sm}
	return &fixture{
		reg:      r,
		deps:     &nodes.Deps{Store: st, Users: users, Audit: al, Log: discard(), Sessions: ended},
		users:    users,
		rec:      rec,
		st:       st,
		sessions: sm,
		ended:    ended,
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// buildAt builds a node of type typ from raw as node "n" of journey "j", with config
// pointer /nodes/n/config.
func (f *fixture) build(typ, raw string) (nodes.Node, []nodes.Outcome, error) {
	return f.buildWith(&nodes.Build{Deps: f.deps, Registry: f.reg, Journey: "j", NodeID: "n", Pointer: "/nodes/n/config"}, typ, raw)
}

func (f *fixture) buildWith(b *nodes.Build, typ, raw string) (nodes.Node, []nodes.Outcome, error) {
	var msg json.RawMessage
	if raw != "" {
		msg = json.RawMessage(raw)
	}
	return f.reg.Build(typ, msg, b)
}

func (f *fixture) mustBuild(t *testing.T, typ, raw string) nodes.Node {
	t.Helper()
	n, _, err := f.build(typ, raw)
	if err != nil {
		t.Fatalf("build %s %s: %v", typ, raw, err)
	}
	return n
}

// addUser creates a user with password pw.
func (f *fixture) addUser(t *testing.T, name, pw string) {
	t.Helper()
	ctx := context.Background()
	if err := f.users.Create(ctx, &identity.User{Realm: "/", Username: name}); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	if err := f.users.SetPassword(ctx, "/", name, pw); err != nil {
		t.Fatalf("set password of %s: %v", name, err)
	}
}

var testNow = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// newCtx returns a fresh visit of node "n" of journey "j" in realm "/".
func newCtx() *nodes.Context {
	return &nodes.Context{
		Ctx:       context.Background(),
		FlowID:    "flow1",
		Journey:   "j",
		NodeID:    "n",
		Realm:     "/",
		Shared:    nodes.State{},
		Transient: nodes.State{},
		Request:   nodes.Request{ClientIP: "192.0.2.7", UserAgent: "test-agent", Locales: []string{"en"}},
		Now:       testNow,
		Log:       discard(),
	}
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

// noPassword fails if a password reached shared state, anywhere in it.
func noPassword(t *testing.T, s nodes.State, password string) {
	t.Helper()
	if s.Has(nodes.KeyPassword) {
		t.Errorf("shared state has %q", nodes.KeyPassword)
	}
	b, _ := json.Marshal(s)
	if password != "" && strings.Contains(string(b), password) {
		t.Errorf("shared state holds the password: %s", b)
	}
}
