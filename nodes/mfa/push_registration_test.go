package mfa_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/authenticator"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/mfa"
	"github.com/arbor-auth/arbor/push"
	"github.com/arbor-auth/arbor/store"
)

func TestPushRegistrationOutcomes(t *testing.T) {
	f := newFixture(t, push.Config{})
	_, outs, err := f.build("push_registration", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomeIDs(outs); !reflect.DeepEqual(got, []string{"success", "failure", "timeout"}) {
		t.Errorf("outcomes %v", got)
	}
}

// startRegistration runs the first visit of a push_registration node and returns what
// it sent and the URI it showed.
func startRegistration(t *testing.T, n nodes.Node, ctx *nodes.Context) ([]nodes.Callback, *push.RegistrationURI) {
	t.Helper()
	sent := wantSend(t, n, ctx, nodes.TypeTextOutput, nodes.TypeHiddenValue, nodes.TypePollingWait)
	if id := sent[1].OutString("id"); id != mfa.HiddenRegistration {
		t.Errorf("hidden value id %q, want %q", id, mfa.HiddenRegistration)
	}
	if sent[1].In("") != mfa.HiddenRegistration {
		t.Errorf("hidden value input %v, want its id", sent[1].In(""))
	}
	if w := sent[2].OutString("waitTime"); w != "2000" {
		t.Errorf("waitTime %s, want 2000", w)
	}
	raw := sent[1].OutString("value")
	u, err := push.ParseURI(raw)
	if err != nil {
		t.Fatalf("registration URI %q: %v", raw, err)
	}
	return sent, u
}

// noSecrets fails if the registration URI, its secret or the recovery codes are in
// shared state in any form.
func noSecrets(t *testing.T, s nodes.State, u *push.RegistrationURI, codes []string) {
	t.Helper()
	js := stateJSON(t, s)
	forms := []string{"pushauth://", push.URIScheme + ":"}
	if u != nil {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			forms = append(forms, enc.EncodeToString(u.Secret))
		}
		forms = append(forms, string(u.Secret))
	}
	forms = append(forms, codes...)
	for _, form := range forms {
		if strings.Contains(js, form) {
			t.Fatalf("shared state holds %q in clear: %s", form, js)
		}
	}
}

// denyRegistration answers the registration in u as a device that declines it.
func denyRegistration(t *testing.T, f *fixture, u *push.RegistrationURI) {
	t.Helper()
	m := hmac.New(sha256.New, u.Secret)
	m.Write(u.Challenge)
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"response": base64.StdEncoding.EncodeToString(m.Sum(nil)), "deny": true,
	}).SignedString(u.Secret)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"messageId": u.MessageID, "jwt": tok})
	resp, err := f.env.Server.Client().Post(u.RegisterURL, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("deny registration: %s", resp.Status)
	}
}

