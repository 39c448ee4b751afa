package basic_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/basic"
	"github.com/arbor-auth/arbor/store"
	"github.com/arbor-auth/arbor/store/storetest"
	"github.com/arbor-auth/arbor/throttle"
)

func TestDataStoreDecision(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "Alice", "correct horse")
	f.addUser(t, "locked", "battery staple")
	if err := f.users.SetStatus(context.Background(), "/", "locked", identity.StatusLocked); err != nil {
		t.Fatal(err)
	}
	n := f.mustBuild(t, "data_store_decision", "")
	tests := []struct {
		name     string
		username string
		password any // nil: no password in transient state
		outcome  string
		failure  string
		authUser any
	}{
		{name: "right password", username: "alice", password: "correct horse", outcome: "true", authUser: "Alice"},
		{name: "wrong password", username: "alice", password: "correct horse ", outcome: "false"},
		{name: "empty password", username: "alice", password: "", outcome: "false"},
		{name: "missing password", username: "alice", outcome: "false"},
		{name: "unknown user", username: "mallory", password: "correct horse", outcome: "false"},
		{name: "no username", password: "correct horse", outcome: "false"},
		{name: "locked user", username: "locked", password: "battery staple", outcome: "false", failure: "User Locked Out."},
		{name: "locked user wrong password says nothing", username: "locked", password: "nope", outcome: "false"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := newCtx()
			if tc.username != "" {
				ctx.Shared["username"] = tc.username
			}
			ctx.Shared[basicAuthUser] = "stale"   // an earlier success must not survive a failure
			ctx.Shared[basic.KeyLockedOut] = true // nor an earlier lock another answer
			if tc.password != nil {
				ctx.Transient["password"] = tc.password
			}
			act := run(t, n, ctx)
			if act.Outcome != tc.outcome || act.FailureMessage != tc.failure {
				t.Errorf("action %+v, want outcome %q failure %q", act, tc.outcome, tc.failure)
			}
			// Only the right password tells that the account is locked.
			if got, want := ctx.Shared.Bool(basic.KeyLockedOut), tc.failure != ""; got != want {
				t.Errorf("locked out %v, want %v", got, want)
			}
			if got := ctx.Shared[basicAuthUser]; got != tc.authUser {
				t.Errorf("authenticated user %v, want %v", got, tc.authUser)
			}
			// The password is a verified factor exactly when the node says "true".
			var wantFactors []nodes.Factor
			if tc.outcome == "true" {
				wantFactors = []nodes.Factor{nodes.FactorPassword}
			}
			if got := ctx.Shared.Factors(); !slices.Equal(got, wantFactors) {
				t.Errorf("factors %v, want %v", got, wantFactors)
			}
			if pw, _ := tc.password.(string); pw != "" {
				noPassword(t, ctx.Shared, pw)
			}
		})
	}
}

const basicAuthUser = "authenticated_user"

func TestDataStoreDecisionStoreDown(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "alice", "pw")
	n := f.mustBuild(t, "data_store_decision", "")
	ctx := newCtx()
	ctx.Shared["username"] = "alice"
	ctx.Transient["password"] = "pw"
	f.st.Down.Store(true)
	act, err := n.Process(ctx)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("error %v, want one wrapping store.ErrUnavailable", err)
	}
	if act.Outcome != "" {
		t.Errorf("outcome %q despite the outage", act.Outcome)
	}
}

