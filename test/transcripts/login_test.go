package transcripts

import (
	"testing"

	"github.com/arbor-auth/arbor/audit"
)

func TestLogin(t *testing.T) {
	e := newEnv(t, "")
	l := e.start("login")
	l.credentials()
	if l.success == nil || l.success["tokenId"] == nil {
		t.Fatalf("not logged in: %v", l.failure)
	}
	l = e.start("login")
	l.answer(map[string]any{"NameCallback": "alice", "PasswordCallback": "wrong"})
	if l.failure == nil || l.status != 401 {
		t.Fatalf("wrong password: %d %v", l.status, l.success)
	}
	l = e.start("login")
	l.answer(map[string]any{"NameCallback": "nobody", "PasswordCallback": password})
	if l.failure == nil || l.status != 401 {
		t.Fatalf("unknown user: %d %v", l.status, l.success)
	}
	e.expectAudit(audit.LoginSuccess, 1)
	e.golden("login")
}
