package mfa_test

import (
	"context"
	"slices"
	"testing"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/mfa"
	"github.com/arbor-auth/arbor/oath"
	"github.com/arbor-auth/arbor/push"
)

// pinFixture is a fixture whose registry keeps PINs, with alice's authenticator app
// (PIN "app-pin") and a second app without a PIN, and bob's app (PIN "bob-pin").
func pinFixture(t *testing.T) (f *fixture, app, bare string) {
	t.Helper()
	f = newFixture(t, push.Config{})
	f.env.Devices.UsePINHasher(f.users)
	ctx := context.Background()
	app, bare = addApp(t, f, "alice", oath.DefaultParams).ID, addApp(t, f, "alice", oath.DefaultParams).ID
	bob := addApp(t, f, "bob", oath.DefaultParams).ID
	for _, p := range []struct{ user, id, pin string }{{"alice", app, "app-pin"}, {"bob", bob, "bob-pin"}} {
		if err := f.env.Devices.SetPIN(ctx, "/", p.user, p.id, p.pin); err != nil {
			t.Fatal(err)
		}
	}
	return f, app, bare
}

func TestTokenPIN(t *testing.T) {
	tests := []struct {
		name      string
		pin       string
		throttled bool
		outcome   string
		guard     []string // after Allow
		devices   []string // "app": the app with the PIN
		factors   []nodes.Factor
		event     string
	}{
		{"right PIN", "app-pin", false, "true", []string{"succeeded alice"}, []string{"app"}, []nodes.Factor{nodes.FactorPIN}, audit.PINAccepted},
		{"wrong PIN", "app-pim", false, "false", []string{"failed alice"}, []string{}, nil, audit.PINRejected},
		{"PIN of another user's device", "bob-pin", false, "false", []string{"failed alice"}, []string{}, nil, audit.PINRejected},
		{"throttled: not checked", "app-pin", true, "false", nil, []string{}, nil, audit.PINRejected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, app, _ := pinFixture(t)
			g := &testGuard{blocked: tc.throttled}
			f.deps.Guard = g
			h := &countingHasher{PINHasher: f.users}
			f.env.Devices.UsePINHasher(h)
			n := f.mustBuild(t, "token_pin", "")
			ctx := f.newCtx()
			sent := wantSend(t, n, ctx, nodes.TypePassword)
			if sent[0].OutString("prompt") != "PIN" {
				t.Errorf("prompt %q", sent[0].OutString("prompt"))
			}
			f.next(t, ctx, sent, tc.pin)
			act := wantOutcome(t, n, ctx, tc.outcome)
			if tc.outcome == "false" && act.StepError == "" {
				t.Error("no error to show on a retry")
			}
			if got := g.took(); len(got) == 0 || !slices.Equal(got[1:], tc.guard) {
				t.Errorf("guard calls %v, want Allow then %v", got, tc.guard)
			}
			want := slices.Clone(tc.devices)
			for i := range want {
				if want[i] == "app" {
					want[i] = app
				}
			}
			got := roundTrip(t, ctx.Shared)[mfa.KeyPINDevices]
			if ids, _ := got.([]any); len(ids) != len(want) || (len(want) == 1 && ids[0] != want[0]) {
				t.Errorf("%s = %v, want %v", mfa.KeyPINDevices, got, want)
			}
			if f := ctx.Shared.Factors(); !slices.Equal(f, tc.factors) {
				t.Errorf("factors %v, want %v", f, tc.factors)
			}
			if f.env.Audit.Count(tc.event) != 1 {
				t.Errorf("no %s event", tc.event)
			}
			// A refused attempt waits as long as a check, so timing does not tell.
			if tc.throttled && (h.waits != 1 || h.verifies != 0) {
				t.Errorf("throttled: %d waits, %d verifications; want 1 wait, none verified", h.waits, h.verifies)
			}
			if !tc.throttled && (h.waits != 0 || h.verifies == 0) {
				t.Errorf("checked: %d waits, %d verifications; want a verification, no wait", h.waits, h.verifies)
			}
		})
	}
}

// countingHasher counts the PIN verifications and the waits in place of one.
type countingHasher struct {
	devices.PINHasher
	waits, verifies int
}

