package engine

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/store"
)

// TestCommitUndoSeesItsResults: when the flow's final write loses the race while a
// node's write rides along (nodes.WriteBehind), the success hook's Undo runs with the
// results of its own ops in Commit.Ops, as it does without a write behind: a session's
// Undo reads which sessions its index push dropped, to end those the store left.
func TestCommitUndoSeesItsResults(t *testing.T) {
	st := memStore(t)
	ctx := context.Background()
	var flowID string
	var raced atomic.Bool
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
	var undone atomic.Bool
	hook := OnSuccess(func(context.Context, *Result) (*Commit, error) {
		c := &Commit{Ops: []store.Op{store.CASOp("session:{s}", []byte("s"), 0, time.Minute)}}
		c.Undo = func() {
			undone.Store(true)
			if c.Ops[0].Rev != 1 || c.Ops[0].Err != nil {
				t.Errorf("Undo saw %+v, want the op's result (written at revision 1)", c.Ops[0])
			}
		}
		return c, nil
	})
	res, err := h.eng.Start(ctx, StartRequest{Journey: "noteend", Realm: "/"})
	if err != nil {
		t.Fatal(err)
	}
	flowID = res.FlowID
	if _, err := h.eng.Continue(ctx, flowID, "/", answer("ok"), nodes.Request{}, hook); !errors.Is(err, ErrStepConflict) {
		t.Fatalf("Continue that lost the race: %v, want ErrStepConflict", err)
	}
	if !undone.Load() {
		t.Error("the commit was not undone")
	}
}
