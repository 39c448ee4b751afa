package transcripts

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/authenticator"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/internal/app/apptest"
)

// enroll registers the phone for alice outside any journey and returns her recovery
// codes, as a registration through the journey would have left them.
func (e *env) enroll(comm string) []string {
	e.t.Helper()
	codes := apptest.Enroll(e.t, e.app, e.phone, "/", "alice", authenticator.RegisterOptions{Name: "Alice's phone", Communication: comm})
	for _, c := range codes {
		e.codes[c] = true
	}
	e.script.Say("(setup) alice has a registered phone and 10 recovery codes")
	return codes
}

func TestPushApprove(t *testing.T) {
	e := newEnv(t, "")
	e.enroll("")
	l := e.start("push-mfa")
	l.credentials()
	n := l.number()
	e.phoneApprove(n)
	e.wait(5 * time.Second)
	l.poll()
	if l.success == nil || l.success["tokenId"] == nil {
		t.Fatalf("not logged in: %v", l.failure)
	}
	e.expectAudit(audit.PushSent, 1)
	e.expectAudit(audit.PushApproved, 1)
	e.expectAudit(audit.LoginSuccess, 1)
	e.golden("push_approve")
}

func TestPushWaitingThenApprove(t *testing.T) {
	e := newEnv(t, "")
	e.enroll("")
	l := e.start("push-mfa")
	l.credentials()
	e.wait(5 * time.Second)
	l.poll() // no answer yet: verifier says waiting, back to the wait
	if l.done {
		t.Fatal("finished without an answer")
	}
	e.phoneApprove(l.number())
	e.wait(5 * time.Second)
	l.poll()
	if l.success == nil {
		t.Fatalf("not logged in: %v", l.failure)
	}
	e.golden("push_waiting_then_approve")
}

func TestPushDeny(t *testing.T) {
	e := newEnv(t, "")
	e.enroll("")
	l := e.start("push-mfa")
	l.credentials()
	e.phoneDeny()
	e.wait(5 * time.Second)
	l.poll()
	if l.failure == nil || l.status != 401 {
		t.Fatalf("denied push logged in: %v", l.success)
	}
	e.expectAudit(audit.PushDenied, 1)
	e.expectAudit(audit.LoginFailure, 1)
	e.golden("push_deny")
}

func TestPushWrongNumber(t *testing.T) {
	e := newEnv(t, "")
	e.enroll("")
	l := e.start("push-mfa")
	l.credentials()
	right := l.number()
	pending, err := e.phone.Pending(context.Background())
	if err != nil || len(pending) != 1 || len(pending[0].Numbers) != 3 {
		t.Fatalf("pending: %v %v", pending, err)
	}
	wrong := 0
	for _, x := range pending[0].Numbers {
		if x != right {
			wrong = x
			break
		}
	}
	if err := e.phone.Approve(context.Background(), pending[0].MessageID, wrong); !errors.Is(err, authenticator.ErrNumberRejected) {
		t.Fatalf("approve: %v, want the server's denial", err)
	}
	e.script.Say("(phone) approve picking the wrong number")
	e.wait(5 * time.Second)
	l.poll()
	if l.failure == nil {
		t.Fatal("wrong number logged in")
	}
	e.expectAudit(audit.PushMismatch, 1)
	e.expectAudit(audit.PushApproved, 0)
	e.golden("push_wrong_number")
}

func TestPushExpiryResends(t *testing.T) {
	e := newEnv(t, "")
	e.enroll("")
	l := e.start("push-mfa")
	l.credentials()
	e.wait(121 * time.Second) // past the push's 120 s timeout
	l.poll()                  // expired: a new push, a new number
	if l.done {
		t.Fatalf("expired push ended the login: %v", l.failure)
	}
	if pending, err := e.phone.Pending(context.Background()); err != nil || len(pending) != 1 {
		t.Fatalf("the phone should see only the new push: %v %v", pending, err)
	}
	e.phoneApprove(l.number())
	e.wait(5 * time.Second)
	l.poll()
	if l.success == nil {
		t.Fatalf("not logged in after resend: %v", l.failure)
	}
	e.expectAudit(audit.PushSent, 2)
	e.expectAudit(audit.PushExpired, 1)
	e.golden("push_expiry_resend")
}

func TestExitThenRecoveryCode(t *testing.T) {
	e := newEnv(t, "")
	codes := e.enroll("")
	l := e.start("push-mfa")
	l.credentials()
	l.answer(map[string]any{"ConfirmationCallback": 0}) // "Lost phone? Use a recovery code"
	l.answer(map[string]any{"NameCallback": codes[3]})
	if l.success == nil {
		t.Fatalf("good recovery code refused: %v", l.failure)
	}
	left, _ := e.app.Devices.RecoveryCodesLeft(context.Background(), "/", "alice")
	if left != 9 {
		t.Fatalf("%d codes left, want 9: the used code must be consumed", left)
	}
	// The same code does not work twice.
	l2 := e.start("push-mfa")
	l2.credentials()
	l2.answer(map[string]any{"ConfirmationCallback": 0})
	l2.answer(map[string]any{"NameCallback": codes[3]})
	if l2.done {
		t.Fatal("a used recovery code was accepted again")
	}
	e.expectAudit(audit.RecoveryCodeUsed, 1)
	e.expectAudit(audit.RecoveryCodeBad, 1)
	e.golden("exit_then_recovery_code")
}

func TestBadRecoveryCodes(t *testing.T) {
	e := newEnv(t, "")
	e.enroll("")
	l := e.start("push-mfa")
	l.credentials()
	l.answer(map[string]any{"ConfirmationCallback": 0})
	for i := 0; i < 4 && !l.done; i++ {
		l.answer(map[string]any{"NameCallback": "NOTACODE00"})
	}
	if l.failure == nil {
		t.Fatal("bad codes did not fail the login")
	}
	e.expectAudit(audit.RecoveryCodeBad, 4)
	e.golden("bad_recovery_codes")
}

