package basic_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/basic"
	"github.com/arbor-auth/arbor/store"
	"github.com/arbor-auth/arbor/store/embedded"
)

// fixture is a registry with the basic family and real services over an in-memory
// embedded store, which a test can take down.
type fixture struct {
	reg   *nodes.Registry
	deps  *nodes.Deps
	users *identity.Store
	rec   *audit.Recorder
	st    *flakyStore
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	emb, err := embedded.Open(embedded.Options{})
	if err != nil {
		t.Fatalf("embedded.Open: %v", err)
	}
	t.Cleanup(func() { emb.Close() })
	st := &flakyStore{Store: emb}
	users := identity.New(st, identity.Options{Params: identity.Params{MemoryKiB: 8, Iterations: 1, Parallelism: 1}, Logger: discard()})
	rec := &audit.Recorder{}
	al := audit.New(discard())
	al.AddSink(rec.Sink())
	r := nodes.NewRegistry()
	basic.Register(r)
	return &fixture{
		reg:   r,
		deps:  &nodes.Deps{Store: st, Users: users, Audit: al, Log: discard()},
		users: users,
		rec:   rec,
		st:    st,
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

// answer returns what the engine hands back to a node after the client answered sent:
// each callback's type and inputs, the main input of the i-th input-bearing callback
// replaced by vals[i] (callbacks without inputs come back with none).
func answer(sent []nodes.Callback, vals ...any) []nodes.Callback {
	out := make([]nodes.Callback, len(sent))
	i := 0
	for k, cb := range sent {
		out[k] = nodes.Callback{Type: cb.Type}
		for _, in := range cb.Input {
			f := in
			if f.Name == "" && i < len(vals) {
				f.Value = vals[i]
				i++
			}
			out[k].Input = append(out[k].Input, f)
		}
	}
	if i != len(vals) {
		panic(fmt.Sprintf("answer: %d values for %d inputs", len(vals), i))
	}
	return out
}

// roundTrip returns s as it reads back from the flow store.
func roundTrip(t *testing.T, s nodes.State) nodes.State {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("shared state does not encode: %v", err)
	}
	var out nodes.State
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func types(cbs []nodes.Callback) []string {
	out := make([]string, len(cbs))
	for i, cb := range cbs {
		out[i] = cb.Type
	}
	return out
}

func outcomeIDs(outs []nodes.Outcome) []string {
	ids := make([]string, len(outs))
	for i, o := range outs {
		ids[i] = o.ID
	}
	return ids
}

// problemsOf returns err's problems as "pointer code" strings, failing when err holds
// none.
func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	ps, ok := err.(nodes.Problems)
	if !ok || len(ps) == 0 {
		t.Fatalf("want Problems, got %T %v", err, err)
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		if p.Message == "" {
			t.Errorf("problem %s %s has no message", p.Pointer, p.Code)
		}
		out[i] = p.Pointer + " " + p.Code
	}
	return out
}

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

func run(t *testing.T, n nodes.Node, ctx *nodes.Context) nodes.Action {
	t.Helper()
	act, err := n.Process(ctx)
	if err != nil {
		t.Fatalf("Process: %v", err)
	}
	return act
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

// flakyStore is a store.Store that can be taken down, as Redis can.
type flakyStore struct {
	store.Store
	down atomic.Bool
}

func (s *flakyStore) err() error {
	if s.down.Load() {
		return fmt.Errorf("test: %w", store.ErrUnavailable)
	}
	return nil
}

func (s *flakyStore) Get(ctx context.Context, key string) (store.Item, error) {
	if err := s.err(); err != nil {
		return store.Item{}, err
	}
	return s.Store.Get(ctx, key)
}

func (s *flakyStore) Set(ctx context.Context, key string, v []byte, ttl time.Duration) (uint64, error) {
	if err := s.err(); err != nil {
		return 0, err
	}
	return s.Store.Set(ctx, key, v, ttl)
}

func (s *flakyStore) CAS(ctx context.Context, key string, v []byte, rev uint64, ttl time.Duration) (uint64, error) {
	if err := s.err(); err != nil {
		return 0, err
	}
	return s.Store.CAS(ctx, key, v, rev, ttl)
}
