package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/journeys"
	"github.com/arbor-auth/arbor/keys"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/store"
	"github.com/arbor-auth/arbor/store/embedded"
	"github.com/arbor-auth/arbor/store/storetest"
)

type none struct{}

type routeCfg struct {
	To string `json:"to" doc:"Outcome to take." default:"outcome"`
}

// testRegistry holds small node types that exercise the engine's contract.
func testRegistry() *nodes.Registry {
	r := nodes.NewRegistry()
	// ask sends a NameCallback and stores the answer; empty answers ask again.
	nodes.Register(r, nodes.Spec[none]{Type: "ask", Input: true, Outcomes: []nodes.Outcome{{ID: "outcome"}},
		New: func(*none, *nodes.Build) (nodes.Node, error) {
			return nodes.NodeFunc(func(ctx *nodes.Context) (nodes.Action, error) {
				if len(ctx.Callbacks) == 1 && ctx.Callbacks[0].InString() != "" {
					ctx.Shared["username"] = ctx.Callbacks[0].InString()
					ctx.Transient["password"] = "s3cret-" + ctx.Callbacks[0].InString()
					return nodes.Goto("outcome"), nil
				}
				return nodes.Send(nodes.NameCallback("User Name")), nil
			}), nil
		}})
	// note leaves a write to the flow's next write: one more on a counter of the flow,
	// which counts the submissions that reached the flow's write, won or lost
	// (behind_test.go).
	nodes.Register(r, nodes.Spec[none]{Type: "note", Outcomes: []nodes.Outcome{{ID: "outcome"}},
		New: func(*none, *nodes.Build) (nodes.Node, error) {
			return nodes.NodeFunc(func(ctx *nodes.Context) (nodes.Action, error) {
				key := noteKey(ctx.FlowID)
				ctx.WriteBehind.Defer([]store.Op{store.IncrOp(key, 1, time.Hour)})
				return nodes.Goto("outcome"), nil
			}), nil
		}})
	// note_room is note with room in its slice for the ops the flow's end adds, as
	// the guessing defence leaves its record (behind_test.go): it records where its
	// slice starts, for the test that the end's batch is built in it.
	nodes.Register(r, nodes.Spec[none]{Type: "note_room", Outcomes: []nodes.Outcome{{ID: "outcome"}},
		New: func(*none, *nodes.Build) (nodes.Node, error) {
			return nodes.NodeFunc(func(ctx *nodes.Context) (nodes.Action, error) {
				ops := append(make([]store.Op, 0, 3), store.IncrOp(noteKey(ctx.FlowID), 1, time.Hour))
				roomyNotes.Store(ctx.FlowID, &ops[0])
				ctx.WriteBehind.Defer(ops)
				return nodes.Goto("outcome"), nil
			}), nil
		}})
	nodes.Register(r, nodes.Spec[none]{Type: "decide", Outcomes: []nodes.Outcome{{ID: "true"}, {ID: "false"}},
		New: func(*none, *nodes.Build) (nodes.Node, error) {
			return nodes.NodeFunc(func(ctx *nodes.Context) (nodes.Action, error) {
				if ctx.Username() == "ok" && ctx.Transient.String("password") == "s3cret-ok" {
					return nodes.Goto("true"), nil
				}
				return nodes.Action{Outcome: "false", FailureMessage: "Nope."}, nil
			}), nil
		}})
	nodes.Register(r, nodes.Spec[routeCfg]{Type: "route", Outcomes: []nodes.Outcome{{ID: "outcome"}, {ID: "again"}},
		New: func(c *routeCfg, _ *nodes.Build) (nodes.Node, error) {
			return nodes.NodeFunc(func(*nodes.Context) (nodes.Action, error) { return nodes.Goto(c.To), nil }), nil
		}})
	nodes.Register(r, nodes.Spec[none]{Type: "boom", Outcomes: []nodes.Outcome{{ID: "outcome"}},
		New: func(*none, *nodes.Build) (nodes.Node, error) {
			return nodes.NodeFunc(func(*nodes.Context) (nodes.Action, error) { return nodes.Action{}, errors.New("kaboom") }), nil
		}})
	nodes.Register(r, nodes.Spec[none]{Type: "boom_or_fail", Outcomes: []nodes.Outcome{{ID: "outcome"}, {ID: "failure"}},
		New: func(*none, *nodes.Build) (nodes.Node, error) {
			return nodes.NodeFunc(func(*nodes.Context) (nodes.Action, error) { return nodes.Action{}, errors.New("kaboom") }), nil
		}})
	nodes.Register(r, nodes.Spec[none]{Type: "store_down", Outcomes: []nodes.Outcome{{ID: "outcome"}},
		New: func(*none, *nodes.Build) (nodes.Node, error) {
			return nodes.NodeFunc(func(*nodes.Context) (nodes.Action, error) {
				return nodes.Action{}, fmt.Errorf("read user: %w", store.ErrUnavailable)
			}), nil
		}})
	// remember writes its configured value into the shared state (a node that runs
	// before a journey's first question).
	nodes.Register(r, nodes.Spec[routeCfg]{Type: "remember", Outcomes: []nodes.Outcome{{ID: "outcome"}},
		New: func(c *routeCfg, _ *nodes.Build) (nodes.Node, error) {
			return nodes.NodeFunc(func(ctx *nodes.Context) (nodes.Action, error) {
				ctx.Shared["note"] = c.To
				return nodes.Goto("outcome"), nil
			}), nil
		}})
	// flaky fails as an unreachable store would while storeDown is set.
	nodes.Register(r, nodes.Spec[none]{Type: "flaky", Outcomes: []nodes.Outcome{{ID: "outcome"}},
		New: func(*none, *nodes.Build) (nodes.Node, error) {
			return nodes.NodeFunc(func(*nodes.Context) (nodes.Action, error) {
				if storeDown.Load() {
					return nodes.Action{}, fmt.Errorf("read user: %w", store.ErrUnavailable)
				}
				return nodes.Goto("outcome"), nil
			}), nil
		}})
	nodes.Register(r, nodes.Spec[none]{Type: "undeclared", Outcomes: []nodes.Outcome{{ID: "outcome"}},
		New: func(*none, *nodes.Build) (nodes.Node, error) {
			return nodes.NodeFunc(func(*nodes.Context) (nodes.Action, error) { return nodes.Goto("surprise"), nil }), nil
		}})
	// complain goes on, saying why the flow will ask again.
	nodes.Register(r, nodes.Spec[routeCfg]{Type: "complain", Outcomes: []nodes.Outcome{{ID: "outcome"}},
		New: func(c *routeCfg, _ *nodes.Build) (nodes.Node, error) {
			return nodes.NodeFunc(func(*nodes.Context) (nodes.Action, error) {
				return nodes.Action{Outcome: "outcome", StepError: c.To}, nil
			}), nil
		}})
	// spin counts its visits in spins and takes its "again" outcome: a journey of spins
	// loops until a limit stops it.
	nodes.Register(r, nodes.Spec[none]{Type: "spin", Outcomes: []nodes.Outcome{{ID: "outcome"}, {ID: "again"}},
		New: func(*none, *nodes.Build) (nodes.Node, error) {
			return nodes.NodeFunc(func(*nodes.Context) (nodes.Action, error) {
				spins.Add(1)
				return nodes.Goto("again"), nil
			}), nil
		}})
	type innerCfg struct {
		Journey string `json:"journey" doc:"Inner journey."`
	}
	nodes.Register(r, nodes.Spec[innerCfg]{Type: "inner_journey", Outcomes: []nodes.Outcome{{ID: "true"}, {ID: "false"}},
		New: func(c *innerCfg, b *nodes.Build) (nodes.Node, error) {
			deps := b.Deps
			return nodes.NodeFunc(func(ctx *nodes.Context) (nodes.Action, error) {
				return deps.Journeys.RunInner(ctx, c.Journey, ctx.LocalKey("inner"))
			}), nil
		}})
	return r
}