func (h *countingHasher) VerifySecret(ctx context.Context, encoded, secret string) (bool, error) {
	h.verifies++
	return h.PINHasher.VerifySecret(ctx, encoded, secret)
}

func (h *countingHasher) WaitVerifyTime(ctx context.Context) error {
	h.waits++
	return h.PINHasher.WaitVerifyTime(ctx)
}

// TestTokenPINNoneSet: a user whose devices have no PIN matches nothing, whatever is
// typed.
func TestTokenPINNoneSet(t *testing.T) {
	f := newFixture(t, push.Config{})
	f.env.Devices.UsePINHasher(f.users)
	addApp(t, f, "alice", oath.DefaultParams)
	n := f.mustBuild(t, "token_pin", "")
	ctx := f.newCtx()
	sent := wantSend(t, n, ctx, nodes.TypePassword)
	f.next(t, ctx, sent, "")
	wantSend(t, n, ctx, nodes.TypePassword) // an empty answer asks again
	f.next(t, ctx, sent, "1234")
	wantOutcome(t, n, ctx, "false")
}

// TestPINBindsTheToken: after token_pin only the codes of the device whose PIN was
// given count (LinOTP: the PIN belongs to the token). Alice has the app with PIN
// app-pin, a second app with the same secret and no PIN, and a third app with another
// secret and PIN other-pin.
func TestPINBindsTheToken(t *testing.T) {
	otherSecret := []byte("another 20-byte key!")
	for _, tc := range []struct {
		name, pin string
		secret    []byte
		outcome   string
	}{
		{"the PIN and the code of one token", "app-pin", oathTestSecret, "success"},
		{"the PIN of one token, the code of another", "app-pin", otherSecret, "failure"},
		{"the PIN of one token, the code of others (one without a PIN)", "other-pin", oathTestSecret, "failure"},
		{"the other token's PIN and code", "other-pin", otherSecret, "success"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, _, _ := pinFixture(t)
			bg := context.Background()
			other, err := f.env.Devices.AddOATH(bg, "/", "alice", devices.OATHDevice{Name: "Other app", Params: oath.DefaultParams}, otherSecret)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.env.Devices.SetPIN(bg, "/", "alice", other.ID, "other-pin"); err != nil {
				t.Fatal(err)
			}
			pin := f.mustBuild(t, "token_pin", "")
			verifier := f.mustBuild(t, "oath_token_verifier", "")
			ctx := f.newCtx()
			sent := wantSend(t, pin, ctx, nodes.TypePassword)
			f.next(t, ctx, sent, tc.pin)
			wantOutcome(t, pin, ctx, "true")
			ctx.Callbacks = nil
			sent = wantSend(t, verifier, ctx, nodes.TypeName)
			code, err := oath.Code(oath.DefaultParams, tc.secret, f.env.Now(), 0)
			if err != nil {
				t.Fatal(err)
			}
			f.next(t, ctx, sent, code)
			wantOutcome(t, verifier, ctx, tc.outcome)
			if has := slices.Contains(ctx.Shared.Factors(), nodes.FactorOTP); has != (tc.outcome == "success") {
				t.Errorf("otp factor recorded: %v", has)
			}
		})
	}
}

// TestPINBindsThePush: after token_pin, push_sender pushes only to a device whose PIN
// was given: with the PIN of alice's app (not a push device) nothing is sent.
func TestPINBindsThePush(t *testing.T) {
	f, _, _ := pinFixture(t)
	f.register(t, "alice")
	pin := f.mustBuild(t, "token_pin", "")
	sender := f.mustBuild(t, "push_sender", `{"mandatory": true}`)
	ctx := f.newCtx()
	sent := wantSend(t, pin, ctx, nodes.TypePassword)
	f.next(t, ctx, sent, "app-pin")
	wantOutcome(t, pin, ctx, "true")
	ctx.Callbacks = nil
	wantOutcome(t, sender, ctx, "not_registered")
	if f.env.Audit.Count(audit.PushSent) != 0 {
		t.Error("a push went to a device whose PIN was not given")
	}
	// Without token_pin the same sender pushes to the phone.
	ctx = f.newCtx()
	wantOutcome(t, sender, ctx, "sent")
}
