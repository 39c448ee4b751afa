package apptest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/authenticator"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/internal/app"
	"github.com/arbor-auth/arbor/push"
)

// Phone opens the reference authenticator with its accounts in dir/phone.json, on the
// clock now (nil: the real one).
func Phone(t testing.TB, dir string, now func() time.Time) *authenticator.Authenticator {
	t.Helper()
	p, err := authenticator.Open(filepath.Join(dir, "phone.json"))
	if err != nil {
		t.Fatal(err)
	}
	if now != nil {
		p.Now = now
	}
	return p
}

// RegisterPhone registers phone as user's push device outside any journey, as a
// journey's push registration step would, and returns the phone's new account.
func RegisterPhone(t testing.TB, a *app.App, phone *authenticator.Authenticator, realm, user string, opts authenticator.RegisterOptions) *authenticator.Account {
	t.Helper()
	ctx := context.Background()
	reg, err := a.Push.BeginRegistration(ctx, push.RegistrationRequest{Realm: realm, Username: user, FlowID: "setup"})
	if err != nil {
		t.Fatal(err)
	}
	acc, err := phone.Register(ctx, reg.URI, opts)
	if err != nil {
		t.Fatal(err)
	}
	return acc
}

// Enroll is RegisterPhone and the rest a registration through a journey leaves: MFA
// no longer skippable, and fresh recovery codes, which it returns.
func Enroll(t testing.TB, a *app.App, phone *authenticator.Authenticator, realm, user string, opts authenticator.RegisterOptions) []string {
	t.Helper()
	RegisterPhone(t, a, phone, realm, user, opts)
	ctx := context.Background()
	if err := a.Devices.SetSkip(ctx, realm, user, devices.MethodPush, devices.SkipNotSkippable); err != nil {
		t.Fatal(err)
	}
	codes, err := a.Devices.NewRecoveryCodes(ctx, realm, user)
	if err != nil {
		t.Fatal(err)
	}
	return codes
}
