package mfa_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/mfa"
	"github.com/arbor-auth/arbor/oath"
	"github.com/arbor-auth/arbor/push"
)

func TestOTPOrPushCollectorOutcomes(t *testing.T) {
	f := newFixture(t, push.Config{})
	_, outs, err := f.build("otp_or_push_collector", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomeIDs(outs); !reflect.DeepEqual(got, []string{"push", "code", "recovery_code"}) {
		t.Errorf("outcomes %v", got)
	}
	wantProblems(t, f, "otp_or_push_collector", `{"min_digits": 8, "max_digits": 6}`, "/nodes/n/config/min_digits bad_config")
}

// TestOTPOrPushCollector answers the prompt with each input: blank and "push" ask for a
// push, digits are a code, anything else a recovery code; what was typed goes to
// transient state only, for the node after it.
func TestOTPOrPushCollector(t *testing.T) {
	tests := []struct {
		name, config string
		input        any
		outcome      string
		otp, rc      string // transient oneTimePassword, recoveryCodeInput
	}{
		{name: "blank", input: "", outcome: "push"},
		{name: "spaces", input: "  ", outcome: "push"},
		{name: "nil", input: nil, outcome: "push"},
		{name: "push", input: "push", outcome: "push"},
		{name: "PUSH with spaces", input: " PUSH ", outcome: "push"},
		{name: "six digits", input: "123456", outcome: "code", otp: "123456"},
		{name: "eight digits, trimmed", input: " 12345678\n", outcome: "code", otp: "12345678"},
		{name: "five digits", input: "12345", outcome: "recovery_code", rc: "12345"},
		{name: "nine digits", input: "123456789", outcome: "recovery_code", rc: "123456789"},
		{name: "recovery code", input: "Ab3dE-fGh9J", outcome: "recovery_code", rc: "Ab3dE-fGh9J"},
		{name: "four digits allowed", config: `{"min_digits": 4}`, input: "1234", outcome: "code", otp: "1234"},
		{name: "a number, not text", input: 123456.0, outcome: "code", otp: "123456"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, push.Config{})
			n := f.mustBuild(t, "otp_or_push_collector", tc.config)
			ctx := f.newCtx()
			sent := wantSend(t, n, ctx, nodes.TypePassword, nodes.TypeHiddenValue)
			if got := sent[1].OutString("id"); got != mfa.HiddenPushOffered {
				t.Errorf("hidden value id %q, want %q", got, mfa.HiddenPushOffered)
			}
			if got := sent[0].OutString("prompt"); got != "Please enter the token code. You can also submit a blank response to initiate a push notification." {
				t.Errorf("prompt %q", got)
			}
			f.next(t, ctx, sent, tc.input, mfa.HiddenPushOffered)
			wantOutcome(t, n, ctx, tc.outcome)
			if got := ctx.Transient.String(mfa.KeyOneTimePassword); got != tc.otp {
				t.Errorf("oneTimePassword %q, want %q", got, tc.otp)
			}
			if got := ctx.Transient.String(mfa.KeyRecoveryCodeInput); got != tc.rc {
				t.Errorf("recoveryCodeInput %q, want %q", got, tc.rc)
			}
			if s := stateJSON(t, ctx.Shared); s != `{"username":"alice"}` {
				t.Errorf("shared state %s: what was typed must not be stored", s)
			}
		})
	}
}

// TestRecoveryCodeFromCollector checks that recovery_code_collector_decision checks a
// code typed at otp_or_push_collector without asking again, once.
func TestRecoveryCodeFromCollector(t *testing.T) {
	f := newFixture(t, push.Config{})
	codes, err := f.env.Devices.NewRecoveryCodes(context.Background(), "/", "alice")
	if err != nil {
		t.Fatal(err)
	}
	n := f.mustBuild(t, "recovery_code_collector_decision", "")
	for _, tc := range []struct{ code, outcome string }{{codes[2], "true"}, {codes[2], "false"}, {"NOTACODE00", "false"}} {
		ctx := f.newCtx()
		ctx.Transient[mfa.KeyRecoveryCodeInput] = tc.code
		wantOutcome(t, n, ctx, tc.outcome)
		if ctx.Transient.Has(mfa.KeyRecoveryCodeInput) {
			t.Errorf("the typed code stays in transient state")
		}
	}
	// Without one it asks, as before.
	wantSend(t, n, f.newCtx(), nodes.TypeName)
}

// TestOTPFromCollector checks that oath_token_verifier checks a code typed at
// otp_or_push_collector without asking again: right, reused, wrong, and for a user
// without an app.
func TestOTPFromCollector(t *testing.T) {
	f := newFixture(t, push.Config{})
	bg := context.Background()
	secret := []byte("0123456789abcdefghij")
	if _, err := f.env.Devices.AddOATH(bg, "/", "alice", devices.OATHDevice{Params: oath.DefaultParams}, secret); err != nil {
		t.Fatal(err)
	}
	n := f.mustBuild(t, "oath_token_verifier", "")
	code, err := oath.Code(oath.DefaultParams, secret, f.env.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx := f.newCtx()
	ctx.Transient[mfa.KeyOneTimePassword] = code
	wantOutcome(t, n, ctx, "success")
	if ctx.Transient.Has(mfa.KeyOneTimePassword) {
		t.Error("the typed code stays in transient state")
	}
	// The same code again in this time step: asked again with the wait message.
	ctx = f.newCtx()
	ctx.Transient[mfa.KeyOneTimePassword] = code
	cbs := wantSend(t, n, ctx, nodes.TypeTextOutput, nodes.TypeName)
	if msg := cbs[0].OutString("message"); !strings.HasPrefix(msg, "Please wait ") {
		t.Errorf("reused code: message %q", msg)
	}
	ctx = f.newCtx()
	ctx.Transient[mfa.KeyOneTimePassword] = "000000"
	if code == "000000" {
		ctx.Transient[mfa.KeyOneTimePassword] = "111111"
	}
	wantOutcome(t, n, ctx, "failure")
	ctx = f.newCtx()
	ctx.Shared[nodes.KeyUsername] = "bob"
	ctx.Transient[mfa.KeyOneTimePassword] = "123456"
	wantOutcome(t, n, ctx, "not_registered")
}
