package basic_test

import (
	"context"
	"errors"
	"testing"

	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/store"
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
			ctx.Shared[basicAuthUser] = "stale" // an earlier success must not survive a failure
			if tc.password != nil {
				ctx.Transient["password"] = tc.password
			}
			act := run(t, n, ctx)
			if act.Outcome != tc.outcome || act.FailureMessage != tc.failure {
				t.Errorf("action %+v, want outcome %q failure %q", act, tc.outcome, tc.failure)
			}
			if got := ctx.Shared[basicAuthUser]; got != tc.authUser {
				t.Errorf("authenticated user %v, want %v", got, tc.authUser)
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
		if got := ctx.Shared["n.layout"]; len(got.([]int)) != 3 {
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
