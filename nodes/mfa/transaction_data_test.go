package mfa_test

import (
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/mfa"
	"github.com/arbor-auth/arbor/push"
)

func TestTransactionData(t *testing.T) {
	tests := []struct {
		name    string
		answer  string
		problem string // the error shown when it asks again; empty: it goes on
	}{
		{name: "text", answer: "Login to dc1.example.net"},
		{name: "multi-line text", answer: "Transfer 100 EUR\nto ACME"},
		{name: "empty", answer: ""},
		{name: "control character", answer: "a\x1bb", problem: "The transaction text has characters that cannot be shown."},
		{name: "too long", answer: strings.Repeat("x", push.MaxTransactionText+1), problem: "The transaction text is longer than 1024 bytes."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, push.Config{})
			n := f.mustBuild(t, "transaction_data", `{"prompt": {"en": "Payment"}}`)
			ctx := f.newCtx()
			act := run(t, n, ctx)
			want := []nodes.Callback{nodes.TextInputCallback("Payment", "")}
			if !reflect.DeepEqual(act.Callbacks, want) {
				t.Fatalf("asks %+v", act.Callbacks)
			}
			f.next(t, ctx, act.Callbacks, tc.answer)
			act = run(t, n, ctx)
			if tc.problem != "" {
				want = append([]nodes.Callback{nodes.TextOutputCallback(tc.problem, nodes.MessageError)}, want...)
				if act.Outcome != "" || !reflect.DeepEqual(act.Callbacks, want) {
					t.Fatalf("outcome %q, callbacks %+v", act.Outcome, act.Callbacks)
				}
				if ctx.Shared.Has(mfa.KeyTransactionID) {
					t.Error("a refused text got a transaction id")
				}
				return
			}
			if act.Outcome != "outcome" || ctx.Shared.String(mfa.KeyTransactionData) != tc.answer {
				t.Fatalf("outcome %q, data %q", act.Outcome, ctx.Shared.String(mfa.KeyTransactionData))
			}
			if id := ctx.Shared.String(mfa.KeyTransactionID); !regexp.MustCompile(`^\d{20}$`).MatchString(id) {
				t.Errorf("transaction id %q", id)
			}
		})
	}
}

func TestTransactionIDsDiffer(t *testing.T) {
	f := newFixture(t, push.Config{})
	n := f.mustBuild(t, "transaction_data", "")
	seen := map[string]bool{}
	for range 50 {
		ctx := f.newCtx()
		act := run(t, n, ctx)
		f.next(t, ctx, act.Callbacks, "x")
		run(t, n, ctx)
		id := ctx.Shared.String(mfa.KeyTransactionID)
		if seen[id] {
			t.Fatalf("transaction id %s twice", id)
		}
		seen[id] = true
	}
}

// TestPushSenderTransaction: with transaction on, the push shows the transaction's text
// and carries its id; without a transaction_data before it, the node fails loudly.
func TestPushSenderTransaction(t *testing.T) {
	f := newFixture(t, push.Config{})
	f.register(t, "alice")
	n := f.mustBuild(t, "push_sender", `{"transaction": true, "push_type": "tap", "mandatory": true}`)
	ctx := f.newCtx()
	if _, err := n.Process(ctx); err == nil || !strings.Contains(err.Error(), "transaction_data") {
		t.Fatalf("without a transaction: %v", err)
	}
	ctx.Shared[mfa.KeyTransactionID] = "12345678901234567890"
	ctx.Shared[mfa.KeyTransactionData] = "Login to dc1.example.net"
	if act := run(t, n, ctx); act.Outcome != "sent" {
		t.Fatalf("outcome %q", act.Outcome)
	}
	m, _ := f.env.Deliverer.Last()
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(m.JWT, claims); err != nil {
		t.Fatal(err)
	}
	if claims["m"] != "Login to dc1.example.net" || claims["tx"] != "12345678901234567890" {
		t.Errorf("claims %v", claims)
	}
	if ctx.Shared.String(mfa.KeyTransactionDevice) == "" {
		t.Error("the device is not recorded")
	}
}
