package transcripts

import (
	"context"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/audit"
)

// A code instead of a pending push (seed 000, step 5), over the REST door: the wait
// step of testdata/journeys/push-or-code.json carries a TextInputCallback next to its
// PollingWaitCallback.

func newPushOrCode(t *testing.T) *env {
	e := newEnvArgs(t, "", "--journeys", "testdata/journeys")
	e.alignStep(10 * time.Second)
	return e
}

// lateApproval has the phone try to approve the push the flow no longer waits for.
func (e *env) lateApproval() {
	e.t.Helper()
	if _, err := e.phone.ApproveLatest(context.Background(), 0); err == nil {
		e.t.Error("the phone approved a push that was cancelled")
	}
	e.script.Say("(phone) approving the push now finds nothing to approve")
}

func TestPushOneTimeCodeInstead(t *testing.T) {
	e := newPushOrCode(t)
	e.enroll("")
	e.enrollApp()
	l := e.start("push-or-code")
	l.credentials()
	l.answer(map[string]any{"TextInputCallback": e.phoneCode()})
	if l.success == nil {
		t.Fatalf("not logged in: %v", l.failure)
	}
	e.lateApproval()
	e.expectAudit(audit.PushSent, 1)
	e.expectAudit(audit.OTPAccepted, 1)
	e.expectAudit(audit.PushCancelled, 1)
	e.expectAudit(audit.PushApproved, 0)
	e.golden("push_one_time_code_instead")
}

func TestPushRecoveryCodeInstead(t *testing.T) {
	e := newPushOrCode(t)
	codes := e.enroll("")
	l := e.start("push-or-code")
	l.credentials()
	l.answer(map[string]any{"TextInputCallback": codes[4]})
	if l.success == nil {
		t.Fatalf("not logged in: %v", l.failure)
	}
	e.lateApproval()
	e.expectAudit(audit.RecoveryCodeUsed, 1)
	e.expectAudit(audit.PushCancelled, 1)
	if left, _ := e.app.Devices.RecoveryCodesLeft(context.Background(), "/", "alice"); left != 9 {
		t.Errorf("%d recovery codes left, want 9", left)
	}
	e.golden("push_recovery_code_instead")
}

// TestPushWrongCodeThenApprove: a wrong code keeps the push waiting, and the phone's
// approval then signs in as usual.
func TestPushWrongCodeThenApprove(t *testing.T) {
	e := newPushOrCode(t)
	e.enroll("")
	e.enrollApp()
	l := e.start("push-or-code")
	l.credentials()
	l.answer(map[string]any{"TextInputCallback": e.wrongCode()})
	if l.done {
		t.Fatalf("a wrong code ended the login: %v", l.failure)
	}
	e.phoneApprove(l.number())
	e.wait(5 * time.Second)
	l.poll()
	if l.success == nil {
		t.Fatalf("not logged in: %v", l.failure)
	}
	e.expectAudit(audit.OTPRejected, 1)
	e.expectAudit(audit.PushApproved, 1)
	e.expectAudit(audit.PushCancelled, 0)
	e.golden("push_wrong_code_then_approve")
}
