package push_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/authenticator"
	"github.com/arbor-auth/arbor/authenticator/authtest"
	"github.com/arbor-auth/arbor/push"
	"github.com/arbor-auth/arbor/push/delivery"
)

func TestTransactionPush(t *testing.T) {
	env := authtest.New(t, authtest.Options{})
	phone, _ := env.Register(t, "/", "alice")
	// Placeholders are not filled in a transaction's text: the device shows it exactly.
	const text = "Pay 100 EUR to {{user}}\nref 42"
	sent := send(t, env, push.SendRequest{Username: "alice", Transaction: &push.Transaction{ID: "12345678901234567890", Text: text}})
	m, _ := env.Deliverer.Last()
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(m.JWT, claims); err != nil {
		t.Fatal(err)
	}
	if claims["m"] != text || claims["tx"] != "12345678901234567890" || claims["th"] != push.TransactionHash("12345678901234567890", text) || m.Body != text {
		t.Fatalf("claims %v, body %q", claims, m.Body)
	}
	n, err := phone.ForTransaction(ctx, "12345678901234567890")
	if err != nil {
		t.Fatal(err)
	}
	if n.Message != text || n.MessageID != sent.MessageID {
		t.Fatalf("phone shows %+v", n)
	}
	if _, err := phone.ForTransaction(ctx, "00000000000000000000"); !errors.Is(err, authenticator.ErrUnknownTransaction) {
		t.Errorf("another transaction: %v", err)
	}
	if err := phone.Approve(ctx, sent.MessageID, 0); err != nil {
		t.Fatal(err)
	}
	if r := result(t, env, sent.MessageID, "flow-1"); r.Status != push.StatusApproved {
		t.Fatalf("status %s", r.Status)
	}
	if env.Audit.Count(audit.PushRejected) != 0 {
		t.Error("a rejected reply was audited")
	}
}

func TestTransactionRefused(t *testing.T) {
	env := authtest.New(t, authtest.Options{})
	env.Register(t, "/", "alice")
	for _, tx := range []*push.Transaction{
		{ID: "", Text: "x"},
		{ID: "1", Text: "bell\a"},
		{ID: "1", Text: strings.Repeat("x", push.MaxTransactionText+1)},
		{ID: "1", Text: "\xff"},
	} {
		if _, err := env.Push.Send(ctx, push.SendRequest{Realm: "/", Username: "alice", FlowID: "f", Transaction: tx}); !errors.Is(err, push.ErrInvalidRequest) {
			t.Errorf("%+v: %v, want ErrInvalidRequest", tx, err)
		}
	}
	if len(env.Deliverer.Messages()) != 0 {
		t.Error("a refused transaction was delivered")
	}
}

// validity is a deliverer whose provider decides the life of a push.
type validity struct {
	delivery.Deliverer
	d time.Duration
}

func (v validity) Validity(delivery.Message) time.Duration { return v.d }

func TestProviderValidityDecidesExpiry(t *testing.T) {
	env := authtest.New(t, authtest.Options{})
	env.Register(t, "/", "alice")
	svc := push.New(push.Config{Now: env.Now}, env.Store, env.Devices, validity{env.Deliverer, 90 * time.Second}, env.Ring, nil, quiet)
	sent, err := svc.Send(ctx, push.SendRequest{Realm: "/", Username: "alice", FlowID: "f", Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if got := sent.Expires.Sub(env.Now()); got != 90*time.Second {
		t.Errorf("expires in %s, want the provider's 90s", got)
	}
	m, _ := env.Deliverer.Last()
	if m.TTL != 90*time.Second {
		t.Errorf("TTL %s", m.TTL)
	}
}
