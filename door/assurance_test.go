package door

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/keys"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/oath"
	"github.com/arbor-auth/arbor/sessions"
	"github.com/arbor-auth/arbor/store/embedded"
	"github.com/arbor-auth/arbor/store/storetest"
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
		{[]string{"pin", "otp"}, LevelMultiFactor}, // a token PIN is knowledge
		{[]string{"pin", "push"}, LevelMultiFactor},
		{[]string{"pin", "pwd"}, LevelOneFactor}, // both knowledge: one kind
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

// enrolledFactors is a fixed door.Enrollments.
type enrolledFactors map[string][]string

func (e enrolledFactors) SecondFactors(_ context.Context, _, user string) ([]string, error) {
	return e[user], nil
}

// TestStepUpJourneyFollowsTheFactors: the step-up journey asks for a factor the user has:
// an app-only user is not sent to a push journey that cannot verify them.
func TestStepUpJourneyFollowsTheFactors(t *testing.T) {
	c := &Core{
		cfg: Config{Policies: map[string]RealmPolicy{"/alpha": {StepUpJourney: "alpha-push", OTPStepUpJourney: "alpha-otp"}}},
		d:   Deps{Enrollments: enrolledFactors{"phone": {"push"}, "app": {"otp"}, "both": {"push", "otp"}}},
	}
	for _, tc := range []struct{ realm, user, want string }{
		{"/", "phone", "push-mfa"},
		{"/", "app", "oath-mfa"},
		{"/", "both", "push-mfa"},
		{"/", "nobody", "push-mfa"},
		{"/alpha", "app", "alpha-otp"},
		{"/alpha", "phone", "alpha-push"},
	} {
		if got, err := c.StepUpJourney(context.Background(), tc.realm, tc.user); err != nil || got != tc.want {
			t.Errorf("%s in %s: %q, %v; want %q", tc.user, tc.realm, got, err, tc.want)
		}
	}
}

// TestRequiredBy: a journey a realm's policy names cannot be disabled or deleted; others can.
func TestRequiredBy(t *testing.T) {
	c := &Core{realms: map[string]bool{"/": true, "/alpha": true},
		cfg: Config{Policies: map[string]RealmPolicy{"/alpha": {DefaultJourney: "alpha-login", OTPStepUpJourney: "alpha-otp"}}}}
	for _, tc := range []struct{ journey, realm, role string }{
		{"login", "/", "default"},
		{"push-mfa", "/", "step-up"},
		{"oath-mfa", "/", "OTP step-up"},
		{"alpha-login", "/alpha", "default"},
		{"alpha-otp", "/alpha", "OTP step-up"},
		{"radius", "", ""},
	} {
		err := c.RequiredBy(tc.journey)
		var re *RequiredJourneyError
		if tc.realm == "" {
			if err != nil {
				t.Errorf("%s: %v, want nil", tc.journey, err)
			}
			continue
		}
		if !errors.As(err, &re) || re.Realm != tc.realm || re.Role != tc.role {
			t.Errorf("%s: %v, want required as %s by %s", tc.journey, err, tc.role, tc.realm)
		}
	}
}

// TestAuthorizeUser: the admin check on an account the caller already read needs the
// admin role on that account; a nil account is no admin; other needs ignore it.
func TestAuthorizeUser(t *testing.T) {
	c := &Core{d: Deps{Enrollments: enrolledFactors{}, Now: time.Now}, cfg: Config{FreshFor: time.Minute}}
	sess := &sessions.Session{Realm: "/", Username: "ann", Level: 1, Created: time.Now()}
	admin := &identity.User{Realm: "/", Username: "ann", Attributes: map[string]any{RolesAttribute: []any{AdminRole}}}
	plain := &identity.User{Realm: "/", Username: "ann"}
	for _, tc := range []struct {
		name string
		u    *identity.User
		n    Need
		want error
	}{
		{"admin", admin, NeedAdmin, nil},
		{"no role", plain, NeedAdmin, ErrForbidden},
		{"no account", nil, NeedAdmin, ErrForbidden},
		{"factors without an account", nil, NeedManageFactors, nil},
	} {
		if err := c.AuthorizeUser(context.Background(), sess, tc.u, tc.n); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestRequiredLevelReadsWhenNothingWasReadAhead: a step in which no password was checked
// (a push-only journey) has an empty read-ahead, and the level is decided from a read of
// the user's record made then, not skipped: a user with a second factor needs it.
func TestRequiredLevelReadsWhenNothingWasReadAhead(t *testing.T) {
	raw, err := embedded.Open(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	st := storetest.NewCounting(raw)
	ctx := context.Background()
	reg := devices.New(st, keys.Generate())
	if _, err := reg.AddOATH(ctx, "/", "alice", devices.OATHDevice{Params: oath.Params{Kind: oath.TOTP, Algorithm: oath.SHA1, Digits: 6, Period: 30}}, make([]byte, 20)); err != nil {
		t.Fatal(err)
	}
	c := &Core{d: Deps{Enrollments: reg}}
	for _, tc := range []struct {
		name string
		ra   *nodes.ReadAhead
	}{
		{"no read-ahead", nil},
		{"nothing read ahead", c.readAhead(new(nodes.ReadAhead))},
	} {
		for user, want := range map[string]int{"alice": LevelMultiFactor, "bob": LevelNone} {
			st.Reset()
			got, err := c.requiredLevelAhead(ctx, tc.ra, "/", user)
			if err != nil || got != want {
				t.Errorf("%s, %s: level %d, %v; want %d", tc.name, user, got, err, want)
			}
			if ops := st.Ops(); len(ops) != 1 || ops[0].Name != "Get" || !strings.HasPrefix(ops[0].Key, "mfa:") {
				t.Errorf("%s, %s: store calls %v, want the record's read", tc.name, user, ops)
			}
		}
	}
}
