package engine

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/store"
	"github.com/arbor-auth/arbor/store/storetest"
)

// noteKey is the counter the test node "note" leaves a write to.
func noteKey(flowID string) string { return "noted:{" + flowID + "}" }

// Journeys whose "note" node leaves a write behind before the flow asks again
// (noteask) or ends (noteend).
const (
	noteAsk = `{"name":"noteask","start":"ask","nodes":{
  "ask":{"type":"ask","outcomes":{"outcome":"note"}},
  "note":{"type":"note","outcomes":{"outcome":"again"}},
  "again":{"type":"ask","outcomes":{"outcome":"check"}},
  "check":{"type":"decide","outcomes":{"true":"success","false":"failure"}}}}`
	noteEnd = `{"name":"noteend","start":"ask","nodes":{
  "ask":{"type":"ask","outcomes":{"outcome":"note"}},
  "note":{"type":"note","outcomes":{"outcome":"check"}},
  "check":{"type":"decide","outcomes":{"true":"success","false":"failure"}}}}`
)

// noted reads the note counter of a flow.
func (h *harness) noted(t *testing.T, flowID string) int64 {
	t.Helper()
	n, err := h.st.Incr(context.Background(), noteKey(flowID), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// calls returns the store calls since the last Reset as "Name key" strings.
func (h *harness) calls() []string {
	var out []string
	for _, op := range h.ops.Ops() {
		out = append(out, op.Name+" "+op.Key)
	}
	return out
}

// TestWriteBehindRidesWithTheFlow: a write a node leaves behind goes in the batch that
// saves the flow (it asks again) or finishes it (with the success hook's commit, or
// alone), before the flow's write, and costs no call of its own; the hook's Finish sees
// its own ops and their results, whatever else rode in the batch.
func TestWriteBehindRidesWithTheFlow(t *testing.T) {
	ctx := context.Background()
	commit := OnSuccess(func(context.Context, *Result) (*Commit, error) {
		return &Commit{Ops: []store.Op{store.CASOp("session:{s}", []byte("s"), 0, time.Minute)},
			Finish: func(_ context.Context, ops []store.Op) error {
				if len(ops) != 1 || ops[0].Key != "session:{s}" || ops[0].Rev != 1 {
					t.Errorf("Finish saw %+v, want the hook's own op, written", ops)
				}
				return nil
			}}, nil
	})
	for _, tc := range []struct {
		name, journey string
		opts          []StepOption
		status        Status
		batch         string // the second call, after the flow's read; %s is the flow id
	}{
		{"save", "noteask", nil, NeedInput, "Do Incr noted:{%s} CAS flow:{%s}"},
		{"finish", "noteend", nil, Succeeded, "Do Incr noted:{%s} CAS flow:{%s}"},
		// The left-behind writes lead, so that the batch is built in their slice
		// (finishWrite); the commit's ops follow; the flow's write goes last.
		{"finish with a commit", "noteend", []StepOption{commit}, Succeeded, "Do Incr noted:{%s} CAS session:{s} CAS flow:{%s}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, noteAsk, noteEnd)
			res, err := h.eng.Start(ctx, StartRequest{Journey: tc.journey, Realm: "/"})
			if err != nil {
				t.Fatal(err)
			}
			id := res.FlowID
			h.ops.Reset()
			res, err = h.eng.Continue(ctx, id, "/", answer("ok"), nodes.Request{}, tc.opts...)
			if err != nil || res.Status != tc.status {
				t.Fatalf("Continue = %+v, %v; want status %v", res, err, tc.status)
			}
			want := []string{"Get " + flowKey(id), strings.ReplaceAll(tc.batch, "%s", id)}
			if got := h.calls(); strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("store calls %q, want %q", got, want)
			}
			if n := h.noted(t, id); n != 1 {
				t.Errorf("note counter %d after the step, want 1", n)
			}
		})
	}
}

