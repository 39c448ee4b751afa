package push_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/authenticator/authtest"
	"github.com/arbor-auth/arbor/internal/testredis"
	"github.com/arbor-auth/arbor/push"
	"github.com/arbor-auth/arbor/store"
	"github.com/arbor-auth/arbor/store/redisstore"
)

// TestEndToEndRedis runs the whole protocol against a real redis-server: registration
// through the reference authenticator, a tap push, a number-matching push, a denial, a
// replay, and then an outage, which must surface as store.ErrUnavailable and a 503.
func TestEndToEndRedis(t *testing.T) {
	srv := testredis.Start(t)
	st, err := redisstore.Open(srv.URL())
	if err != nil {
		t.Fatalf("redisstore.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	env := authtest.New(t, authtest.Options{Store: st, RealClock: true})

	a, acc := env.Register(t, "/alpha", "Alice")

	tap := send(t, env, push.SendRequest{Realm: "/alpha", Username: "alice", FlowID: "f-tap"})
	if _, err := a.ApproveLatest(ctx, 0); err != nil {
		t.Fatalf("ApproveLatest: %v", err)
	}
	if r := result(t, env, tap.MessageID, "f-other"); r.Status != push.StatusExpired {
		t.Errorf("another flow sees %v", r.Status)
	}
	if r := result(t, env, tap.MessageID, "f-tap"); r.Status != push.StatusApproved || r.DeviceID != acc.ID {
		t.Fatalf("tap Result = %+v", r)
	}
	if r := result(t, env, tap.MessageID, "f-tap"); r.Status != push.StatusExpired {
		t.Errorf("second Result = %v, want expired", r.Status)
	}

	ch := send(t, env, push.SendRequest{Realm: "/alpha", Username: "alice", FlowID: "f-ch", PushType: push.TypeChallenge})
	if err := a.Approve(ctx, ch.MessageID, ch.Number); err != nil {
		t.Fatalf("Approve: %v", err)
	}
	if r := result(t, env, ch.MessageID, "f-ch"); r.Status != push.StatusApproved || r.Number != ch.Number {
		t.Fatalf("challenge Result = %+v", r)
	}

	den := send(t, env, push.SendRequest{Realm: "/alpha", Username: "alice", FlowID: "f-den"})
	m, _ := env.Deliverer.Last()
	if _, err := a.DenyLatest(ctx); err != nil {
		t.Fatalf("DenyLatest: %v", err)
	}
	// Replaying a well-formed approval of the denied push is refused.
	path := "/json/realms/root/realms/alpha/push/sns/message?_action=authenticate"
	body := mustJSON(map[string]string{"messageId": den.MessageID, "jwt": signClaims(t, acc.Secret, map[string]any{"response": answerFor(t, m, acc.Secret)})})
	if status, out := post(t, env, path, body); status != 400 || !strings.Contains(out["message"].(string), "already") {
		t.Errorf("replay: %d %v", status, out)
	}
	if r := result(t, env, den.MessageID, "f-den"); r.Status != push.StatusDenied {
		t.Fatalf("denied Result = %v", r.Status)
	}
	if env.Audit.Count(audit.PushApproved) != 2 || env.Audit.Count(audit.PushDenied) != 1 || env.Audit.Count(audit.PushRejected) != 1 {
		t.Errorf("events: %+v", env.Audit.Events())
	}

	srv.Stop()
	if _, err := env.Push.Send(ctx, push.SendRequest{Realm: "/alpha", Username: "alice", FlowID: "f-down"}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Send with Redis down: err = %v, want store.ErrUnavailable", err)
	}
	if status, _ := post(t, env, path, body); status != http.StatusServiceUnavailable {
		t.Errorf("device reply with Redis down: %d, want 503", status)
	}
}