// TestPushRegistration drives a registration through its polls: the URI is shown, a
// poll before the device answers shows the same URI again (kept only sealed in the
// flow), and the device's answer (or its absence) decides the outcome.
func TestPushRegistration(t *testing.T) {
	bg := context.Background()
	tests := []struct {
		name    string
		cfg     string
		before  devices.Skip // the user's skip state before
		device  func(t *testing.T, f *fixture, u *push.RegistrationURI)
		outcome string
		codes   bool
	}{
		{name: "registered", cfg: `{}`, outcome: "success", codes: true,
			device: func(t *testing.T, f *fixture, u *push.RegistrationURI) {
				if _, err := f.env.Authenticator(t).Register(bg, u.String(), authenticator.RegisterOptions{Name: "Alice's phone"}); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "registered after opting out", cfg: `{}`, before: devices.SkipSkippable, outcome: "success", codes: true,
			device: func(t *testing.T, f *fixture, u *push.RegistrationURI) {
				if _, err := f.env.Authenticator(t).Register(bg, u.String(), authenticator.RegisterOptions{Name: "Alice's phone"}); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "registered without recovery codes", cfg: `{"generate_recovery_codes": false}`, outcome: "success",
			device: func(t *testing.T, f *fixture, u *push.RegistrationURI) {
				if _, err := f.env.Authenticator(t).Register(bg, u.String(), authenticator.RegisterOptions{Name: "Alice's phone"}); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "declined", cfg: `{}`, outcome: "failure",
			device: func(t *testing.T, f *fixture, u *push.RegistrationURI) { denyRegistration(t, f, u) }},
		{name: "not scanned in time", cfg: `{}`, outcome: "timeout",
			device: func(t *testing.T, f *fixture, u *push.RegistrationURI) { f.env.Clock.Advance(60 * time.Second) }},
		{name: "not scanned within a short timeout", cfg: `{"timeout": 10}`, outcome: "timeout",
			device: func(t *testing.T, f *fixture, u *push.RegistrationURI) { f.env.Clock.Advance(10 * time.Second) }},
		{name: "scanned too late", cfg: `{"timeout": 10}`, outcome: "timeout",
			device: func(t *testing.T, f *fixture, u *push.RegistrationURI) {
				f.env.Clock.Advance(11 * time.Second)
				if _, err := f.env.Authenticator(t).Register(bg, u.String(), authenticator.RegisterOptions{}); err == nil {
					t.Error("an expired registration was accepted")
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, push.Config{})
			if tc.before != devices.SkipNotSet {
				f.env.Devices.SetSkip(bg, "/", "alice", devices.MethodPush, tc.before)
			}
			n := f.mustBuild(t, "push_registration", tc.cfg)
			ctx := f.newCtx()
			sent, u := startRegistration(t, n, ctx)
			if u.Username != "alice" || u.AccountName != "alice" || u.Issuer != "Arbor" {
				t.Errorf("URI for %q/%q at %q", u.Username, u.AccountName, u.Issuer)
			}
			if got := ctx.Shared.String("arbor.node.n.message_id"); got != u.MessageID {
				t.Errorf("n.message_id %q, URI's %q", got, u.MessageID)
			}
			noSecrets(t, ctx.Shared, u, nil)

			// Polls before the device answers show the same QR code.
			for i := range 2 {
				f.next(t, ctx, sent, mfa.HiddenRegistration)
				ctx.Now = ctx.Now.Add(2 * time.Second)
				again := wantSend(t, n, ctx, nodes.TypeTextOutput, nodes.TypeHiddenValue, nodes.TypePollingWait)
				if !reflect.DeepEqual(again, sent) {
					t.Fatalf("poll %d sent %+v\nwant the same as before %+v", i, again, sent)
				}
				noSecrets(t, ctx.Shared, u, nil)
			}

			f.signIn(t, "alice", 2)
			tc.device(t, f, u)
			f.next(t, ctx, sent, mfa.HiddenRegistration)
			wantOutcome(t, n, ctx, tc.outcome)
			// A registered device ends the sessions earned before it; nothing else does.
			if left, want := f.sessionCount(t, "alice"), map[bool]int{true: 0, false: 2}[tc.outcome == "success"]; left != want {
				t.Errorf("%d sessions left after %s, want %d", left, tc.outcome, want)
			}
			if ctx.Shared.Has("arbor.node.n.message_id") || ctx.Shared.Has("arbor.node.n.uri") {
				t.Errorf("registration state left after %s: %v", tc.outcome, ctx.Shared)
			}

			devs, _ := f.env.Devices.Devices(bg, "/", "alice")
			if (tc.outcome == "success") != (len(devs) == 1) {
				t.Fatalf("%d devices after %s", len(devs), tc.outcome)
			}
			wantSkip := tc.before
			if tc.outcome == "success" {
				wantSkip = devices.SkipNotSkippable
			}
			if s := f.skip(t, "alice", devices.MethodPush); s != wantSkip {
				t.Errorf("skip state %v, want %v", s, wantSkip)
			}
			codes, _ := ctx.Transient[mfa.KeyRecoveryCodes].([]string)
			left, _ := f.env.Devices.RecoveryCodesLeft(bg, "/", "alice")
			if !tc.codes {
				if ctx.Transient.Has(mfa.KeyRecoveryCodes) || ctx.Transient.Has(mfa.KeyRecoveryDevice) || left != 0 {
					t.Errorf("codes %v (%d stored) without generate_recovery_codes", ctx.Transient, left)
				}
				if c := f.env.Audit.Count(audit.RecoveryCodesNew); c != 0 {
					t.Errorf("%d %s events", c, audit.RecoveryCodesNew)
				}
				return
			}
			if len(codes) != devices.RecoveryCodeCount || left != devices.RecoveryCodeCount {
				t.Fatalf("%d codes in transient state, %d stored; want %d", len(codes), left, devices.RecoveryCodeCount)
			}
			for _, c := range codes {
				if devices.NormalizeRecoveryCode(c) == "" {
					t.Errorf("code %q", c)
				}
			}
			if name := ctx.Transient.String(mfa.KeyRecoveryDevice); name != "Alice's phone" {
				t.Errorf("device name %q", name)
			}
			noSecrets(t, ctx.Shared, u, codes)
			if c := f.env.Audit.Count(audit.RecoveryCodesNew); c != 1 {
				t.Errorf("%d %s events", c, audit.RecoveryCodesNew)
			}
			// The codes work.
			if ok, err := f.env.Devices.UseRecoveryCode(bg, "/", "alice", codes[0]); !ok || err != nil {
				t.Errorf("a generated code does not work: %v %v", ok, err)
			}
		})
	}
}

// TestPushRegistrationHasDevice: a user who already has a device is not asked again.
func TestPushRegistrationHasDevice(t *testing.T) {
	f := newFixture(t, push.Config{})
	f.register(t, "alice")
	ctx := f.newCtx()
	wantOutcome(t, f.mustBuild(t, "push_registration", ""), ctx, "success")
	if len(ctx.Shared) != 1 || len(ctx.Transient) != 0 {
		t.Errorf("state written: shared %v transient %v", ctx.Shared, ctx.Transient)
	}
	if s := f.skip(t, "alice", devices.MethodPush); s != devices.SkipNotSet {
		t.Errorf("skip state %v, want it untouched", s)
	}
	if len(f.env.Deliverer.Messages()) != 0 {
		t.Error("pushed")
	}
}

// TestPushRegistrationURI checks that the config reaches the QR code.
func TestPushRegistrationURI(t *testing.T) {
	f := newFixture(t, push.Config{})
	ctx := context.Background()
	if err := f.users.Create(ctx, &identity.User{Realm: "/", Username: "alice", Attributes: map[string]any{"mail": "alice@example.com", "phone": 33}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, cfg, user         string
		issuer, account, colour string
		image                   string
	}{
		{name: "defaults", cfg: ``, user: "alice", issuer: "Arbor", account: "alice", colour: "032b75"},
		{name: "attribute", cfg: `{"account_name": "mail"}`, user: "alice", issuer: "Arbor", account: "alice@example.com", colour: "032b75"},
		{name: "attribute not text", cfg: `{"account_name": "phone"}`, user: "alice", issuer: "Arbor", account: "alice", colour: "032b75"},
		{name: "attribute missing", cfg: `{"account_name": "nickname"}`, user: "alice", issuer: "Arbor", account: "alice", colour: "032b75"},
		{name: "unknown user", cfg: `{"account_name": "mail"}`, user: "bob", issuer: "Arbor", account: "bob", colour: "032b75"},
		{name: "branding", cfg: `{"issuer": "Example: Corp", "color": "#FF8800", "image_url": "https://example.com/logo.png"}`,
			user: "alice", issuer: "Example: Corp", account: "alice", colour: "FF8800", image: "https://example.com/logo.png"},
		{name: "short colour", cfg: `{"color": "abc"}`, user: "alice", issuer: "Arbor", account: "alice", colour: "abc"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := f.newCtx()
			c.Shared[nodes.KeyUsername] = tc.user
			_, u := startRegistration(t, f.mustBuild(t, "push_registration", tc.cfg), c)
			got := []string{u.Issuer, u.AccountName, u.Username, u.Color, u.ImageURL}
			want := []string{tc.issuer, tc.account, tc.user, tc.colour, tc.image}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("issuer, account, user, colour, image = %q, want %q", got, want)
			}
			if !strings.HasPrefix(u.RegisterURL, f.env.Server.URL+"/json/realms/root/") {
				t.Errorf("register URL %q", u.RegisterURL)
			}
		})
	}
}

// TestPushRegistrationAfresh: entering the node afresh (the journey looped back) starts
// a new registration instead of polling the old one.
func TestPushRegistrationAfresh(t *testing.T) {
	f := newFixture(t, push.Config{})
	n := f.mustBuild(t, "push_registration", "")
	ctx := f.newCtx()
	_, first := startRegistration(t, n, ctx)
	ctx.Shared = roundTrip(t, ctx.Shared)
	sent, second := startRegistration(t, n, ctx)
	if first.MessageID == second.MessageID || bytes.Equal(first.Secret, second.Secret) {
		t.Fatal("a fresh visit reused the registration")
	}
	if got := ctx.Shared.String("arbor.node.n.message_id"); got != second.MessageID {
		t.Errorf("polling %q, want the new registration", got)
	}
	// The old QR code still registers (it is valid until it expires), but this flow now
	// waits for the new one.
	if _, err := f.env.Authenticator(t).Register(context.Background(), second.String(), authenticator.RegisterOptions{}); err != nil {
		t.Fatal(err)
	}
	f.next(t, ctx, sent, mfa.HiddenRegistration)
	wantOutcome(t, n, ctx, "success")
}

// TestPushRegistrationSealedState checks that the sealed URI opens only for the flow
// and node it was sealed for, and that a broken seal is an error, not a new QR code.
func TestPushRegistrationSealedState(t *testing.T) {
	tests := []struct {
		name string
		edit func(ctx *nodes.Context)
	}{
		{name: "tampered", edit: func(ctx *nodes.Context) {
			s := ctx.Shared.String("arbor.node.n.uri")
			ctx.Shared["arbor.node.n.uri"] = s[:len(s)-4] + "AAAA"
		}},
		{name: "missing", edit: func(ctx *nodes.Context) { delete(ctx.Shared, "arbor.node.n.uri") }},
		{name: "copied to another node", edit: func(ctx *nodes.Context) {
			ctx.Shared["arbor.node.m.uri"], ctx.Shared["arbor.node.m.message_id"] = ctx.Shared["arbor.node.n.uri"], ctx.Shared["arbor.node.n.message_id"]
			ctx.NodeID = "m"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, push.Config{})
			n := f.mustBuild(t, "push_registration", "")
			ctx := f.newCtx()
			sent, _ := startRegistration(t, n, ctx)
			f.next(t, ctx, sent, mfa.HiddenRegistration)
			tc.edit(ctx)
			err := runErr(t, n, ctx)
			if !strings.Contains(err.Error(), "registration state") {
				t.Errorf("error %q", err)
			}
		})
	}
}

func TestPushRegistrationErrors(t *testing.T) {
	tests := []struct {
		name  string
		poll  bool // fail on a poll rather than the first visit
		setup func(f *fixture, ctx *nodes.Context)
		is    error
	}{
		{name: "no username", setup: func(f *fixture, ctx *nodes.Context) { delete(ctx.Shared, nodes.KeyUsername) }},
		{name: "store down on the first visit", setup: func(f *fixture, ctx *nodes.Context) { f.st.Down.Store(true) }, is: store.ErrUnavailable},
		{name: "store down on a poll", poll: true, setup: func(f *fixture, ctx *nodes.Context) { f.st.Down.Store(true) }, is: store.ErrUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, push.Config{})
			n := f.mustBuild(t, "push_registration", "")
			ctx := f.newCtx()
			if tc.poll {
				sent, _ := startRegistration(t, n, ctx)
				f.next(t, ctx, sent, mfa.HiddenRegistration)
			}
			tc.setup(f, ctx)
			before := stateJSON(t, ctx.Shared)
			err := runErr(t, n, ctx)
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q does not wrap %v", err, tc.is)
			}
			if got := stateJSON(t, ctx.Shared); got != before {
				t.Errorf("an error changed shared state:\n%s\nwas\n%s", got, before)
			}
		})
	}
}