func TestDataStoreDecisionWithoutUsers(t *testing.T) {
	f := newFixture(t)
	b := &nodes.Build{Registry: f.reg, Journey: "j", NodeID: "n", Pointer: "/nodes/n/config"}
	n, _, err := f.buildWith(b, "data_store_decision", "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := newCtx()
	ctx.Transient["password"] = "x"
	if _, err := n.Process(ctx); err == nil {
		t.Error("decided without an identity store")
	}
}

func TestDataStoreDecisionConfigProblems(t *testing.T) {
	f := newFixture(t)
	wantProblems(t, f, "data_store_decision", `{"realm": "/"}`, "/nodes/n/config/realm bad_config")
}

// TestLoginPage runs the usual login page end to end: the decision after the
// collectors is not run until both answers are in.
func TestLoginPage(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "alice", "pw1")
	n, outs, err := f.build("page", `{"nodes": [{"type": "username"}, {"type": "password"}, {"type": "data_store_decision"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomeIDs(outs); len(got) != 2 || got[0] != "true" {
		t.Errorf("outcomes %v", got)
	}
	for _, tc := range []struct{ user, pw, outcome string }{{"alice", "pw1", "true"}, {"alice", "pw2", "false"}} {
		ctx := newCtx()
		act := run(t, n, ctx)
		if len(act.Callbacks) != 2 {
			t.Fatalf("first visit: %+v", act)
		}
		if got := ctx.Shared["arbor.node.n.layout"]; len(got.([]int)) != 3 {
			t.Errorf("layout %v", got)
		}
		ctx.Shared = roundTrip(t, ctx.Shared)
		ctx.Transient = nodes.State{} // a new request
		ctx.Callbacks = answer(act.Callbacks, tc.user, tc.pw)
		act = run(t, n, ctx)
		if act.Outcome != tc.outcome {
			t.Errorf("%s/%s: outcome %q, want %q", tc.user, tc.pw, act.Outcome, tc.outcome)
		}
		noPassword(t, ctx.Shared, tc.pw)
	}
}

// TestDataStoreDecisionThrottled checks the guessing defence in the node: past the free
// failures an attempt is refused without being checked, and the refusal is answered
// exactly as a wrong password is, for a known and an unknown user alike, and audited.
func TestDataStoreDecisionThrottled(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "alice", "right")
	f.addUser(t, "locked", "right")
	if err := f.users.SetStatus(context.Background(), "/", "locked", identity.StatusLocked); err != nil {
		t.Fatal(err)
	}
	now := testNow
	th, err := throttle.New(f.st, throttle.Config{PairFree: 2}, func() time.Time { return now }, f.deps.Audit)
	if err != nil {
		t.Fatal(err)
	}
	f.deps.Guard = th
	n := f.mustBuild(t, "data_store_decision", "")
	attempt := func(user, pw string) nodes.Action {
		ctx := newCtx()
		ctx.Shared["username"] = user
		ctx.Transient["password"] = pw
		act := run(t, n, ctx)
		if act.Outcome == "false" && (ctx.Shared.Has(basicAuthUser) || len(ctx.Shared.Factors()) > 0) {
			t.Errorf("%s: a failed attempt left %v", user, ctx.Shared)
		}
		return act
	}
	wrong := nodes.Action{Outcome: "false", StepError: "The username or password is not correct."}
	for _, user := range []string{"alice", "nobody"} {
		for i := range 2 {
			if act := attempt(user, "wrong"); !reflect.DeepEqual(act, wrong) {
				t.Fatalf("%s: wrong password %d: %+v", user, i+1, act)
			}
		}
		// The right password now is refused unchecked, and looks like a wrong one.
		if act := attempt(user, "right"); !reflect.DeepEqual(act, wrong) {
			t.Errorf("%s: refused attempt answered %+v, want %+v", user, act, wrong)
		}
	}
	if got := f.rec.Count(audit.ThrottleRefused); got != 2 {
		t.Errorf("%d %s events, want 2", got, audit.ThrottleRefused)
	}
	// Once the delay has passed, the right password goes through again.
	now = now.Add(time.Second)
	if act := attempt("alice", "right"); act.Outcome != "true" {
		t.Errorf("after the delay: %+v", act)
	}
	// The right password to a locked account is no guess: it does not count.
	for range 3 {
		if act := attempt("locked", "right"); act.FailureMessage != "User Locked Out." {
			t.Fatalf("locked account: %+v", act)
		}
	}
	// A store outage fails the flow rather than let the guess through unthrottled.
	f.st.Down.Store(true)
	ctx := newCtx()
	ctx.Shared["username"] = "alice"
	ctx.Transient["password"] = "right"
	if _, err := n.Process(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("during an outage: %v, want store.ErrUnavailable", err)
	}
}

// TestDataStoreDecisionRefusalTakesAsLongAsACheck: a refused attempt waits as long as a
// password check takes, so its timing does not tell a refusal from a wrong password.
// Only lower bounds are asserted, which load cannot break.
func TestDataStoreDecisionRefusalTakesAsLongAsACheck(t *testing.T) {
	f := newFixture(t)
	const verifyTime = 40 * time.Millisecond
	f.users = identity.New(f.st, identity.Options{Params: identity.CheapParams, VerifyTime: verifyTime, Logger: discard()})
	f.deps.Users = f.users
	f.addUser(t, "alice", "right")
	th, err := throttle.New(f.st, throttle.Config{PairFree: 1}, func() time.Time { return testNow }, f.deps.Audit)
	if err != nil {
		t.Fatal(err)
	}
	f.deps.Guard = th
	n := f.mustBuild(t, "data_store_decision", "")
	for _, what := range []string{"checked", "refused"} {
		ctx := newCtx()
		ctx.Shared["username"] = "alice"
		ctx.Transient["password"] = "wrong"
		start := time.Now()
		if act := run(t, n, ctx); act.Outcome != "false" {
			t.Fatalf("%s: %+v", what, act)
		}
		if took := time.Since(start); took < verifyTime {
			t.Errorf("%s attempt took %v, less than a verification (%v)", what, took, verifyTime)
		}
	}
	if f.rec.Count(audit.ThrottleRefused) != 1 {
		t.Errorf("%d refusals, want the second attempt refused", f.rec.Count(audit.ThrottleRefused))
	}
}

// TestDataStoreDecisionReadsUserWithTheGuard: with a guard that batches (the throttle),
// the account is read in the batch that counts the attempt, not in a round trip of its
// own, for a known user and an unknown one alike.
func TestDataStoreDecisionReadsUserWithTheGuard(t *testing.T) {
	f := newFixture(t)
	counted := storetest.NewCounting(f.st)
	f.users = identity.New(counted, identity.Options{Params: identity.Params{MemoryKiB: 8, Iterations: 1, Parallelism: 1}, Logger: discard()})
	f.deps.Users, f.deps.Store = f.users, counted
	th, err := throttle.New(counted, throttle.Config{}, func() time.Time { return testNow }, f.deps.Audit)
	if err != nil {
		t.Fatal(err)
	}
	f.deps.Guard = th
	f.addUser(t, "alice", "right")
	n := f.mustBuild(t, "data_store_decision", "")
	for _, tc := range []struct{ user, pw, outcome string }{
		{"alice", "right", "true"}, {"alice", "wrong", "false"}, {"nobody", "right", "false"},
	} {
		counted.Reset()
		ctx := newCtx()
		ctx.Shared["username"] = tc.user
		ctx.Transient["password"] = tc.pw
		if act := run(t, n, ctx); act.Outcome != tc.outcome {
			t.Fatalf("%s/%s: %+v, want %s", tc.user, tc.pw, act, tc.outcome)
		}
		ops := counted.Ops()
		if len(ops) == 0 || ops[0].Name != "Do" || !strings.HasSuffix(ops[0].Key, "Get user:{/}:"+tc.user) {
			t.Fatalf("%s/%s: first store call %v, want the guard's batch carrying the user's read", tc.user, tc.pw, ops)
		}
		for _, op := range ops {
			if op.Name == "Get" && strings.HasPrefix(op.Key, "user:") {
				t.Errorf("%s/%s: the user was read on its own: %v", tc.user, tc.pw, ops)
			}
		}
	}
}
