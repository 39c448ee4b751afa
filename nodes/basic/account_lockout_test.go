package basic_test

import (
	"context"
	"testing"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/sessions"
)

func TestAccountLockout(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "alice", "pw")
	status := func() identity.Status {
		u, err := f.users.Get(context.Background(), "/", "alice")
		if err != nil {
			t.Fatal(err)
		}
		return u.Status
	}

	for range 2 {
		if _, _, err := f.sessions.Grant(context.Background(), sessions.Grant{Username: "alice", Realm: "/"}); err != nil {
			t.Fatal(err)
		}
	}
	lock := f.mustBuild(t, "account_lockout", "")
	ctx := newCtx()
	ctx.Shared["username"] = "alice"
	if o := run(t, lock, ctx).Outcome; o != "outcome" {
		t.Errorf("outcome %q", o)
	}
	if s := status(); s != identity.StatusLocked {
		t.Errorf("status %q after lock", s)
	}
	// The lock ended both sessions at once, not on their next validation.
	if l, err := f.sessions.List(context.Background(), "/", "alice"); err != nil || len(l) != 0 {
		t.Errorf("sessions after the lock: %v %v", l, err)
	}
	evs := f.rec.Events()
	if len(evs) != 1 {
		t.Fatalf("events %+v, want one", evs)
	}
	if e := evs[0]; e.Type != audit.AccountLocked || e.User != "alice" || e.Realm != "/" || e.Journey != "j" || e.FlowID != "flow1" || e.Node != "n" || e.Client != "192.0.2.7" {
		t.Errorf("event %+v", e)
	}

	unlock := f.mustBuild(t, "account_lockout", `{"lock_action": "unlock"}`)
	if o := run(t, unlock, ctx).Outcome; o != "outcome" {
		t.Errorf("outcome %q", o)
	}
	if s := status(); s != identity.StatusActive {
		t.Errorf("status %q after unlock", s)
	}
	if n := len(f.rec.Events()); n != 1 {
		t.Errorf("%d events, unlock is not audited as a lock", n)
	}
	// A disabled account is an administrator's decision: a journey's unlock leaves it.
	if err := f.users.SetStatus(context.Background(), "/", "alice", identity.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	run(t, unlock, ctx)
	if s := status(); s != identity.StatusDisabled {
		t.Errorf("status %q after unlocking a disabled account", s)
	}
}

func TestAccountLockoutFails(t *testing.T) {
	f := newFixture(t)
	n := f.mustBuild(t, "account_lockout", "")
	for name, user := range map[string]string{"no username": "", "unknown user": "ghost"} {
		ctx := newCtx()
		if user != "" {
			ctx.Shared["username"] = user
		}
		if _, err := n.Process(ctx); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if n := len(f.rec.Events()); n != 0 {
		t.Errorf("%d events for locks that did not happen", n)
	}
}

func TestAccountLockoutConfigProblems(t *testing.T) {
	f := newFixture(t)
	wantProblems(t, f, "account_lockout", `{"lock_action": "LOCK"}`, "/nodes/n/config/lock_action bad_config")
	wantProblems(t, f, "account_lockout", `{"lock_action": true}`, "/nodes/n/config/lock_action bad_config")
}
