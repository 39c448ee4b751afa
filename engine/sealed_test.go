package engine

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/store"
)

// startFlow starts the simple journey, sealed if asked, and returns the options that
// continue it.
func startFlow(t *testing.T, h *harness, sealed bool) (*Result, []StepOption) {
	t.Helper()
	var opts []StepOption
	if sealed {
		opts = append(opts, SealFirstStep())
	}
	res, err := h.eng.Start(context.Background(), StartRequest{Journey: "simple", Realm: "/"}, opts...)
	if err != nil || res.Status != NeedInput {
		t.Fatalf("start: %+v %v", res, err)
	}
	if !sealed {
		return res, nil
	}
	if res.Sealed == "" {
		t.Fatal("the start asked for a sealed step and got none")
	}
	return res, []StepOption{FromSealed(res.Sealed)}
}

func TestSealedConcurrentSubmissionsApplyOnce(t *testing.T) {
	testSealedConcurrentSubmissionsApplyOnce(t, newHarness(t, simple))
}

func testSealedConcurrentSubmissionsApplyOnce(t *testing.T, h *harness) {
	concurrentSubmissionsApplyOnce(t, h, true)
}

func TestSealedSuccessHookUndoneWhenRaceLost(t *testing.T) {
	testSealedSuccessHookUndoneWhenRaceLost(t, newHarness(t, simple))
}

func testSealedSuccessHookUndoneWhenRaceLost(t *testing.T, h *harness) {
	successHookUndoneWhenRaceLost(t, h, true)
}

// A sealed start writes nothing, its first continue reads nothing, and the flow's end is
// one create-if-absent write of its tombstone, which refuses a replay.
func TestSealedStoreCalls(t *testing.T) {
	h := newHarness(t, simple)
	ctx := context.Background()
	h.ops.Reset()
	res, from := startFlow(t, h, true)
	for _, op := range h.calls() {
		if op != "Get journey:simple:head" { // read once per head TTL (journeys.Repo)
			t.Fatalf("sealed start made store calls %q, want none but the journey's head", h.calls())
		}
	}
	if _, err := h.st.Get(ctx, flowKey(res.FlowID)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a sealed flow reached the store: %v", err)
	}
	h.ops.Reset()
	r, err := h.eng.Continue(ctx, res.FlowID, "/", answer("ok"), nodes.Request{}, from...)
	if err != nil || r.Status != Succeeded {
		t.Fatalf("continue: %+v %v", r, err)
	}
	if ops := h.calls(); len(ops) != 1 || ops[0] != "CAS "+flowKey(res.FlowID) {
		t.Fatalf("sealed continue made store calls %q, want only the tombstone's CAS", ops)
	}
	it, err := h.st.Get(ctx, flowKey(res.FlowID))
	if err != nil || it.Rev != 1 {
		t.Fatalf("tombstone: %+v %v", it, err)
	}
	var tomb Flow
	if err := unmarshalFlow(it.Value, &tomb); err != nil || !tomb.Done || tomb.Shared != nil || tomb.Pending != nil {
		t.Fatalf("tombstone %s: %v", it.Value, err)
	}
	if _, err := h.eng.Continue(ctx, res.FlowID, "/", answer("ok"), nodes.Request{}, from...); !errors.Is(err, ErrStepConflict) {
		t.Fatalf("replay of a finished sealed step: %v", err)
	}
	if _, err := h.eng.Continue(ctx, res.FlowID, "/", answer("ok"), nodes.Request{}); !errors.Is(err, ErrFlowNotFound) {
		t.Fatalf("the finished flow by its id: %v", err)
	}
	if n := h.rec.Count(audit.LoginSuccess); n != 1 {
		t.Fatalf("login.success audited %d times", n)
	}
}

