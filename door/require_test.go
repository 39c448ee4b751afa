package door

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/sessions"
)

func TestRequire(t *testing.T) {
	c := &Core{cfg: Config{Policies: map[string]RealmPolicy{"/alpha": {StepUpJourney: "alpha-mfa"}}}}
	pwd := &sessions.Session{Realm: "/", Factors: []string{"pwd"}, Level: LevelOneFactor}
	push := &sessions.Session{Realm: "/", Factors: []string{"pwd", "push"}, Level: LevelMultiFactor}
	otp := &sessions.Session{Realm: "/alpha", Factors: []string{"pwd", "otp"}, Level: LevelMultiFactor}
	for _, tc := range []struct {
		name        string
		sess        *sessions.Session
		req         Requirement
		wantJourney string // empty: met
	}{
		{"no requirement", pwd, Requirement{}, ""},
		{"level met", pwd, Requirement{Level: LevelOneFactor}, ""},
		{"level short", pwd, Requirement{Level: LevelMultiFactor}, "push-mfa"},
		{"level short, journey named", pwd, Requirement{Level: LevelMultiFactor, Journey: "oath-mfa"}, "oath-mfa"},
		{"factor met", push, Requirement{Factors: []string{"push"}}, ""},
		{"level met, factor missing", otp, Requirement{Level: LevelMultiFactor, Factors: []string{"push"}}, "alpha-mfa"},
		{"two factors, one missing", push, Requirement{Factors: []string{"push", "otp"}}, "push-mfa"},
		{"otp asked for: the OTP step-up journey", push, Requirement{Factors: []string{"otp"}}, "oath-mfa"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Require(context.Background(), tc.sess, tc.req)
			if tc.wantJourney == "" {
				if err != nil {
					t.Fatalf("Require: %v, want nil", err)
				}
				return
			}
			var su *StepUpError
			if !errors.As(err, &su) {
				t.Fatalf("Require: %v, want a *StepUpError", err)
			}
			if su.Journey != tc.wantJourney || su.Realm != tc.sess.Realm || su.Level != tc.req.Level || su.Reason == "" {
				t.Errorf("Require: %+v, want journey %q in realm %s", su, tc.wantJourney, tc.sess.Realm)
			}
		})
	}
}

func TestAttributeList(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string
	}{
		{nil, ""},
		{"admin", "admin"},
		{" a, b ,,c ", "a|b|c"},
		{[]string{"x", " y "}, "x|y"},
		{[]any{"x", 7, "", "z"}, "x|z"},
		{42, ""},
	} {
		if got := strings.Join(AttributeList(tc.in), "|"); got != tc.want {
			t.Errorf("AttributeList(%#v) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if !HasRole([]any{"user", "admin"}, "admin") || HasRole("administrator", "admin") {
		t.Error("HasRole")
	}
}
