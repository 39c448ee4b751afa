package engine

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/arbor-auth/arbor/nodes"
)

func TestTrace(t *testing.T) {
	h := newHarness(t, simple)
	var mu sync.Mutex
	var got []string
	h.eng.cfg.Trace = func(ev TraceEvent) {
		mu.Lock()
		defer mu.Unlock()
		if ev.Journey != "simple" || ev.Version != 1 {
			t.Errorf("event %+v names the wrong journey", ev)
		}
		got = append(got, ev.Node+":"+ev.Outcome)
	}
	ctx := context.Background()
	res, err := h.eng.Start(ctx, StartRequest{Journey: "simple", Realm: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.eng.Continue(ctx, res.FlowID, "/", answer("bad"), nodes.Request{}); err != nil {
		t.Fatal(err)
	}
	// ask is visited twice (asking, then answered), then check routes to false.
	want := []string{"ask:", "ask:", "ask:outcome", "check:", "check:false"}
	if !slices.Equal(got, want) {
		t.Fatalf("trace %v, want %v", got, want)
	}
}
