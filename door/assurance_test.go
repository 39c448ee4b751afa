package door

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLevel(t *testing.T) {
	for _, tc := range []struct {
		factors []string
		want    int
	}{
		{nil, LevelNone},
		{[]string{"pwd"}, LevelOneFactor},
		{[]string{"push"}, LevelOneFactor},
		{[]string{"push", "otp"}, LevelOneFactor}, // both possession: one kind
		{[]string{"pwd", "push"}, LevelMultiFactor},
		{[]string{"pwd", "otp"}, LevelMultiFactor},
		{[]string{"pwd", "recovery_code"}, LevelMultiFactor},
		{[]string{"pwd", "pwd"}, LevelOneFactor},
	} {
		if got := Level(tc.factors); got != tc.want {
			t.Errorf("Level(%v) = %d, want %d", tc.factors, got, tc.want)
		}
	}
}

func TestTruncateUser(t *testing.T) {
	if got := TruncateUser("alice"); got != "alice" {
		t.Errorf("short name changed: %q", got)
	}
	long := strings.Repeat("é", 40)
	got := TruncateUser(long)
	if !utf8.ValidString(got) || len(got) > 32+len("…") || !strings.HasSuffix(got, "…") {
		t.Errorf("TruncateUser(40×é) = %q", got)
	}
}

func TestPolicyDefaults(t *testing.T) {
	c := &Core{cfg: Config{Policies: map[string]RealmPolicy{"/alpha": {MFABypass: BypassRestricted}}}}
	if p := c.Policy("/"); p.DefaultJourney != "login" || p.StepUpJourney != "push-mfa" || p.MFABypass != BypassRefuse {
		t.Errorf("shipped defaults: %+v", p)
	}
	if p := c.Policy("/alpha"); p.StepUpJourney != "push-mfa" || p.MFABypass != BypassRestricted {
		t.Errorf("alpha: %+v", p)
	}
	if err := (RealmPolicy{MFABypass: "allow"}).check(); err == nil {
		t.Error("mfa_bypass allow accepted")
	}
}