// spins counts visits of spin nodes (tests of this package do not run in parallel).
var spins atomic.Int64

// storeDown makes flaky nodes fail as an unreachable store would.
var storeDown atomic.Bool

type harness struct {
	st    store.Store
	ops   *storetest.Counting // counts the calls made through st
	repo  *journeys.Repo
	eng   *Engine
	rec   *audit.Recorder
	clock atomic.Int64
}

func newHarness(t *testing.T, docs ...string) *harness {
	t.Helper()
	return newHarnessOn(t, memStore(t), docs...)
}

// memStore opens an in-memory embedded store closed when the test ends.
func memStore(t *testing.T) *embedded.Store {
	t.Helper()
	st, err := embedded.Open(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newHarnessOn is newHarness on a given store, for the tests that run on every Redis
// topology (topology_test.go).
func newHarnessOn(t *testing.T, st store.Store, docs ...string) *harness {
	t.Helper()
	counted := storetest.NewCounting(st)
	h := &harness{st: counted, ops: counted, rec: &audit.Recorder{}}
	h.clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	au := audit.New(nil)
	au.AddSink(h.rec.Sink())
	deps := &nodes.Deps{Store: h.st, Audit: au}
	h.repo = journeys.NewRepo(h.st, journeys.CompileOptions{Registry: testRegistry(), Deps: deps})
	h.eng = New(Config{Now: func() time.Time { return time.Unix(0, h.clock.Load()) }, MaxTransitions: 10,
		Sealer: keys.Generate().Sealer(keys.PurposeSealedFlow)}, h.st, h.repo, deps, nil)
	for _, d := range docs {
		if _, err := h.repo.Save(context.Background(), []byte(d), "test"); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

const simple = `{"name":"simple","start":"ask","nodes":{
  "ask":{"type":"ask","outcomes":{"outcome":"check"}},
  "check":{"type":"decide","outcomes":{"true":"success","false":"failure"}}}}`

func answer(v any) []nodes.Callback {
	return []nodes.Callback{{Type: nodes.TypeName, Input: []nodes.Field{{Name: "", Value: v}}}}
}

func TestStartAndFinish(t *testing.T) {
	for _, tc := range []struct {
		name, user string
		want       Status
		msg        string
		event      string
	}{
		{"success", "ok", Succeeded, "", audit.LoginSuccess},
		{"failure", "bad", Failed, "Nope.", audit.LoginFailure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, simple)
			ctx := context.Background()
			res, err := h.eng.Start(ctx, StartRequest{Journey: "simple", Realm: "/"})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != NeedInput || len(res.Callbacks) != 1 || res.Callbacks[0].Type != nodes.TypeName {
				t.Fatalf("start: %+v", res)
			}
			res2, err := h.eng.Continue(ctx, res.FlowID, "/", answer(tc.user), nodes.Request{})
			if err != nil {
				t.Fatal(err)
			}
			if res2.Status != tc.want || res2.FailureMessage != tc.msg || res2.Username != tc.user {
				t.Fatalf("continue: status %v msg %q user %q", res2.Status, res2.FailureMessage, res2.Username)
			}
			if h.rec.Count(tc.event) != 1 {
				t.Fatalf("audit: %+v", h.rec.Events())
			}
			// The finished flow cannot be replayed.
			if _, err := h.eng.Continue(ctx, res.FlowID, "/", answer(tc.user), nodes.Request{}); !errors.Is(err, ErrFlowNotFound) {
				t.Fatalf("replay: %v", err)
			}
		})
	}
}

func TestBadAnswersChangeNothing(t *testing.T) {
	h := newHarness(t, simple)
	ctx := context.Background()
	res, _ := h.eng.Start(ctx, StartRequest{Journey: "simple", Realm: "/"})
	before, _ := h.st.Get(ctx, flowKey(res.FlowID))
	for name, cbs := range map[string][]nodes.Callback{
		"none":         nil,
		"too many":     append(answer("ok"), answer("ok")...),
		"wrong type":   {{Type: nodes.TypePassword, Input: []nodes.Field{{Name: "", Value: "ok"}}}},
		"no input":     {{Type: nodes.TypeName}},
		"object input": {{Type: nodes.TypeName, Input: []nodes.Field{{Name: "", Value: map[string]any{"x": 1}}}}},
	} {
		_, err := h.eng.Continue(ctx, res.FlowID, "/", cbs, nodes.Request{})
		var ie *InputError
		if !errors.As(err, &ie) {
			t.Errorf("%s: err = %v, want InputError", name, err)
		}
	}
	after, _ := h.st.Get(ctx, flowKey(res.FlowID))
	if after.Rev != before.Rev {
		t.Fatal("bad answers changed the flow")
	}
	if _, err := h.eng.Continue(ctx, res.FlowID, "/other", answer("ok"), nodes.Request{}); !errors.Is(err, ErrRealmMismatch) {
		t.Fatalf("other realm: %v", err)
	}
	if r, err := h.eng.Continue(ctx, res.FlowID, "/", answer("ok"), nodes.Request{}); err != nil || r.Status != Succeeded {
		t.Fatalf("good answer after bad ones: %v %v", r, err)
	}
}

// TestPending: a flow's pending step reads back as its callbacks' types and input
// names, without changing the flow; a finished flow or another realm has none.
func TestPending(t *testing.T) {
	h := newHarness(t, simple)
	ctx := context.Background()
	res, _ := h.eng.Start(ctx, StartRequest{Journey: "simple", Realm: "/"})
	before, _ := h.st.Get(ctx, flowKey(res.FlowID))
	p, err := h.eng.Pending(ctx, res.FlowID, "/")
	if err != nil || len(p) != len(res.Callbacks) || p[0].Type != res.Callbacks[0].Type || len(p[0].Inputs) != len(res.Callbacks[0].Input) {
		t.Fatalf("Pending: %+v %v, sent %+v", p, err, res.Callbacks)
	}
	if after, _ := h.st.Get(ctx, flowKey(res.FlowID)); after.Rev != before.Rev {
		t.Error("Pending changed the flow")
	}
	if _, err := h.eng.Pending(ctx, res.FlowID, "/other"); !errors.Is(err, ErrRealmMismatch) {
		t.Errorf("other realm: %v", err)
	}
	if _, err := h.eng.Continue(ctx, res.FlowID, "/", answer("ok"), nodes.Request{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.eng.Pending(ctx, res.FlowID, "/"); !errors.Is(err, ErrFlowNotFound) {
		t.Errorf("finished flow: %v", err)
	}
	if _, err := h.eng.Pending(ctx, "no-such-flow", "/"); !errors.Is(err, ErrFlowNotFound) {
		t.Errorf("unknown flow: %v", err)
	}
}

func TestEmptyAnswerAsksAgain(t *testing.T) {
	h := newHarness(t, simple)
	ctx := context.Background()
	res, _ := h.eng.Start(ctx, StartRequest{Journey: "simple", Realm: "/"})
	res2, err := h.eng.Continue(ctx, res.FlowID, "/", answer(""), nodes.Request{})
	if err != nil || res2.Status != NeedInput {
		t.Fatalf("%v %v", res2, err)
	}
}

func TestConcurrentSubmissionsApplyOnce(t *testing.T) {
	testConcurrentSubmissionsApplyOnce(t, newHarness(t, simple))
}

func testConcurrentSubmissionsApplyOnce(t *testing.T, h *harness) {
	concurrentSubmissionsApplyOnce(t, h, false)
}

// concurrentSubmissionsApplyOnce submits the final step of one flow 16 times at once,
// its sealed first step if sealed.
func concurrentSubmissionsApplyOnce(t *testing.T, h *harness, sealed bool) {
	ctx := context.Background()
	res, from := startFlow(t, h, sealed)
	var wins, conflicts, gone atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := h.eng.Continue(ctx, res.FlowID, "/", answer("ok"), nodes.Request{}, from...)
			switch {
			case err == nil && r.Status == Succeeded:
				wins.Add(1)
			case errors.Is(err, ErrStepConflict):
				conflicts.Add(1)
			case errors.Is(err, ErrFlowNotFound):
				gone.Add(1)
			default:
				t.Errorf("unexpected: %v %v", r, err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d submissions finished the flow (conflicts %d, gone %d)", wins.Load(), conflicts.Load(), gone.Load())
	}
	if h.rec.Count(audit.LoginSuccess) != 1 {
		t.Fatalf("login.success audited %d times", h.rec.Count(audit.LoginSuccess))
	}
}

func TestExpiry(t *testing.T) {
	h := newHarness(t, strings.Replace(simple, `"start"`, `"timeout":"1m","start"`, 1))
	ctx := context.Background()
	res, _ := h.eng.Start(ctx, StartRequest{Journey: "simple", Realm: "/"})
	h.clock.Add(int64(61 * time.Second))
	if _, err := h.eng.Continue(ctx, res.FlowID, "/", answer("ok"), nodes.Request{}); !errors.Is(err, ErrFlowNotFound) {
		t.Fatalf("expired flow: %v", err)
	}
	if _, err := h.eng.Continue(ctx, "nope", "/", answer("ok"), nodes.Request{}); !errors.Is(err, ErrFlowNotFound) {
		t.Fatalf("unknown flow: %v", err)
	}
}

func TestFailClosed(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      Status
	}{
		{"transition limit", `{"name":"loop","start":"a","nodes":{"a":{"type":"route","config":{"to":"again"},"outcomes":{"outcome":"success","again":"b"}},
		  "b":{"type":"route","config":{"to":"again"},"outcomes":{"outcome":"success","again":"a"}}}}`, Failed},
		{"node error without failure outcome", `{"name":"loop","start":"a","nodes":{"a":{"type":"boom","outcomes":{"outcome":"success"}}}}`, Failed},
		{"node error goes to failure outcome", `{"name":"loop","start":"a","nodes":{"a":{"type":"boom_or_fail","outcomes":{"outcome":"failure","failure":"b"}},
		  "b":{"type":"route","outcomes":{"outcome":"success","again":"failure"}}}}`, Succeeded},
		{"undeclared outcome", `{"name":"loop","start":"a","nodes":{"a":{"type":"undeclared","outcomes":{"outcome":"success"}}}}`, Failed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.doc)
			res, err := h.eng.Start(context.Background(), StartRequest{Journey: "loop", Realm: "/"})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.want {
				t.Fatalf("status %v, want %v", res.Status, tc.want)
			}
		})
	}
}

func TestStoreErrorFromNodeLeavesFlow(t *testing.T) {
	h := newHarness(t, `{"name":"down","start":"ask","nodes":{"ask":{"type":"ask","outcomes":{"outcome":"d"}},
	  "d":{"type":"store_down","outcomes":{"outcome":"success"}}}}`)
	ctx := context.Background()
	res, _ := h.eng.Start(ctx, StartRequest{Journey: "down", Realm: "/"})
	before, _ := h.st.Get(ctx, flowKey(res.FlowID))
	_, err := h.eng.Continue(ctx, res.FlowID, "/", answer("ok"), nodes.Request{})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	after, _ := h.st.Get(ctx, flowKey(res.FlowID))
	if after.Rev != before.Rev {
		t.Fatal("a store error changed the flow")
	}
}

func TestTransientNeverStored(t *testing.T) {
	h := newHarness(t, `{"name":"two","start":"a","nodes":{"a":{"type":"ask","outcomes":{"outcome":"b"}},
	  "b":{"type":"ask","outcomes":{"outcome":"success"}}}}`)
	ctx := context.Background()
	res, _ := h.eng.Start(ctx, StartRequest{Journey: "two", Realm: "/"})
	if _, err := h.eng.Continue(ctx, res.FlowID, "/", answer("ok"), nodes.Request{}); err != nil {
		t.Fatal(err)
	}
	it, _ := h.st.Get(ctx, flowKey(res.FlowID))
	if strings.Contains(string(it.Value), "s3cret") {
		t.Fatalf("transient state reached the store: %s", it.Value)
	}
	if len(it.Value) > 2048 {
		t.Fatalf("flow is %d bytes", len(it.Value))
	}
}

func TestFlowPinnedToVersion(t *testing.T) {
	h := newHarness(t, simple)
	ctx := context.Background()
	res, _ := h.eng.Start(ctx, StartRequest{Journey: "simple", Realm: "/"})
	v2 := strings.Replace(simple, `"true":"success","false":"failure"`, `"true":"failure","false":"failure"`, 1)
	if v, err := h.repo.Save(ctx, []byte(v2), "test"); err != nil || v != 2 {
		t.Fatalf("save v2: %v %v", v, err)
	}
	r, err := h.eng.Continue(ctx, res.FlowID, "/", answer("ok"), nodes.Request{})
	if err != nil || r.Status != Succeeded {
		t.Fatalf("pinned flow: %v %v", r, err)
	}
	res, _ = h.eng.Start(ctx, StartRequest{Journey: "simple", Realm: "/"})
	if r, _ := h.eng.Continue(ctx, res.FlowID, "/", answer("ok"), nodes.Request{}); r.Status != Failed {
		t.Fatalf("new flow should run v2: %v", r.Status)
	}
}

func TestInnerJourney(t *testing.T) {
	h := newHarness(t, simple, `{"name":"outer","start":"in","nodes":{
	  "in":{"type":"inner_journey","config":{"journey":"simple"},"outcomes":{"true":"success","false":"failure"}}}}`)
	ctx := context.Background()
	res, err := h.eng.Start(ctx, StartRequest{Journey: "outer", Realm: "/"})
	if err != nil || res.Status != NeedInput {
		t.Fatalf("%v %v", res, err)
	}
	r, err := h.eng.Continue(ctx, res.FlowID, "/", answer("ok"), nodes.Request{})
	if err != nil || r.Status != Succeeded || r.Username != "ok" {
		t.Fatalf("inner: %+v %v", r, err)
	}
}

func TestUnknownJourney(t *testing.T) {
	h := newHarness(t)
	if _, err := h.eng.Start(context.Background(), StartRequest{Journey: "nope", Realm: "/"}); !errors.Is(err, ErrJourneyNotFound) {
		t.Fatalf("err = %v", err)
	}
}

func BenchmarkStep(b *testing.B) {
	st, _ := embedded.Open(embedded.Options{})
	defer st.Close()
	deps := &nodes.Deps{Store: st}
	repo := journeys.NewRepo(st, journeys.CompileOptions{Registry: testRegistry(), Deps: deps})
	eng := New(Config{}, st, repo, deps, nil)
	ctx := context.Background()
	if _, err := repo.Save(ctx, []byte(simple), "bench"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		res, err := eng.Start(ctx, StartRequest{Journey: "simple", Realm: "/"})
		if err != nil {
			b.Fatal(err)
		}
		if r, err := eng.Continue(ctx, res.FlowID, "/", answer("ok"), nodes.Request{}); err != nil || r.Status != Succeeded {
			b.Fatal(err)
		}
	}
}

// Each step costs at most two store round trips: one read and one conditional write.
// Start reads the journey's head (unless Head remembers it, see journeys.Repo) and
// creates the flow; Continue reads the flow and writes it back (or its tombstone). The
// test journey's nodes use no store of their own, so every call counted is the engine's.
func TestStoreRoundTripsPerStep(t *testing.T) {
	h := newHarness(t, simple)
	ctx := context.Background()
	storeOps := func() []string {
		var out []string
		for _, op := range h.ops.Ops() {
			out = append(out, op.Name+" "+op.Key)
		}
		return out
	}
	step := func(what string, max int, run func() (*Result, error)) *Result {
		t.Helper()
		h.ops.Reset()
		res, err := run()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		ops := storeOps()
		if len(ops) > max {
			t.Fatalf("%s made %d store calls, want at most %d: %v", what, len(ops), max, ops)
		}
		for _, op := range ops {
			if strings.HasPrefix(op, "Get ") && strings.Contains(op, "journey:simple:v") {
				t.Fatalf("%s loaded a journey version it had compiled already: %v", what, ops)
			}
		}
		return res
	}
	start := func() (*Result, error) { return h.eng.Start(ctx, StartRequest{Journey: "simple", Realm: "/"}) }

	// Head not remembered: read the head, create the flow.
	h.repo.SetHeadTTL(0)
	res := step("Start (head read)", 2, start)
	if ops := storeOps(); len(ops) != 2 || ops[0] != "Get journey:simple:head" || ops[1] != "CAS "+flowKey(res.FlowID) {
		t.Fatalf("Start: %v, want the head read and the flow's create", ops)
	}
	// Head remembered: only the create.
	h.repo.SetHeadTTL(time.Minute)
	step("Start (learns the head)", 2, start)
	res = step("Start (head remembered)", 1, start)
	if ops := storeOps(); len(ops) != 1 || ops[0] != "CAS "+flowKey(res.FlowID) {
		t.Fatalf("Start with the head remembered: %v", ops)
	}
	// A step that asks again: read the flow, write it back.
	id := res.FlowID
	res = step("Continue (asks again)", 2, func() (*Result, error) { return h.eng.Continue(ctx, id, "/", answer(""), nodes.Request{}) })
	if res.Status != NeedInput {
		t.Fatalf("empty answer: %v", res.Status)
	}
	if ops := storeOps(); len(ops) != 2 || ops[0] != "Get "+flowKey(id) || ops[1] != "CAS "+flowKey(id) {
		t.Fatalf("Continue: %v, want the flow's read and its conditional write", ops)
	}
	// The last step: read the flow, replace it with its tombstone.
	res = step("Continue (finishes)", 2, func() (*Result, error) { return h.eng.Continue(ctx, id, "/", answer("ok"), nodes.Request{}) })
	if res.Status != Succeeded {
		t.Fatalf("final step: %v", res.Status)
	}
	if ops := storeOps(); len(ops) != 2 || ops[0] != "Get "+flowKey(id) || ops[1] != "CAS "+flowKey(id) {
		t.Fatalf("final Continue: %v, want the flow's read and the tombstone's conditional write", ops)
	}
	// A success hook's commit goes in the tombstone's batch: still two round trips.
	res = step("Start (hooked)", 1, start)
	id2 := res.FlowID
	hook := OnSuccess(func(context.Context, *Result) (*Commit, error) {
		return &Commit{Ops: []store.Op{store.CASOp("session:{s}", []byte("s"), 0, time.Minute),
			store.PushOp("usersessions:{u}", []byte("h session:{s}"), time.Now().Add(time.Hour), 32, time.Now())}}, nil
	})
	step("Continue (finishes with a commit)", 2, func() (*Result, error) {
		return h.eng.Continue(ctx, id2, "/", answer("ok"), nodes.Request{}, hook)
	})
	if ops := storeOps(); len(ops) != 2 || ops[0] != "Get "+flowKey(id2) ||
		ops[1] != "Do CAS session:{s} Push usersessions:{u} CAS "+flowKey(id2) {
		t.Fatalf("final Continue with a commit: %v, want the flow's read and one batch of the commit and the tombstone", ops)
	}
	// A replay of the last step is refused after one read.
	h.ops.Reset()
	if _, err := h.eng.Continue(ctx, id, "/", answer("ok"), nodes.Request{}); !errors.Is(err, ErrFlowNotFound) {
		t.Fatalf("replayed final step: %v", err)
	}
	if n := h.ops.Count(); n != 1 {
		t.Fatalf("replay made %d store calls: %v", n, h.ops.Ops())
	}
}

// TestSuccessHookFailureKeepsStep: when the door cannot create its session (the store
// failed), the flow is not finished and the same step succeeds when retried.
func TestSuccessHookFailureKeepsStep(t *testing.T) {
	h := newHarness(t, simple)
	ctx := context.Background()
	res, _ := h.eng.Start(ctx, StartRequest{Journey: "simple", Realm: "/"})
	failing := OnSuccess(func(context.Context, *Result) (*Commit, error) {
		return nil, fmt.Errorf("create session: %w", store.ErrUnavailable)
	})
	if _, err := h.eng.Continue(ctx, res.FlowID, "/", answer("ok"), nodes.Request{}, failing); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	if h.rec.Count(audit.LoginSuccess) != 0 {
		t.Fatal("a login whose session failed was audited as a success")
	}
	created := 0
	ok := OnSuccess(func(_ context.Context, r *Result) (*Commit, error) {
		if r.Username != "ok" {
			t.Errorf("hook saw user %q", r.Username)
		}
		created++
		return nil, nil
	})
	r, err := h.eng.Continue(ctx, res.FlowID, "/", answer("ok"), nodes.Request{}, ok)
	if err != nil || r.Status != Succeeded || created != 1 {
		t.Fatalf("retry: %v %v created=%d", r, err, created)
	}
}

// TestSuccessHookUndoneWhenRaceLost: of concurrent final submissions, every session but
// the winner's is undone.
func TestSuccessHookUndoneWhenRaceLost(t *testing.T) {
	testSuccessHookUndoneWhenRaceLost(t, newHarness(t, simple))
}

func testSuccessHookUndoneWhenRaceLost(t *testing.T, h *harness) {
	successHookUndoneWhenRaceLost(t, h, false)
}

// successHookUndoneWhenRaceLost submits the final step of one flow 16 times at once
// (its sealed first step if sealed), each with a hook that writes a session: one must
// survive.
func successHookUndoneWhenRaceLost(t *testing.T, h *harness, sealed bool) {
	ctx := context.Background()
	res, from := startFlow(t, h, sealed)
	var created, undone, finished atomic.Int32
	// Each submission's hook writes a "session" of its own in the flow's final batch,
	// on a key of another hash tag (another Cluster slot), and deletes it on Undo.
	hook := func(i int) StepOption {
		key := fmt.Sprintf("racesession:{%s-%d}", res.FlowID, i)
		return OnSuccess(func(context.Context, *Result) (*Commit, error) {
			created.Add(1)
			return &Commit{
				Ops: []store.Op{store.CASOp(key, []byte("s"), 0, time.Minute)},
				Finish: func(_ context.Context, ops []store.Op) error {
					if len(ops) != 1 || ops[0].Key != key || ops[0].Err != nil || ops[0].Rev != 1 {
						t.Errorf("Finish saw %+v, want the hook's own op, written", ops)
					}
					finished.Add(1)
					return nil
				},
				Undo: func() {
					undone.Add(1)
					if err := h.st.Delete(context.Background(), key); err != nil {
						t.Error(err)
					}
				},
			}, nil
		})
	}
	var wg sync.WaitGroup
	var wins atomic.Int32
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := h.eng.Continue(ctx, res.FlowID, "/", answer("ok"), nodes.Request{}, append(from, hook(i))...)
			if err == nil && r.Status == Succeeded {
				wins.Add(1)
			} else if err != nil && !errors.Is(err, ErrStepConflict) && !errors.Is(err, ErrFlowNotFound) {
				t.Errorf("losing submission: %v", err)
			}
		}()
	}
	wg.Wait()
	if live := created.Load() - undone.Load(); live != 1 || wins.Load() != 1 || finished.Load() != 1 {
		t.Fatalf("%d sessions created, %d undone, %d finished, %d successes: want exactly one of each to survive",
			created.Load(), undone.Load(), finished.Load(), wins.Load())
	}
	stored := 0
	for i := 0; i < 16; i++ {
		if _, err := h.st.Get(ctx, fmt.Sprintf("racesession:{%s-%d}", res.FlowID, i)); err == nil {
			stored++
		}
	}
	if stored != 1 {
		t.Fatalf("%d sessions left in the store, want 1", stored)
	}
}