// roomyNotes maps a flow id to the first op of the slice its note_room node left
// behind.
var roomyNotes sync.Map

// TestFinishBuildsItsBatchInTheLeftBehindSlice: a flow's end with a commit sends one
// batch, built in the slice the left-behind writes came in when it has room (the
// guessing defence's record has: throttle.batchRoom), not in copies of it: the
// left-behind write, the commit's op, the flow's write, in that order, and the hook's
// Finish sees its own op with its result.
func TestFinishBuildsItsBatchInTheLeftBehindSlice(t *testing.T) {
	const journey = `{"name":"roomy","start":"ask","nodes":{
  "ask":{"type":"ask","outcomes":{"outcome":"note"}},
  "note":{"type":"note_room","outcomes":{"outcome":"check"}},
  "check":{"type":"decide","outcomes":{"true":"success","false":"failure"}}}}`
	st := memStore(t)
	ctx := context.Background()
	var flowID string
	batches := 0
	h := newHarnessOn(t, racing{Store: st, before: func(ops []store.Op) {
		batches++
		first, ok := roomyNotes.Load(flowID)
		if !ok || len(ops) != 3 || &ops[0] != first.(*store.Op) {
			t.Errorf("batch %d: %d ops, first at %p; want 3 in the left-behind slice (%v)", batches, len(ops), &ops[0], first)
		}
		if len(ops) == 3 && (ops[0].Key != noteKey(flowID) || ops[1].Key != "session:{s}" || ops[2].Key != flowKey(flowID)) {
			t.Errorf("batch keys %q %q %q, want the note, the session, the flow", ops[0].Key, ops[1].Key, ops[2].Key)
		}
	}}, journey)
	finished := false
	commit := OnSuccess(func(context.Context, *Result) (*Commit, error) {
		return &Commit{Ops: []store.Op{store.CASOp("session:{s}", []byte("s"), 0, time.Minute)},
			Finish: func(_ context.Context, ops []store.Op) error {
				finished = len(ops) == 1 && ops[0].Key == "session:{s}" && ops[0].Rev == 1
				return nil
			}}, nil
	})
	res, err := h.eng.Start(ctx, StartRequest{Journey: "roomy", Realm: "/"})
	if err != nil {
		t.Fatal(err)
	}
	flowID = res.FlowID
	batches = 0
	res, err = h.eng.Continue(ctx, flowID, "/", answer("ok"), nodes.Request{}, commit)
	if err != nil || res.Status != Succeeded {
		t.Fatalf("Continue = %+v, %v; want success", res, err)
	}
	if batches != 1 || !finished {
		t.Errorf("%d batches, Finish saw its op written: %v; want 1 and true", batches, finished)
	}
	if n := h.noted(t, flowID); n != 1 {
		t.Errorf("note counter %d, want 1", n)
	}
}

// racing is a store that runs before on each batch before sending it, in order.
type racing struct {
	store.Store
	before func(ops []store.Op)
}

func (r racing) Do(ctx context.Context, ops []store.Op) error {
	r.before(ops)
	return store.Do(ctx, r.Store, ops)
}
func (racing) BatchInOrder() bool { return true }