// TestPushRegistrationWithoutKeys: built with services but no key ring, the node
// cannot keep the URI sealed, so it refuses to run.
func TestPushRegistrationWithoutKeys(t *testing.T) {
	f := newFixture(t, push.Config{})
	deps := *f.deps
	deps.Keys = nil
	n, _, err := buildWith(f.reg, &nodes.Build{Deps: &deps, Registry: f.reg, NodeID: "n", Pointer: "/nodes/n/config"}, "push_registration", "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := f.newCtx()
	runErr(t, n, ctx)
	if len(ctx.Shared) != 1 {
		t.Errorf("state written: %v", ctx.Shared)
	}
}

func TestPushRegistrationConfigProblems(t *testing.T) {
	f := newFixture(t, push.Config{})
	wantProblems(t, f, "push_registration", `{"color": "zzz"}`, "/nodes/n/config/color bad_config")
	wantProblems(t, f, "push_registration", `{"color": "#12345"}`, "/nodes/n/config/color bad_config")
	wantProblems(t, f, "push_registration", `{"color": "rgb(0,0,0)"}`, "/nodes/n/config/color bad_config")
	wantProblems(t, f, "push_registration", `{"timeout": 9}`, "/nodes/n/config/timeout bad_config")
	wantProblems(t, f, "push_registration", `{"timeout": 3601}`, "/nodes/n/config/timeout bad_config")
	wantProblems(t, f, "push_registration", `{"image_url": "http://example.com/logo.png"}`, "/nodes/n/config/image_url bad_config")
	wantProblems(t, f, "push_registration", `{"issuer": ""}`, "/nodes/n/config/issuer bad_config")
	wantProblems(t, f, "push_registration", `{"account_name": "1mail"}`, "/nodes/n/config/account_name bad_config")
	wantProblems(t, f, "push_registration", `{"generate_recovery_codes": "no", "timeout": 0}`,
		"/nodes/n/config/generate_recovery_codes bad_config", "/nodes/n/config/timeout bad_config")
}