// unordered is a store whose batches, like a Redis Cluster's, are not applied in order.
type unordered struct{ store.Store }

func (u unordered) Do(ctx context.Context, ops []store.Op) error { return store.Do(ctx, u.Store, ops) }
func (u unordered) BatchInOrder() bool                           { return false }

// TestCommitBeforeTheFlowWhereBatchesAreUnordered: where a batch's ops may take effect
// out of order (a Redis Cluster), the commit is written first and the flow's end after
// it, so that a failed commit leaves the step retryable; where they are in order, one
// batch (TestStoreRoundTripsPerStep).
func TestCommitBeforeTheFlowWhereBatchesAreUnordered(t *testing.T) {
	st := memStore(t)
	flaky := storetest.NewFlaky(unordered{st})
	h := newHarnessOn(t, flaky, simple)
	ctx := context.Background()
	res, err := h.eng.Start(ctx, StartRequest{Journey: "simple", Realm: "/"})
	if err != nil {
		t.Fatal(err)
	}
	var undone atomic.Int32
	hook := func(down bool) StepOption {
		return OnSuccess(func(context.Context, *Result) (*Commit, error) {
			flaky.Down.Store(down)
			return &Commit{Ops: []store.Op{store.CASOp("session:{u}", []byte("s"), 0, time.Minute)}, Undo: func() { undone.Add(1) }}, nil
		})
	}
	if _, err := h.eng.Continue(ctx, res.FlowID, "/", answer("ok"), nodes.Request{}, hook(true)); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("commit during an outage: %v", err)
	}
	flaky.Down.Store(false)
	h.ops.Reset()
	r, err := h.eng.Continue(ctx, res.FlowID, "/", answer("ok"), nodes.Request{}, hook(false))
	if err != nil || r.Status != Succeeded || undone.Load() != 1 {
		t.Fatalf("retried step: %v, %v, %d undone; want a success after one undo", r, err, undone.Load())
	}
	var got []string
	for _, op := range h.ops.Ops() {
		got = append(got, op.Name+" "+op.Key)
	}
	want := []string{"Get " + flowKey(res.FlowID), "Do CAS session:{u}", "CAS " + flowKey(res.FlowID)}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("store calls %q, want %q", got, want)
	}
}