// TestWriteBehindWrittenWhenRaceLost: when the flow's write that carries a left-behind
// write loses the race (another submission of the step won just before), the
// left-behind write still lands (its writer left only writes that are right either
// way: a right secret is right whoever wins), the step reports the conflict, and it can
// be submitted again.
func TestWriteBehindWrittenWhenRaceLost(t *testing.T) {
	for _, journey := range []string{"noteask", "noteend"} {
		t.Run(journey, func(t *testing.T) {
			st := memStore(t)
			ctx := context.Background()
			var flowID string
			var raced atomic.Bool
			// The first batch carrying the note rewrites the flow just before it, as a
			// concurrent submission that won would.
			h := newHarnessOn(t, racing{Store: st, before: func(ops []store.Op) {
				for _, op := range ops {
					if op.Key == noteKey(flowID) && !raced.Swap(true) {
						it, err := st.Get(ctx, flowKey(flowID))
						if err == nil {
							_, err = st.Set(ctx, flowKey(flowID), it.Value, time.Hour)
						}
						if err != nil {
							t.Error(err)
						}
					}
				}
			}}, noteAsk, noteEnd)
			res, err := h.eng.Start(ctx, StartRequest{Journey: journey, Realm: "/"})
			if err != nil {
				t.Fatal(err)
			}
			flowID = res.FlowID
			if _, err := h.eng.Continue(ctx, flowID, "/", answer("ok"), nodes.Request{}); !errors.Is(err, ErrStepConflict) {
				t.Fatalf("Continue that lost the race: %v, want ErrStepConflict", err)
			}
			if n := h.noted(t, flowID); n != 1 {
				t.Errorf("note counter %d after a lost race, want 1 (written with the lost write)", n)
			}
			if _, err := h.eng.Continue(ctx, flowID, "/", answer("ok"), nodes.Request{}); err != nil {
				t.Fatalf("the step submitted again: %v", err)
			}
			if n := h.noted(t, flowID); n != 2 {
				t.Errorf("note counter %d after the step went through, want 2", n)
			}
		})
	}
}

// TestWriteBehindOncePerStepUnderConcurrency: of 16 concurrent submissions of one
// final step, one wins, and every submission that reached the flow's write wrote what
// it left behind, the winner's included. TestExactlyOnceOnRedis runs it on every Redis
// topology.
func TestWriteBehindOncePerStepUnderConcurrency(t *testing.T) {
	testWriteBehindOncePerStep(t, newHarness(t))
}

func testWriteBehindOncePerStep(t *testing.T, h *harness) {
	ctx := context.Background()
	if _, err := h.repo.Save(ctx, []byte(noteEnd), "test"); err != nil {
		t.Fatal(err)
	}
	res, err := h.eng.Start(ctx, StartRequest{Journey: "noteend", Realm: "/"})
	if err != nil {
		t.Fatal(err)
	}
	var wins, conflicts atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := h.eng.Continue(ctx, res.FlowID, "/", answer("ok"), nodes.Request{})
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, ErrStepConflict):
				conflicts.Add(1)
			case !errors.Is(err, ErrFlowNotFound):
				t.Errorf("losing submission: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d submissions won, want 1", wins.Load())
	}
	// The winner and each loser that reached the flow's write (a conflict) wrote; the
	// ones that found the flow already finished never walked.
	if n, want := h.noted(t, res.FlowID), int64(1+conflicts.Load()); n != want {
		t.Errorf("note counter %d after one win and %d conflicts, want %d", n, conflicts.Load(), want)
	}
}

// TestWriteBehindAfterTheSaveWhereBatchesAreUnordered: where a batch's ops may take
// effect out of order (a Redis Cluster), the left-behind write follows the flow's save
// once it won, so that it never stands for a flow that was not saved.
func TestWriteBehindAfterTheSaveWhereBatchesAreUnordered(t *testing.T) {
	st := memStore(t)
	h := newHarnessOn(t, storetest.NewFlaky(unordered{st}), noteAsk)
	ctx := context.Background()
	res, err := h.eng.Start(ctx, StartRequest{Journey: "noteask", Realm: "/"})
	if err != nil {
		t.Fatal(err)
	}
	id := res.FlowID
	h.ops.Reset()
	if res, err = h.eng.Continue(ctx, id, "/", answer("ok"), nodes.Request{}); err != nil || res.Status != NeedInput {
		t.Fatalf("Continue = %+v, %v", res, err)
	}
	want := []string{"Get " + flowKey(id), "CAS " + flowKey(id), "Do Incr " + noteKey(id)}
	if got := h.calls(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("store calls %q, want %q", got, want)
	}
	if n := h.noted(t, id); n != 1 {
		t.Errorf("note counter %d, want 1", n)
	}
}