func TestSealedStepRefused(t *testing.T) {
	h := newHarness(t, simple)
	res, from := startFlow(t, h, true)
	other, _ := startFlow(t, h, true)
	flip := []byte(res.Sealed)
	flip[len(flip)/2] ^= 'A' ^ 'B'
	if flip[len(flip)/2] == res.Sealed[len(flip)/2] {
		t.Fatal("no change")
	}
	for _, tc := range []struct {
		name, flowID, realm, sealed string
		later                       time.Duration
		want                        error
	}{
		{"tampered", res.FlowID, "/", string(flip), 0, ErrSealedInvalid},
		{"truncated", res.FlowID, "/", res.Sealed[:len(res.Sealed)-4], 0, ErrSealedInvalid},
		{"not base64", res.FlowID, "/", "!!" + res.Sealed, 0, ErrSealedInvalid},
		{"another flow's id", other.FlowID, "/", res.Sealed, 0, ErrSealedInvalid},
		{"another realm", res.FlowID, "/alpha", res.Sealed, 0, ErrSealedInvalid},
		{"another server's key", res.FlowID, "/", sealedBy(t, res), 0, ErrSealedInvalid},
		{"expired", res.FlowID, "/", res.Sealed, 5*time.Minute + time.Millisecond, ErrFlowNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.clock.Add(int64(tc.later))
			defer h.clock.Add(-int64(tc.later))
			h.ops.Reset()
			if _, err := h.eng.Continue(context.Background(), tc.flowID, tc.realm, answer("ok"), nodes.Request{}, FromSealed(tc.sealed)); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if ops := h.calls(); len(ops) != 0 {
				t.Fatalf("a refused sealed step made store calls %q", ops)
			}
		})
	}
	// The genuine step still works after all that.
	if r, err := h.eng.Continue(context.Background(), res.FlowID, "/", answer("ok"), nodes.Request{}, from...); err != nil || r.Status != Succeeded {
		t.Fatalf("genuine step: %+v %v", r, err)
	}
}

// sealedBy reseals res's flow under another key, as another deployment would.
func sealedBy(t *testing.T, res *Result) string {
	t.Helper()
	h := newHarness(t, simple)
	f := &Flow{ID: res.FlowID, Journey: "simple", Version: 1, Realm: "/", Node: "ask", Expires: time.Now().Add(time.Hour).UnixMilli()}
	return h.eng.seal(f)
}

// A sealed first step that asks again is stored with a create-if-absent write: the flow
// goes on from the store, and the sealed step cannot be submitted a second time.
func TestSealedStepThatAsksAgainIsStored(t *testing.T) {
	h := newHarness(t, `{"name":"two","start":"a","nodes":{"a":{"type":"ask","outcomes":{"outcome":"b"}},
	  "b":{"type":"ask","outcomes":{"outcome":"c"}},"c":{"type":"decide","outcomes":{"true":"success","false":"failure"}}}}`)
	ctx := context.Background()
	res, err := h.eng.Start(ctx, StartRequest{Journey: "two", Realm: "/"}, SealFirstStep())
	if err != nil || res.Sealed == "" {
		t.Fatalf("start: %+v %v", res, err)
	}
	h.ops.Reset()
	r, err := h.eng.Continue(ctx, res.FlowID, "/", answer("first"), nodes.Request{}, FromSealed(res.Sealed))
	if err != nil || r.Status != NeedInput || r.Sealed != "" {
		t.Fatalf("first continue: %+v %v", r, err)
	}
	if ops := h.calls(); len(ops) != 1 || ops[0] != "CAS "+flowKey(res.FlowID) {
		t.Fatalf("first continue made store calls %q, want one CAS", ops)
	}
	it, err := h.st.Get(ctx, flowKey(res.FlowID))
	if err != nil || it.Rev != 1 || strings.Contains(string(it.Value), "s3cret") {
		t.Fatalf("stored flow: %s %v", it.Value, err)
	}
	if _, err := h.eng.Continue(ctx, res.FlowID, "/", answer("again"), nodes.Request{}, FromSealed(res.Sealed)); !errors.Is(err, ErrStepConflict) {
		t.Fatalf("second submission of the sealed step: %v", err)
	}
	r, err = h.eng.Continue(ctx, res.FlowID, "/", answer("ok"), nodes.Request{})
	if err != nil || r.Status != Succeeded || r.Username != "ok" {
		t.Fatalf("stored step: %+v %v", r, err)
	}
	if _, err := h.eng.Continue(ctx, res.FlowID, "/", answer("first"), nodes.Request{}, FromSealed(res.Sealed)); !errors.Is(err, ErrStepConflict) {
		t.Fatalf("sealed step after the end: %v", err)
	}
}