func TestRegisterThenPush(t *testing.T) {
	e := newEnv(t, "")
	l := e.start("push-mfa")
	l.credentials()                                     // no device: registration options
	l.answer(map[string]any{"ConfirmationCallback": 1}) // get the app
	l.answer(map[string]any{"ConfirmationCallback": 0}) // continue: options again
	l.answer(map[string]any{"ConfirmationCallback": 0}) // register: QR code
	l.poll()                                            // the phone has not scanned yet
	e.register(l)
	l.poll() // registered: recovery codes
	codes := l.callback("MetadataCallback")
	if got := output(codes, "data").(map[string]any)["codes"].([]any); len(got) != 10 {
		t.Fatalf("%d recovery codes shown", len(got))
	}
	l.answer(map[string]any{"ConfirmationCallback": 0}) // saved them: now the push
	e.phoneApprove(l.number())
	e.wait(5 * time.Second)
	l.poll()
	if l.success == nil {
		t.Fatalf("not logged in: %v", l.failure)
	}
	skip, _ := e.app.Devices.SkipState(context.Background(), "/", "alice", devices.MethodPush)
	if skip != devices.SkipNotSkippable {
		t.Fatalf("skip state after registration: %v", skip)
	}
	e.expectAudit(audit.DeviceRegistered, 1)
	e.golden("register_codes_push")
}

func TestRegistrationTimesOut(t *testing.T) {
	e := newEnv(t, "")
	l := e.start("push-mfa")
	l.credentials()
	l.answer(map[string]any{"ConfirmationCallback": 0}) // register
	e.wait(61 * time.Second)
	l.poll() // the QR code expired: back to the options
	if l.done || l.callback("ConfirmationCallback") == nil {
		t.Fatal("timeout did not return to the options")
	}
	e.golden("registration_timeout")
}

func TestSkip(t *testing.T) {
	e := newEnv(t, "")
	l := e.start("push-mfa")
	l.credentials()
	l.answer(map[string]any{"ConfirmationCallback": 2}) // skip this step
	if l.success == nil {
		t.Fatalf("skip did not log in: %v", l.failure)
	}
	e.golden("skip")
}

func TestOptOut(t *testing.T) {
	e := newEnv(t, "")
	l := e.start("push-mfa")
	l.credentials()
	l.answer(map[string]any{"ConfirmationCallback": 3}) // opt out
	if l.success == nil {
		t.Fatalf("opt-out did not log in: %v", l.failure)
	}
	// From now on the push is skipped.
	l = e.start("push-mfa")
	l.credentials()
	if l.success == nil {
		t.Fatalf("opted-out user was asked again: %v", l.step)
	}
	e.expectAudit(audit.MFAOptOut, 1)
	e.expectAudit(audit.PushSent, 0)
	e.golden("opt_out")
}

func TestTransmissionFailure(t *testing.T) {
	e := newEnv(t, `push:
  delivery:
    providers:
      - name: relay
        type: webhook
        urls: ["http://127.0.0.1:1/unreachable"]
        secret: "0123456789abcdef0123"
        timeout: 1s
    defaults:
      webhook: relay
`)
	codes := e.enroll("webhook")
	l := e.start("push-mfa")
	l.credentials()
	// A push that cannot be delivered leads to the recovery code, saying why.
	if msg := output(l.callback("TextOutputCallback"), "message"); msg != "The push notification could not be delivered." {
		t.Fatalf("failed delivery: %v", l.describe())
	}
	l.answer(map[string]any{"NameCallback": codes[0]})
	if l.success == nil {
		t.Fatalf("recovery code after a failed delivery: %v", l.describe())
	}
	e.expectAudit(audit.PushFailed, 1)
	e.golden("transmission_failure")
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, `push:
  rate_limit: {count: 2, window: 10m}
`)
	codes := e.enroll("")
	for i := 0; i < 2; i++ {
		l := e.start("push-mfa")
		l.credentials()
		if l.done {
			t.Fatalf("push %d refused: %v", i+1, l.failure)
		}
	}
	l := e.start("push-mfa")
	l.credentials()
	// Refused, the push leads to the recovery code, and the user learns when pushes
	// are allowed again.
	const want = "Too many push notifications were sent to this account. Pushes are allowed again in 10 minutes."
	if msg := output(l.callback("TextOutputCallback"), "message"); msg != want {
		t.Fatalf("third push within the window: %v", l.describe())
	}
	l.answer(map[string]any{"NameCallback": codes[0]})
	if l.success == nil {
		t.Fatalf("recovery code after the rate limit: %v", l.describe())
	}
	e.expectAudit(audit.PushRateLimited, 1)
	e.expectAudit(audit.PushSent, 2)
	e.golden("rate_limit")
}

// TestPushEventsAreMetrics: every push audit event is counted in /metrics.
func TestPushEventsAreMetrics(t *testing.T) {
	e := newEnv(t, "")
	e.enroll("")
	l := e.start("push-mfa")
	l.credentials()
	e.phoneDeny()
	e.wait(5 * time.Second)
	l.poll()
	r, err := http.Get(e.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	for _, m := range []string{
		`arbor_audit_events_total{type="push.sent"} 1`,
		`arbor_audit_events_total{type="push.denied"} 1`,
		`arbor_audit_events_total{type="login.failure"} 1`,
		`arbor_audit_events_total{type="push.approved"} 0`,
	} {
		if !strings.Contains(string(body), m) {
			t.Errorf("metrics lack %s", m)
		}
	}
}
