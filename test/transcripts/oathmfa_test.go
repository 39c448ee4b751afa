package transcripts

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/oath"
)

// alignStep moves the clock to offset seconds into a 30 s time step, so that the
// "Please wait N seconds" of a transcript does not depend on when the test runs.
func (e *env) alignStep(offset time.Duration) {
	now := e.clock.Now()
	e.clock.Advance(now.Truncate(30 * time.Second).Add(30*time.Second + offset).Sub(now))
}

// enrollApp gives alice an authenticator app outside any journey: the server keeps the
// device, the phone keeps the account.
func (e *env) enrollApp() {
	e.t.Helper()
	secret, uri, err := oath.NewKey(oath.KeyRequest{Issuer: "Arbor", Account: "alice", Params: oath.DefaultParams})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := e.app.Devices.AddOATH(ctx, "/", "alice", devices.OATHDevice{Name: "Authenticator app", Params: oath.DefaultParams}, secret); err != nil {
		e.t.Fatal(err)
	}
	if err := e.app.Devices.SetSkip(ctx, "/", "alice", devices.MethodOATH, devices.SkipNotSkippable); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.phone.AddCodeAccount(uri); err != nil {
		e.t.Fatal(err)
	}
	e.script.Say("(setup) alice has an authenticator app")
}

// phoneCode reads the code the phone's app shows now.
func (e *env) phoneCode() string {
	e.t.Helper()
	code, _, _, err := e.phone.Code("")
	if err != nil {
		e.t.Fatalf("code: %v", err)
	}
	e.otps[code] = true
	e.script.Say("(phone) shows %s", e.mask("otp", code))
	return code
}

// wrongCode returns a code that is none of the phone's codes in the verifier's window
// (the secret is random, so a fixed guess could be right once in a million runs).
func (e *env) wrongCode() string {
	e.t.Helper()
	var real []string
	for _, acc := range e.phone.CodeAccounts() {
		for _, skew := range []time.Duration{-30 * time.Second, 0, 30 * time.Second} {
			c, err := oath.Code(acc.Params, acc.Secret, e.clock.Now().Add(skew), acc.Counter)
			if err != nil {
				e.t.Fatal(err)
			}
			real = append(real, c)
		}
	}
	for i := 0; ; i++ {
		if c := fmt.Sprintf("%06d", 123456+i); !slices.Contains(real, c) {
			return c
		}
	}
}

func TestOATHCode(t *testing.T) {
	e := newEnv(t, "")
	e.alignStep(10 * time.Second)
	e.enrollApp()
	l := e.start("oath-mfa")
	l.credentials()
	l.answer(map[string]any{"NameCallback": e.phoneCode()})
	if l.success == nil || l.success["tokenId"] == nil {
		t.Fatalf("not logged in: %v", l.failure)
	}
	e.expectAudit(audit.OTPAccepted, 1)
	e.expectAudit(audit.LoginSuccess, 1)
	e.golden("oath_code")
}

// TestOATHReusedCode signs in twice in one time step with the same code: the second is
// told how long to wait (seed 001), and the app's next code then works.
func TestOATHReusedCode(t *testing.T) {
	e := newEnv(t, "")
	e.alignStep(10 * time.Second)
	e.enrollApp()
	code := ""
	for i := range 2 {
		l := e.start("oath-mfa")
		l.credentials()
		if i == 0 {
			code = e.phoneCode()
		} else {
			e.script.Say("(phone) shows %s", e.mask("otp", code))
		}
		l.answer(map[string]any{"NameCallback": code})
		if i == 0 {
			if l.success == nil {
				t.Fatalf("first login: %v", l.failure)
			}
			e.wait(8 * time.Second)
			continue
		}
		msg := fmt.Sprint(output(l.callback("TextOutputCallback"), "message"))
		if msg != "Please wait 12 seconds to log in again." {
			t.Fatalf("reuse message %q", msg)
		}
		e.wait(12 * time.Second)
		l.answer(map[string]any{"NameCallback": e.phoneCode()})
		if l.success == nil {
			t.Fatalf("next code: %v", l.failure)
		}
	}
	e.expectAudit(audit.OTPReused, 1)
	e.expectAudit(audit.OTPAccepted, 2)
	e.expectAudit(audit.LoginSuccess, 2)
	e.golden("oath_reused_code")
}

func TestOATHWrongCodes(t *testing.T) {
	e := newEnv(t, "")
	e.alignStep(10 * time.Second)
	e.enrollApp()
	l := e.start("oath-mfa")
	l.credentials()
	for !l.done {
		l.answer(map[string]any{"NameCallback": e.wrongCode()})
	}
	if l.failure == nil || l.status != 401 {
		t.Fatalf("status %d %v", l.status, l.success)
	}
	e.expectAudit(audit.OTPRejected, 4)
	e.expectAudit(audit.LoginFailure, 1)
	e.golden("oath_wrong_codes")
}

func TestOATHWrongThenRight(t *testing.T) {
	e := newEnv(t, "")
	e.alignStep(10 * time.Second)
	e.enrollApp()
	l := e.start("oath-mfa")
	l.credentials()
	l.answer(map[string]any{"NameCallback": e.wrongCode()})
	l.answer(map[string]any{"NameCallback": e.phoneCode()})
	if l.success == nil {
		t.Fatalf("not logged in: %v", l.failure)
	}
	e.golden("oath_wrong_then_right")
}

// TestOATHRegisterThenCode: alice has no app; she registers one from the QR code's URI,
// confirms it with a first code (which signs her in), saves her recovery codes, and
// signs in with the app's next code later.
func TestOATHRegisterThenCode(t *testing.T) {
	e := newEnv(t, "")
	e.alignStep(10 * time.Second)
	l := e.start("oath-mfa")
	l.credentials()
	l.answer(map[string]any{"ConfirmationCallback": 0})
	uri := fmt.Sprint(output(l.callback("HiddenValueCallback"), "value"))
	if !strings.HasPrefix(uri, "otpauth://totp/Arbor:alice?") {
		t.Fatalf("registration URI %q", uri)
	}
	if _, err := e.phone.AddCodeAccount(uri); err != nil {
		t.Fatal(err)
	}
	e.script.Say("(phone) added the account from the QR code")
	l.answer(map[string]any{"NameCallback": e.wrongCode()})
	l.answer(map[string]any{"NameCallback": e.phoneCode()})
	l.callback("MetadataCallback")
	l.answer(map[string]any{"ConfirmationCallback": 0})
	if l.success == nil {
		t.Fatalf("not logged in: %v", l.failure)
	}
	e.expectAudit(audit.DeviceRegistered, 1)
	e.expectAudit(audit.RecoveryCodesNew, 1)
	if s, _ := e.app.Devices.SkipState(context.Background(), "/", "alice", devices.MethodOATH); s != devices.SkipNotSkippable {
		t.Errorf("skip state %v", s)
	}

	e.wait(30 * time.Second)
	l = e.start("oath-mfa")
	l.credentials()
	l.answer(map[string]any{"NameCallback": e.phoneCode()})
	if l.success == nil {
		t.Fatalf("second login: %v", l.failure)
	}
	e.golden("oath_register_then_code")
}