// Shared state written before the first question travels in the sealed step, encrypted;
// a flow too big to seal is stored instead.
func TestSealedStepCarriesSharedState(t *testing.T) {
	journey := func(note string) string {
		return `{"name":"noted","start":"r","nodes":{"r":{"type":"remember","config":{"to":"` + note + `"},"outcomes":{"outcome":"ask"}},
		  "ask":{"type":"ask","outcomes":{"outcome":"check"}},"check":{"type":"decide","outcomes":{"true":"success","false":"failure"}}}}`
	}
	for _, tc := range []struct {
		name, note string
		sealed     bool
	}{
		{"small", "hunter2-secret-note", true},
		{"too big to seal", strings.Repeat("x", MaxSealedLen), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, journey(tc.note))
			ctx := context.Background()
			res, err := h.eng.Start(ctx, StartRequest{Journey: "noted", Realm: "/"}, SealFirstStep())
			if err != nil || res.Status != NeedInput {
				t.Fatalf("start: %+v %v", res, err)
			}
			_, stored := h.st.Get(ctx, flowKey(res.FlowID))
			if (res.Sealed != "") != tc.sealed || (stored == nil) == tc.sealed || len(res.Sealed) > MaxSealedLen {
				t.Fatalf("sealed %d bytes, store read %v: want sealed %v", len(res.Sealed), stored, tc.sealed)
			}
			var from []StepOption
			if res.Sealed != "" {
				raw, _ := base64.RawURLEncoding.DecodeString(res.Sealed)
				if strings.Contains(res.Sealed, "hunter2") || strings.Contains(string(raw), "hunter2") {
					t.Fatal("shared state is in clear in the sealed step")
				}
				from = append(from, FromSealed(res.Sealed))
			}
			r, err := h.eng.Continue(ctx, res.FlowID, "/", answer("ok"), nodes.Request{}, from...)
			if err != nil || r.Status != Succeeded || r.Shared.String("note") != tc.note {
				t.Fatalf("continue: %+v %v", r, err)
			}
		})
	}
}

// The flow's visit count travels in the sealed step: MaxSteps counts the start's visits.
func TestSealedStepCarriesTheStepBudget(t *testing.T) {
	for _, sealed := range []bool{false, true} {
		h := newHarness(t, simple)
		h.eng.cfg.MaxSteps = 2 // ask at the start, ask and check at the continue: 3
		res, from := startFlow(t, h, sealed)
		r, err := h.eng.Continue(context.Background(), res.FlowID, "/", answer("ok"), nodes.Request{}, from...)
		if err != nil || r.Status != Failed {
			t.Fatalf("sealed %v: %+v %v: the start's visits were not counted", sealed, r, err)
		}
	}
}

func TestSealedInnerJourney(t *testing.T) {
	h := newHarness(t, simple, `{"name":"outer","start":"r","nodes":{
	  "r":{"type":"remember","config":{"to":"outer-note"},"outcomes":{"outcome":"in"}},
	  "in":{"type":"inner_journey","config":{"journey":"simple"},"outcomes":{"true":"success","false":"failure"}}}}`)
	ctx := context.Background()
	res, err := h.eng.Start(ctx, StartRequest{Journey: "outer", Realm: "/"}, SealFirstStep())
	if err != nil || res.Status != NeedInput || res.Sealed == "" {
		t.Fatalf("%+v %v", res, err)
	}
	r, err := h.eng.Continue(ctx, res.FlowID, "/", answer("ok"), nodes.Request{}, FromSealed(res.Sealed))
	if err != nil || r.Status != Succeeded || r.Username != "ok" || r.Shared.String("note") != "outer-note" {
		t.Fatalf("inner: %+v %v", r, err)
	}
}

