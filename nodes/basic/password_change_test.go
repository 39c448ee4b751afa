package basic_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/basic"
	"github.com/arbor-auth/arbor/sessions"
)

func TestPasswordChange(t *testing.T) {
	cases := []struct {
		name       string
		config     string
		flagged    bool
		p1, p2     string
		wantStep   string // the error the step is asked again with; "" when it ends
		wantOut    string
		wantNewPwd bool
	}{
		{"not flagged passes by", "", false, "", "", "", "not_required", false},
		{"flagged, changed", "", true, "Fresh-Passw0rd", "Fresh-Passw0rd", "", "changed", true},
		{"asked of everyone", `{"required_only":false}`, false, "Fresh-Passw0rd", "Fresh-Passw0rd", "", "changed", true},
		{"not the same twice", "", true, "Fresh-Passw0rd", "Fresh-Passw0rx", "The two new passwords are not the same.", "", false},
		{"too short", `{"min_length":12}`, true, "short-pw", "short-pw", "The new password must have at least 12 characters.", "", false},
		{"too long", "", true, strings.Repeat("x", 257), strings.Repeat("x", 257), "The new password must have at most 256 characters.", "", false},
		{"the user name", "", true, "Alice-Long", "Alice-Long", "The new password must not be your user name.", "", false},
		{"the current password", "", true, "old-secret", "old-secret", "The new password must not be your current password.", "", false},
		{"empty asks again", "", true, "", "", "", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			bg := context.Background()
			f.addUser(t, "alice-long", "old-secret")
			if _, err := f.users.Update(bg, "/", "alice-long", func(u *identity.User) error { u.MustChangePassword = c.flagged; return nil }); err != nil {
				t.Fatal(err)
			}
			other, _, err := f.sessions.Grant(bg, sessions.Grant{Username: "alice-long", Realm: "/"})
			if err != nil {
				t.Fatal(err)
			}
			n := f.mustBuild(t, "password_change", c.config)
			ctx := newCtx()
			ctx.Shared[nodes.KeyUsername] = "alice-long"
			act := run(t, n, ctx)
			if c.wantOut == "not_required" {
				if act.Outcome != "not_required" {
					t.Fatalf("outcome %q, want not_required", act.Outcome)
				}
				return
			}
			if act.Stage != basic.StagePasswordChange || !reflect.DeepEqual(types(act.Callbacks), []string{nodes.TypePassword, nodes.TypePassword}) {
				t.Fatalf("first visit: stage %q callbacks %v", act.Stage, types(act.Callbacks))
			}
			ctx.Callbacks = answer(act.Callbacks, c.p1, c.p2)
			act = run(t, n, ctx)
			if act.Outcome != c.wantOut || act.StepError != c.wantStep {
				t.Fatalf("outcome %q step error %q, want %q %q", act.Outcome, act.StepError, c.wantOut, c.wantStep)
			}
			_, oldErr := f.users.Authenticate(bg, "/", "alice-long", "old-secret")
			u, _ := f.users.Get(bg, "/", "alice-long")
			_, sessErr := f.sessions.Validate(bg, other)
			if c.wantNewPwd {
				if _, err := f.users.Authenticate(bg, "/", "alice-long", c.p1); err != nil || oldErr == nil {
					t.Errorf("new password: %v; old password still works: %v", err, oldErr == nil)
				}
				if u.MustChangePassword {
					t.Error("flag not cleared")
				}
				if sessErr == nil {
					t.Error("the user's other session survived the change")
				}
				if evs := f.rec.Events(); len(evs) == 0 || evs[0].Type != audit.PasswordChanged {
					t.Errorf("events %+v", evs)
				}
				return
			}
			if oldErr != nil || u.MustChangePassword != c.flagged || sessErr != nil {
				t.Errorf("a refused change changed something: old password %v, flag %v, session %v", oldErr, u.MustChangePassword, sessErr)
			}
			if c.wantStep != "" {
				if evs := f.rec.Events(); len(evs) != 1 || evs[0].Type != audit.PasswordRefused || evs[0].Reason != c.wantStep {
					t.Errorf("events %+v", evs)
				}
			}
		})
	}
}

func TestPasswordChangeFails(t *testing.T) {
	f := newFixture(t)
	n := f.mustBuild(t, "password_change", "")
	ctx := newCtx()
	if _, err := n.Process(ctx); err == nil {
		t.Error("no user: no error")
	}
	ctx.Shared[nodes.KeyUsername] = "ghost"
	if _, err := n.Process(ctx); err == nil {
		t.Error("unknown user: no error")
	}
	f.addUser(t, "alice", "pw")
	if _, err := f.users.Update(context.Background(), "/", "alice", func(u *identity.User) error { u.MustChangePassword = true; return nil }); err != nil {
		t.Fatal(err)
	}
	ctx.Shared[nodes.KeyUsername] = "alice"
	f.st.Down.Store(true)
	if _, err := n.Process(ctx); err == nil {
		t.Error("store down: no error")
	}
	wantProblems(t, f, "password_change", `{"min_length":0}`, "/nodes/n/config/min_length bad_config")
}
