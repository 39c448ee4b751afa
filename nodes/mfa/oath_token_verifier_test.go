package mfa_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/mfa"
	"github.com/arbor-auth/arbor/oath"
	"github.com/arbor-auth/arbor/push"
	"github.com/arbor-auth/arbor/store"
)

// testGuard is a nodes.Guard that records its calls and throttles while blocked.
type testGuard struct {
	mu      sync.Mutex
	calls   []string
	blocked bool
	err     error
}

func (g *testGuard) note(call string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, call)
	return g.err
}

func (g *testGuard) Allow(_ context.Context, realm, user, ip string) (time.Duration, error) {
	err := g.note("allow " + realm + " " + user + " " + ip)
	if g.blocked {
		return time.Minute, err
	}
	return 0, err
}

func (g *testGuard) Failed(_ context.Context, _, user, _ string) error {
	return g.note("failed " + user)
}

func (g *testGuard) Succeeded(_ context.Context, _, user, _ string) error {
	return g.note("succeeded " + user)
}

func (g *testGuard) took() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := g.calls
	g.calls = nil
	return out
}

var oathTestSecret = []byte("a 20-byte secret!!!!")

// addApp registers an authenticator app with params p for user.
func addApp(t *testing.T, f *fixture, user string, p oath.Params) *devices.OATHDevice {
	t.Helper()
	d, err := f.env.Devices.AddOATH(context.Background(), "/", user, devices.OATHDevice{Name: "Authenticator app", Params: p}, oathTestSecret)
	if err != nil {
		t.Fatalf("AddOATH: %v", err)
	}
	return d
}