// A store outage during a sealed step's continue changes nothing: the same sealed step
// can be submitted again once the store is back.
func TestSealedStepSurvivesAnOutage(t *testing.T) {
	h := newHarness(t, `{"name":"flaky","start":"ask","nodes":{"ask":{"type":"ask","outcomes":{"outcome":"f"}},
	  "f":{"type":"flaky","outcomes":{"outcome":"check"}},"check":{"type":"decide","outcomes":{"true":"success","false":"failure"}}}}`)
	ctx := context.Background()
	res, err := h.eng.Start(ctx, StartRequest{Journey: "flaky", Realm: "/"}, SealFirstStep())
	if err != nil || res.Sealed == "" {
		t.Fatalf("start: %+v %v", res, err)
	}
	storeDown.Store(true)
	_, err = h.eng.Continue(ctx, res.FlowID, "/", answer("ok"), nodes.Request{}, FromSealed(res.Sealed))
	storeDown.Store(false)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("outage: %v", err)
	}
	if _, err := h.st.Get(ctx, flowKey(res.FlowID)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the outage left a flow behind: %v", err)
	}
	if r, err := h.eng.Continue(ctx, res.FlowID, "/", answer("ok"), nodes.Request{}, FromSealed(res.Sealed)); err != nil || r.Status != Succeeded {
		t.Fatalf("retry: %+v %v", r, err)
	}
}

// Without a sealer, or without the door asking, flows are stored as before.
func TestSealingIsOptIn(t *testing.T) {
	h := newHarness(t, simple)
	res, _ := startFlow(t, h, false)
	if res.Sealed != "" {
		t.Fatal("a start that did not ask got a sealed step")
	}
	h.eng.cfg.Sealer = nil
	res, err := h.eng.Start(context.Background(), StartRequest{Journey: "simple", Realm: "/"}, SealFirstStep())
	if err != nil || res.Sealed != "" {
		t.Fatalf("no sealer: %+v %v", res, err)
	}
	if _, err := h.st.Get(context.Background(), flowKey(res.FlowID)); err != nil {
		t.Fatalf("flow not stored: %v", err)
	}
}

// The tombstone of a flow that began sealed lives until the flow's expiry, since its
// sealed step opens until then; any other tombstone lives TombstoneTTL.
func TestTombstoneTTL(t *testing.T) {
	h := newHarness(t)
	now := h.eng.cfg.Now()
	for _, tc := range []struct {
		name   string
		f      Flow
		expect time.Duration
	}{
		{"stored", Flow{Expires: now.Add(5 * time.Minute).UnixMilli()}, time.Minute},
		{"sealed", Flow{Sealed: true, Expires: now.Add(5 * time.Minute).UnixMilli()}, 5 * time.Minute},
		{"sealed, nearly expired", Flow{Sealed: true, Expires: now.Add(time.Second).UnixMilli()}, time.Minute},
	} {
		if got := h.eng.tombstoneTTL(&tc.f); got != tc.expect {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.expect)
		}
	}
}

// A start whose nodes left writes behind is stored with them, not sealed: a sealed start
// writes nothing they could ride with.
func TestSealingSkippedWhenWritesAreLeftBehind(t *testing.T) {
	h := newHarness(t, `{"name":"notefirst","start":"note","nodes":{
  "note":{"type":"note","outcomes":{"outcome":"ask"}},
  "ask":{"type":"ask","outcomes":{"outcome":"check"}},
  "check":{"type":"decide","outcomes":{"true":"success","false":"failure"}}}}`)
	ctx := context.Background()
	h.ops.Reset()
	res, err := h.eng.Start(ctx, StartRequest{Journey: "notefirst", Realm: "/"}, SealFirstStep())
	if err != nil || res.Status != NeedInput || res.Sealed != "" {
		t.Fatalf("start: %+v %v", res, err)
	}
	got := slices.DeleteFunc(h.calls(), func(c string) bool { return c == "Get journey:notefirst:head" }) // once per head TTL
	if want := "Do Incr " + noteKey(res.FlowID) + " CAS " + flowKey(res.FlowID); len(got) != 1 || got[0] != want {
		t.Fatalf("store calls %q, want %q", got, want)
	}
	if n := h.noted(t, res.FlowID); n != 1 {
		t.Fatalf("note counter %d, want 1", n)
	}
}
