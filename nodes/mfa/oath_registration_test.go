package mfa_test

import (
	"context"
	"encoding/base32"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/mfa"
	"github.com/arbor-auth/arbor/oath"
	"github.com/arbor-auth/arbor/push"
	"github.com/arbor-auth/arbor/store"
)

func TestOATHRegistrationConfig(t *testing.T) {
	f := newFixture(t, push.Config{})
	_, outs, err := f.build("oath_registration", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomeIDs(outs); !reflect.DeepEqual(got, []string{"success", "failure"}) {
		t.Errorf("outcomes %v", got)
	}
	wantProblems(t, f, "oath_registration", `{"digits": 7}`, "/nodes/n/config/digits bad_config")
	wantProblems(t, f, "oath_registration", `{"algorithm": "MD5"}`, "/nodes/n/config/algorithm bad_config")
	wantProblems(t, f, "oath_registration", `{"kind": "motp", "period": 5}`, "/nodes/n/config/kind bad_config", "/nodes/n/config/period bad_config")
}

// registrationURI runs a fresh visit and returns the callbacks sent and the key URI.
func registrationURI(t *testing.T, n nodes.Node, ctx *nodes.Context) ([]nodes.Callback, *oath.Key, string) {
	t.Helper()
	sent := wantSend(t, n, ctx, nodes.TypeTextOutput, nodes.TypeHiddenValue, nodes.TypeName)
	if sent[1].OutString("id") != mfa.HiddenRegistration {
		t.Fatalf("hidden value id %q", sent[1].OutString("id"))
	}
	uri := sent[1].OutString("value")
	key, err := oath.ParseKey(uri)
	if err != nil {
		t.Fatalf("ParseKey(%q): %v", uri, err)
	}
	// The URI and its secret are in the flow only sealed.
	js := stateJSON(t, ctx.Shared)
	for _, form := range []string{"otpauth", base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(key.Secret)[:16], string(key.Secret)} {
		if strings.Contains(js, form) {
			t.Fatalf("shared state holds %q in clear: %s", form, js)
		}
	}
	return sent, key, uri
}

func TestOATHRegistration(t *testing.T) {
	f := newFixture(t, push.Config{})
	n := f.mustBuild(t, "oath_registration", `{"issuer": "Example Corp"}`)
	ctx := f.newCtx()
	sent, key, uri := registrationURI(t, n, ctx)
	if key.Params != oath.DefaultParams || key.Issuer != "Example Corp" || key.Account != "alice" {
		t.Errorf("key %+v from %q", key, uri)
	}
	if got := sent[0].OutString("message"); got != "Scan the QR code with your authenticator app, then enter the code it shows." {
		t.Errorf("message %q", got)
	}

	// An empty answer shows the same QR code again; a wrong code says so.
	f.next(t, ctx, sent, mfa.HiddenRegistration, "")
	again := wantSend(t, n, ctx, nodes.TypeTextOutput, nodes.TypeHiddenValue, nodes.TypeName)
	if again[1].OutString("value") != uri {
		t.Errorf("a new key on an empty answer")
	}
	f.next(t, ctx, sent, mfa.HiddenRegistration, "000000")
	wrong := wantSend(t, n, ctx, nodes.TypeTextOutput, nodes.TypeHiddenValue, nodes.TypeTextOutput, nodes.TypeName)
	if wrong[2].OutString("message") != "That code is not right. Enter the code your app shows now." || wrong[2].OutString("messageType") != nodes.MessageError {
		t.Errorf("wrong code message %+v", wrong[2])
	}
	if d, _ := f.env.Devices.OATHDevices(context.Background(), "/", "alice"); len(d) != 0 {
		t.Fatalf("a device was stored before a right code: %+v", d)
	}

	code, err := oath.Code(key.Params, key.Secret, f.env.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	f.signIn(t, "alice", 2)
	f.next(t, ctx, sent, mfa.HiddenRegistration, code)
	wantOutcome(t, n, ctx, "success")
	// Sessions earned before the new factor end with its registration.
	if got := f.sessionCount(t, "alice"); got != 0 {
		t.Errorf("%d sessions outlived the registration", got)
	}
	if got := f.ended.Reasons(); !reflect.DeepEqual(got, []string{"authenticator app registered"}) {
		t.Errorf("sessions ended for %q", got)
	}
	if got := ctx.Shared.Factors(); !reflect.DeepEqual(got, []nodes.Factor{nodes.FactorOTP}) {
		t.Errorf("factors %v", got)
	}
	for k := range ctx.Shared {
		if strings.HasPrefix(k, "n.") {
			t.Errorf("registration state %q left in the flow", k)
		}
	}
	list, _ := f.env.Devices.OATHDevices(context.Background(), "/", "alice")
	if len(list) != 1 || list[0].Params != oath.DefaultParams || list[0].Name != "Authenticator app" || list[0].Issuer != "Example Corp" {
		t.Fatalf("devices %+v", list)
	}
	if s, err := f.env.Devices.OATHSecret(&list[0]); err != nil || string(s) != string(key.Secret) {
		t.Errorf("stored secret %v, %v", s, err)
	}
	if f.skip(t, "alice", devices.MethodOATH) != devices.SkipNotSkippable {
		t.Errorf("skip state not NOT_SKIPPABLE")
	}
	codes, _ := ctx.Transient[mfa.KeyRecoveryCodes].([]string)
	if len(codes) != devices.RecoveryCodeCount || ctx.Transient[mfa.KeyRecoveryDevice] != "Authenticator app" {
		t.Errorf("recovery codes %v for %v", ctx.Transient[mfa.KeyRecoveryCodes], ctx.Transient[mfa.KeyRecoveryDevice])
	}
	if f.env.Audit.Count(audit.DeviceRegistered) != 1 || f.env.Audit.Count(audit.RecoveryCodesNew) != 1 {
		t.Errorf("events %+v", f.env.Audit.Events())
	}

	// The confirmation code was used: the verifier refuses it in the same step.
	v := f.mustBuild(t, "oath_token_verifier", "")
	vctx := f.newCtx()
	vsent := wantSend(t, v, vctx, nodes.TypeName)
	f.next(t, vctx, vsent, code)
	if act := run(t, v, vctx); act.Outcome != "" || !strings.HasPrefix(act.Callbacks[0].OutString("message"), "Please wait ") {
		t.Errorf("the registration code was accepted again: %+v", act)
	}

	// A second registration in a login is refused: the user already has an app.
	ctx = f.newCtx()
	act := run(t, n, ctx)
	if act.Outcome != "failure" || act.FailureMessage == "" {
		t.Errorf("second registration: %+v", act)
	}
}

func TestOATHRegistrationOptions(t *testing.T) {
	tests := []struct {
		config string
		want   oath.Params
		codes  bool
	}{
		{`{"kind": "hotp", "digits": 8, "generate_recovery_codes": false}`, oath.Params{Kind: oath.HOTP, Algorithm: oath.SHA1, Digits: 8}, false},
		{`{"algorithm": "SHA256", "period": 60}`, oath.Params{Kind: oath.TOTP, Algorithm: oath.SHA256, Digits: 6, Period: 60}, true},
		{`{"algorithm": "SHA512", "digits": 8}`, oath.Params{Kind: oath.TOTP, Algorithm: oath.SHA512, Digits: 8, Period: 30}, true},
	}
	for _, tc := range tests {
		t.Run(tc.config, func(t *testing.T) {
			f := newFixture(t, push.Config{})
			if err := f.users.Create(context.Background(), &identity.User{Realm: "/", Username: "alice", Attributes: map[string]any{"mail": "alice@example.com"}}); err != nil {
				t.Fatal(err)
			}
			n := f.mustBuild(t, "oath_registration", strings.Replace(tc.config, "{", `{"account_name": "mail", `, 1))
			ctx := f.newCtx()
			sent, key, _ := registrationURI(t, n, ctx)
			if key.Params != tc.want || len(key.Secret) != tc.want.SecretLen() || key.Account != "alice@example.com" {
				t.Fatalf("key %+v, want %+v", key, tc.want)
			}
			code, _ := oath.Code(key.Params, key.Secret, f.env.Now(), key.Counter)
			f.next(t, ctx, sent, mfa.HiddenRegistration, code)
			wantOutcome(t, n, ctx, "success")
			list, _ := f.env.Devices.OATHDevices(context.Background(), "/", "alice")
			if len(list) != 1 || list[0].Params != tc.want {
				t.Fatalf("devices %+v", list)
			}
			if tc.want.Kind == oath.HOTP && list[0].State.Counter != 1 {
				t.Errorf("HOTP counter %d after the confirmation code, want 1", list[0].State.Counter)
			}
			if _, has := ctx.Transient[mfa.KeyRecoveryCodes]; has != tc.codes {
				t.Errorf("recovery codes generated: %v, want %v", has, tc.codes)
			}
		})
	}
}

func TestOATHRegistrationGivesUp(t *testing.T) {
	f := newFixture(t, push.Config{})
	n := f.mustBuild(t, "oath_registration", `{"max_attempts": 2}`)
	ctx := f.newCtx()
	sent, _, _ := registrationURI(t, n, ctx)
	f.next(t, ctx, sent, mfa.HiddenRegistration, "111111")
	wantSend(t, n, ctx, nodes.TypeTextOutput, nodes.TypeHiddenValue, nodes.TypeTextOutput, nodes.TypeName)
	f.next(t, ctx, sent, mfa.HiddenRegistration, "222222")
	wantOutcome(t, n, ctx, "failure")
	if len(ctx.Shared) != 1 {
		t.Errorf("state left behind: %v", ctx.Shared)
	}
	// Coming back draws a new key.
	ctx.Callbacks = nil
	registrationURI(t, n, ctx)
}

func TestOATHRegistrationStoreDown(t *testing.T) {
	f := newFixture(t, push.Config{})
	n := f.mustBuild(t, "oath_registration", "")
	ctx := f.newCtx()
	sent, key, _ := registrationURI(t, n, ctx)
	code, _ := oath.Code(key.Params, key.Secret, f.env.Now(), 0)
	f.next(t, ctx, sent, mfa.HiddenRegistration, code)
	f.st.Down.Store(true)
	if err := runErr(t, n, ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("err %v", err)
	}
	f.st.Down.Store(false)
	// The step is retried with the same answer once the store is back.
	wantOutcome(t, n, ctx, "success")
}
