package push_test

import (
	"errors"
	"testing"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/authenticator/authtest"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/push"
	"github.com/arbor-auth/arbor/store"
)

// TestCancel withdraws a pending push: the device can no longer answer it nor see it in
// a poll, the flow reads it as expired, and only the flow that sent it can cancel it.
func TestCancel(t *testing.T) {
	env := authtest.New(t, authtest.Options{})
	a, _ := env.Register(t, "/", "alice")
	s := send(t, env, push.SendRequest{Username: "alice", PushType: push.TypeTap})

	for _, c := range []struct{ id, flow string }{
		{s.MessageID, "flow-2"},                      // another flow's
		{push.AuthenticatePrefix + "nope", "flow-1"}, // unknown
		{"REGISTER:x", "flow-1"},                     // not a push id
		{s.MessageID, ""},
	} {
		if err := env.Push.Cancel(ctx, c.id, c.flow); err != nil {
			t.Fatalf("Cancel(%q, %q): %v", c.id, c.flow, err)
		}
	}
	if env.Audit.Count(audit.PushCancelled) != 0 {
		t.Fatalf("a refused cancel was audited: %+v", env.Audit.Events())
	}
	if p, err := a.Pending(ctx); err != nil || len(p) != 1 {
		t.Fatalf("the push is not pending after refused cancels: %v, %v", p, err)
	}

	if err := env.Push.Cancel(ctx, s.MessageID, "flow-1"); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if err := env.Push.Cancel(ctx, s.MessageID, "flow-1"); err != nil {
		t.Fatalf("second Cancel: %v", err)
	}
	if env.Audit.Count(audit.PushCancelled) != 1 {
		t.Errorf("%d push.cancelled events, want 1", env.Audit.Count(audit.PushCancelled))
	}
	if err := a.Approve(ctx, s.MessageID, 0); err == nil {
		t.Error("the device approved a cancelled push")
	}
	if r := result(t, env, s.MessageID, "flow-1"); r.Status != push.StatusExpired {
		t.Errorf("Result after cancel: %v", r.Status)
	}
	if env.Audit.Count(audit.PushApproved) != 0 {
		t.Errorf("a cancelled push was approved: %+v", env.Audit.Events())
	}
	// Polling the server shows nothing pending any more.
	if p, err := a.Pending(ctx); err != nil || len(p) != 0 {
		t.Errorf("pending after cancel: %v, %v", p, err)
	}
}

func TestCancelStoreUnavailable(t *testing.T) {
	env := authtest.New(t, authtest.Options{})
	down := downStore{env.Store}
	svc := push.New(push.Config{PublicURL: env.Server.URL}, down, devices.New(down, env.Ring), env.Deliverer, env.Ring, nil, quiet)
	if err := svc.Cancel(ctx, push.AuthenticatePrefix+"x", "f"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Cancel: err = %v, want store.ErrUnavailable", err)
	}
}