// TestSuccessCommitFailures: a batch that fails (the store is down) undoes the commit
// and leaves the step to be retried; a Finish that fails undoes the commit and fails
// the step, the flow being finished.
func TestSuccessCommitFailures(t *testing.T) {
	st := memStore(t)
	flaky := storetest.NewFlaky(st)
	h := newHarnessOn(t, flaky, simple)
	ctx := context.Background()
	res, _ := h.eng.Start(ctx, StartRequest{Journey: "simple", Realm: "/"})
	var undone atomic.Int32
	hook := func(down bool, finishErr error) StepOption {
		return OnSuccess(func(context.Context, *Result) (*Commit, error) {
			flaky.Down.Store(down) // the hook's own reads went through; the batch fails
			return &Commit{
				Ops:    []store.Op{store.CASOp("sess:{x}", []byte("s"), 0, time.Minute)},
				Finish: func(context.Context, []store.Op) error { return finishErr },
				Undo:   func() { undone.Add(1) },
			}, nil
		})
	}
	if _, err := h.eng.Continue(ctx, res.FlowID, "/", answer("ok"), nodes.Request{}, hook(true, nil)); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("commit during an outage: %v, want ErrUnavailable", err)
	}
	flaky.Down.Store(false)
	if undone.Load() != 1 || h.rec.Count(audit.LoginSuccess) != 0 {
		t.Fatalf("after the outage: %d undone, %d successes audited; want 1, 0", undone.Load(), h.rec.Count(audit.LoginSuccess))
	}
	boom := errors.New("quota: end oldest session: boom")
	if _, err := h.eng.Continue(ctx, res.FlowID, "/", answer("ok"), nodes.Request{}, hook(false, boom)); !errors.Is(err, boom) {
		t.Fatalf("retried step whose Finish fails: %v, want %v", err, boom)
	}
	if undone.Load() != 2 || h.rec.Count(audit.LoginSuccess) != 0 {
		t.Fatalf("after Finish failed: %d undone, %d successes audited; want 2, 0", undone.Load(), h.rec.Count(audit.LoginSuccess))
	}
	if _, err := h.eng.Continue(ctx, res.FlowID, "/", answer("ok"), nodes.Request{}); !errors.Is(err, ErrFlowNotFound) {
		t.Fatalf("the flow whose commit finished: %v, want ErrFlowNotFound", err)
	}
}