// appCode is the code the app shows at the fixture's clock shifted by skew.
func appCode(t *testing.T, f *fixture, skew time.Duration) string {
	t.Helper()
	c, err := oath.Code(oath.DefaultParams, oathTestSecret, f.env.Now().Add(skew), 0)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOATHVerifierOutcomes(t *testing.T) {
	f := newFixture(t, push.Config{})
	_, outs, err := f.build("oath_token_verifier", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomeIDs(outs); !reflect.DeepEqual(got, []string{"success", "failure", "not_registered"}) {
		t.Errorf("outcomes %v", got)
	}
	wantProblems(t, f, "oath_token_verifier", `{"totp_window": 11}`, "/nodes/n/config/totp_window bad_config")
	wantProblems(t, f, "oath_token_verifier", `{"hotp_look_ahead": 0}`, "/nodes/n/config/hotp_look_ahead bad_config")
}

func TestOATHVerifierNotRegistered(t *testing.T) {
	f := newFixture(t, push.Config{})
	n := f.mustBuild(t, "oath_token_verifier", "")
	ctx := f.newCtx()
	wantOutcome(t, n, ctx, "not_registered")
	if ctx.Shared.String(mfa.KeyMFAMethod) != devices.MethodOATH {
		t.Errorf("mfaMethod = %v, want oath", ctx.Shared[mfa.KeyMFAMethod])
	}
	// A device removed between the prompt and the answer.
	d := addApp(t, f, "alice", oath.DefaultParams)
	ctx = f.newCtx()
	sent := wantSend(t, n, ctx, nodes.TypeName)
	if err := f.env.Devices.Revoke(context.Background(), "/", "alice", d.ID); err != nil {
		t.Fatal(err)
	}
	f.next(t, ctx, sent, appCode(t, f, 0))
	wantOutcome(t, n, ctx, "not_registered")
}

// TestOATHVerifier runs tries of one user in one flow on a manual clock: what each
// answer leads to, what the guessing defence is told, and what is audited.
func TestOATHVerifier(t *testing.T) {
	type try struct {
		advance time.Duration                  // clock moves before the answer
		code    func(f *fixture) any           // the answer
		outcome string                         // "" when it asks again
		problem string                         // the error shown when it asks again
		guard   func(user string) []string     // calls expected, without Allow
		check   func(t *testing.T, f *fixture) // after the try
	}
	now := func(skew time.Duration) func(*fixture) any {
		return func(f *fixture) any {
			c, _ := oath.Code(oath.DefaultParams, oathTestSecret, f.env.Now().Add(skew), 0)
			return c
		}
	}
	lit := func(v any) func(*fixture) any { return func(*fixture) any { return v } }
	failed := func(u string) []string { return []string{"failed " + u} }
	succeeded := func(u string) []string { return []string{"succeeded " + u} }
	none := func(string) []string { return nil }
	tests := []struct {
		name     string
		tries    []try
		accepted int
		rejected int
		reused   int
	}{
		{name: "right code", tries: []try{{code: now(0), outcome: "success", guard: succeeded}}, accepted: 1},
		{name: "wrong code", tries: []try{{code: lit("000000"), outcome: "failure", guard: failed}}, rejected: 1},
		{name: "malformed codes fail", tries: []try{
			{code: lit("12345"), outcome: "failure", guard: failed},
			{code: lit("abcdef"), outcome: "failure", guard: failed},
			{code: lit(123456.0), outcome: "failure", guard: failed},
		}, rejected: 3},
		{name: "empty answer asks again", tries: []try{
			{code: lit(""), guard: none},
			{code: lit(nil), guard: none},
			{code: now(0), outcome: "success", guard: succeeded},
		}, accepted: 1},
		{name: "code used twice in one step", tries: []try{
			{code: now(0), outcome: "success", guard: succeeded},
			// A reused code was right: no guess, so the defence hears of a success.
			{advance: 4 * time.Second, code: now(0), problem: "Please wait 14 seconds to log in again.", guard: succeeded},
			{advance: 13 * time.Second, code: now(0), problem: "Please wait 1 seconds to log in again.", guard: succeeded},
			{advance: 1 * time.Second, code: now(0), outcome: "success", guard: succeeded},
		}, accepted: 2, reused: 2},
		{name: "previous step's code, then the current one", tries: []try{
			{code: now(-30 * time.Second), outcome: "success", guard: succeeded},
			{code: now(0), outcome: "success", guard: succeeded},
			{code: now(-30 * time.Second), problem: "Please wait 18 seconds to log in again.", guard: succeeded},
		}, accepted: 2, reused: 1},
		{name: "code two steps old", tries: []try{{code: now(-60 * time.Second), outcome: "failure", guard: failed}}, rejected: 1},
		{name: "throttled: not checked, not used up", tries: []try{
			{code: now(0), outcome: "failure", guard: none, check: func(t *testing.T, f *fixture) {
				if d, _ := f.env.Devices.OATHDevices(context.Background(), "/", "alice"); d[0].State.LastStep != 0 {
					t.Errorf("a throttled code was used up: %+v", d[0].State)
				}
				if n := f.env.Audit.Count(audit.ThrottleRefused); n != 1 {
					t.Errorf("%d throttle.refused events, want 1", n)
				}
			}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, push.Config{})
			// Start 12 s into a time step, so that the waits above are what they are.
			start := f.env.Now().Truncate(30 * time.Second).Add(42 * time.Second)
			f.env.Clock.Advance(start.Sub(f.env.Now()))
			g := &testGuard{blocked: tc.name == "throttled: not checked, not used up"}
			f.deps.Guard = g
			addApp(t, f, "alice", oath.DefaultParams)
			n := f.mustBuild(t, "oath_token_verifier", "")
			prompt := nodes.NameCallback("Enter the code from your authenticator app")
			ctx := f.newCtx()
			for i, tr := range tc.tries {
				ctx.Callbacks = nil
				// Back through a retry the prompt is the same: the engine shows the
				// failure's StepError, which keeps the node from saying it twice.
				first := []nodes.Callback{prompt}
				if act := run(t, n, ctx); !reflect.DeepEqual(act.Callbacks, first) {
					t.Fatalf("try %d: first visit %+v, want %+v", i, act, first)
				}
				f.env.Clock.Advance(tr.advance)
				f.next(t, ctx, []nodes.Callback{prompt}, tr.code(f))
				act := run(t, n, ctx)
				if act.Outcome != tr.outcome {
					t.Fatalf("try %d: outcome %q (%+v), want %q", i, act.Outcome, act.Callbacks, tr.outcome)
				}
				wantErr := ""
				if tr.outcome == "failure" {
					wantErr = "That code is not right."
				}
				if act.StepError != wantErr {
					t.Errorf("try %d: step error %q, want %q", i, act.StepError, wantErr)
				}
				if tr.outcome == "" {
					want := []nodes.Callback{prompt}
					if tr.problem != "" {
						want = []nodes.Callback{nodes.TextOutputCallback(tr.problem, nodes.MessageError), prompt}
					}
					if !reflect.DeepEqual(act.Callbacks, want) {
						t.Fatalf("try %d: asked %+v, want %+v", i, act.Callbacks, want)
					}
				}
				calls := g.took()
				var rest []string
				if len(calls) > 0 && calls[0] == "allow / alice 192.0.2.7" {
					rest = calls[1:]
				} else if tr.code(f) != "" && tr.code(f) != nil {
					t.Errorf("try %d: guard calls %q do not start with Allow", i, calls)
				}
				if want := tr.guard("alice"); (len(rest) > 0 || len(want) > 0) && !reflect.DeepEqual(rest, want) {
					t.Errorf("try %d: guard told %q, want %q", i, rest, want)
				}
				if got := ctx.Shared.Factors(); (tr.outcome == "success") != reflect.DeepEqual(got, []nodes.Factor{nodes.FactorOTP}) {
					t.Errorf("try %d: factors %v after outcome %q", i, got, tr.outcome)
				}
				delete(ctx.Shared, nodes.KeyFactors)
				if tr.check != nil {
					tr.check(t, f)
				}
			}
			got := []int{f.env.Audit.Count(audit.OTPAccepted), f.env.Audit.Count(audit.OTPRejected), f.env.Audit.Count(audit.OTPReused)}
			if want := []int{tc.accepted, tc.rejected, tc.reused}; !reflect.DeepEqual(got, want) {
				t.Errorf("accepted, rejected, reused events %v, want %v", got, want)
			}
			for _, e := range f.env.Audit.Events() {
				if e.User != "alice" || e.FlowID != "flow1" || e.Client != "192.0.2.7" {
					t.Errorf("event %+v", e)
				}
			}
		})
	}
}

// TestOATHVerifierDrift: a phone whose clock runs two steps fast gets in, one step at a
// time, because each accepted code teaches the verifier its drift.
func TestOATHVerifierDrift(t *testing.T) {
	f := newFixture(t, push.Config{})
	addApp(t, f, "alice", oath.DefaultParams)
	n := f.mustBuild(t, "oath_token_verifier", `{"totp_window": 1, "max_clock_drift": 2}`)
	prompt := []nodes.Callback{nodes.NameCallback("Enter the code from your authenticator app")}
	try := func(skew time.Duration) string {
		ctx := f.newCtx()
		f.next(t, ctx, prompt, appCode(t, f, skew))
		act := run(t, n, ctx)
		f.env.Clock.Advance(30 * time.Second)
		return act.Outcome
	}
	if got := try(60 * time.Second); got != "failure" {
		t.Fatalf("two steps fast, unknown drift: %q", got)
	}
	for _, skew := range []time.Duration{30 * time.Second, 60 * time.Second, 60 * time.Second} {
		if got := try(skew); got != "success" {
			t.Fatalf("%v fast after learning: %q", skew, got)
		}
	}
	if got := try(90 * time.Second); got != "failure" {
		t.Fatalf("three steps fast, beyond max_clock_drift: %q", got)
	}
	d, _ := f.env.Devices.OATHDevices(context.Background(), "/", "alice")
	if d[0].State.Drift != 2 {
		t.Errorf("learnt drift %d, want 2", d[0].State.Drift)
	}
}

func TestOATHVerifierHOTP(t *testing.T) {
	f := newFixture(t, push.Config{})
	p := oath.Params{Kind: oath.HOTP, Algorithm: oath.SHA1, Digits: 8}
	addApp(t, f, "alice", p)
	n := f.mustBuild(t, "oath_token_verifier", `{"hotp_look_ahead": 3, "hotp_resync_window": 20}`)
	prompt := []nodes.Callback{nodes.NameCallback("Enter the code from your authenticator app")}
	code := func(c uint64) string {
		s, _ := oath.Code(p, oathTestSecret, time.Time{}, c)
		return s
	}
	for i, tc := range []struct {
		counter uint64
		want    string
	}{{2, "success"}, {2, "failure"}, {3, "success"}, {10, "failure"}, {11, "success"}, {12, "success"}} {
		ctx := f.newCtx()
		f.next(t, ctx, prompt, code(tc.counter))
		if act := run(t, n, ctx); act.Outcome != tc.want {
			t.Fatalf("try %d (counter %d): %q, want %q", i, tc.counter, act.Outcome, tc.want)
		}
	}
}

func TestOATHVerifierStoreDown(t *testing.T) {
	f := newFixture(t, push.Config{})
	addApp(t, f, "alice", oath.DefaultParams)
	n := f.mustBuild(t, "oath_token_verifier", "")
	ctx := f.newCtx()
	sent := wantSend(t, n, ctx, nodes.TypeName)
	f.next(t, ctx, sent, appCode(t, f, 0))
	f.st.Down.Store(true)
	before := stateJSON(t, ctx.Shared)
	if err := runErr(t, n, ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("err %v, want store.ErrUnavailable", err)
	}
	if stateJSON(t, ctx.Shared) != before {
		t.Errorf("a failed check changed the flow: %s", stateJSON(t, ctx.Shared))
	}
	f.st.Down.Store(false)
	// The same code works once the store is back: nothing was used up.
	wantOutcome(t, n, ctx, "success")
	// A guard whose store is down also answers 503, before any code is checked.
	g := &testGuard{err: store.ErrUnavailable}
	f.deps.Guard = g
	n = f.mustBuild(t, "oath_token_verifier", "")
	ctx = f.newCtx()
	f.next(t, ctx, sent, "000000")
	if err := runErr(t, n, ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("guard down: %v", err)
	}
}