// TestStepErrorShownOnTheNextStep: nodes that loop back say why, as an error text output
// before the next step's callbacks, which the asking node never sees among its answers.
func TestStepErrorShownOnTheNextStep(t *testing.T) {
	h := newHarness(t, `{"name":"retry","start":"ask","nodes":{
  "ask":{"type":"ask","outcomes":{"outcome":"check"}},
  "check":{"type":"decide","outcomes":{"true":"success","false":"why"}},
  "why":{"type":"complain","config":{"to":"Wrong name."},"outcomes":{"outcome":"left"}},
  "left":{"type":"complain","config":{"to":"2 attempts left."},"outcomes":{"outcome":"ask"}}}}`)
	ctx := context.Background()
	res, err := h.eng.Start(ctx, StartRequest{Journey: "retry", Realm: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Callbacks) != 1 {
		t.Fatalf("a first step has no error: %+v", res.Callbacks)
	}
	res, err = h.eng.Continue(ctx, res.FlowID, "/", answer("bad"), nodes.Request{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != NeedInput || len(res.Callbacks) != 2 || res.Callbacks[0].Type != nodes.TypeTextOutput ||
		res.Callbacks[0].OutString("message") != "Wrong name. 2 attempts left." || res.Callbacks[0].OutString("messageType") != nodes.MessageError ||
		res.Callbacks[1].Type != nodes.TypeName {
		t.Fatalf("retry step: %+v", res)
	}
	// The client answers what it was sent, error included; the node sees only its own.
	if _, err := h.eng.Continue(ctx, res.FlowID, "/", answer("ok"), nodes.Request{}); err == nil {
		t.Fatal("an answer without the error's place was accepted")
	}
	both := append([]nodes.Callback{{Type: nodes.TypeTextOutput}}, answer("ok")...)
	res, err = h.eng.Continue(ctx, res.FlowID, "/", both, nodes.Request{})
	if err != nil || res.Status != Succeeded || res.Username != "ok" {
		t.Fatalf("after the error: %+v, %v", res, err)
	}
}

// TestInnerJourneyFanOutIsBounded is the hostile-journey regression: four levels of
// inner journeys, each level running the next from two nodes in a loop, with spinning
// leaves. Each level used to get its own transition budget, so one request visited
// thousands of nodes (10 per level, multiplied per level); one budget per request now
// bounds every visit at any depth, and the flow fails closed.
func TestInnerJourneyFanOutIsBounded(t *testing.T) {
	level := func(name, next string) string {
		return `{"name":"` + name + `","start":"a","nodes":{
		  "a":{"type":"inner_journey","config":{"journey":"` + next + `"},"outcomes":{"true":"b","false":"b"}},
		  "b":{"type":"inner_journey","config":{"journey":"` + next + `"},"outcomes":{"true":"a","false":"a"}}}}`
	}
	leaf := `{"name":"l4","start":"a","nodes":{
	  "a":{"type":"spin","outcomes":{"outcome":"success","again":"b"}},
	  "b":{"type":"spin","outcomes":{"outcome":"success","again":"a"}}}}`
	// Saved leaf first: a journey's inner journeys must exist when it is saved.
	h := newHarness(t, leaf, level("l3", "l4"), level("l2", "l3"), level("l1", "l2"), level("l0", "l1"))
	spins.Store(0)
	res, err := h.eng.Start(context.Background(), StartRequest{Journey: "l0", Realm: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != Failed {
		t.Errorf("status %v, want Failed", res.Status)
	}
	if n := spins.Load(); n > int64(h.eng.cfg.MaxTransitions) {
		t.Errorf("one request visited %d leaf nodes, more than MaxTransitions (%d) allows in all", n, h.eng.cfg.MaxTransitions)
	}
}

// TestWalkStopsWhenClientLeaves: a request whose context ends stops walking at the next
// visit and saves nothing, rather than running on for a client that is gone.
func TestWalkStopsWhenClientLeaves(t *testing.T) {
	h := newHarness(t, `{"name":"spin","start":"a","nodes":{
	  "a":{"type":"spin","outcomes":{"outcome":"success","again":"a"}}}}`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	spins.Store(0)
	if _, err := h.eng.Start(ctx, StartRequest{Journey: "spin", Realm: "/"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Start with a canceled context = %v, want context.Canceled", err)
	}
	if n := spins.Load(); n != 0 {
		t.Errorf("%d visits after the client left", n)
	}
}
