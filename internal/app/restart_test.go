package app

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/internal/config"
)

// TestRestartKeepsLiveState restarts Arbor on the same data with the same --users and
// --journeys: what changed at runtime stays (a lock, a password, a failure count on
// the user, recovery codes, a journey version saved since); then a changed users file
// and journey file apply.
func TestRestartKeepsLiveState(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	users := filepath.Join(dir, "users.yaml")
	jdir := filepath.Join(dir, "journeys")
	os.Mkdir(jdir, 0o755)
	jfile := filepath.Join(jdir, "mine.json")
	const journey = `{"name":"mine","start":"a","nodes":{"a":{"type":"username","outcomes":{"outcome":"success"}}}}`
	write := func(path, s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(users, "users:\n  - {username: alice, password: first}\n  - {username: bob, password: first}\n")
	write(jfile, journey)
	start := func() *App {
		t.Helper()
		cfg, err := config.Load([]string{"--data", filepath.Join(dir, "data"), "--users", users, "--journeys", jdir,
			"--hash-memory-kib", "8", "--hash-iterations", "1", "--demo"}, func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		a, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return a
	}

	a := start()
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	check(a.Users.SetStatus(ctx, "/", "alice", identity.StatusLocked))
	check(a.Users.SetPassword(ctx, "/", "bob", "changed at runtime"))
	check(a.Users.SetAttribute(ctx, "/", "bob", "retryLimitNodeCount", 2))
	check(a.Users.SetStatus(ctx, "/", DemoUser, identity.StatusLocked))
	_, err := a.Devices.NewRecoveryCodes(ctx, "/", "bob")
	check(err)
	check(a.Devices.SetSkip(ctx, "/", "bob", devices.MethodPush, devices.SkipSkippable))
	_, err = a.Journeys.Save(ctx, []byte(strings.Replace(journey, `"success"`, `"failure"`, 1)), "api")
	check(err)
	a.Close()

	a = start()
	if u, _ := a.Users.Get(ctx, "/", "alice"); u == nil || u.Status != identity.StatusLocked {
		t.Errorf("alice after restart: %+v, want locked", u)
	}
	if u, _ := a.Users.Get(ctx, "/", DemoUser); u == nil || u.Status != identity.StatusLocked {
		t.Errorf("demo after restart: %+v, want locked", u)
	}
	if _, err := a.Users.Authenticate(ctx, "/", "bob", "changed at runtime"); err != nil {
		t.Errorf("bob's runtime password: %v", err)
	}
	if u, _ := a.Users.Get(ctx, "/", "bob"); u == nil || u.Attributes["retryLimitNodeCount"] != float64(2) {
		t.Errorf("bob's failure count after restart: %+v", u)
	}
	if n, _ := a.Devices.RecoveryCodesLeft(ctx, "/", "bob"); n != 10 {
		t.Errorf("bob has %d recovery codes after restart, want 10", n)
	}
	if s, _ := a.Devices.SkipState(ctx, "/", "bob", devices.MethodPush); s != devices.SkipSkippable {
		t.Errorf("bob's MFA choice after restart: %v", s)
	}
	if c, err := a.Journeys.Head(ctx, "mine"); err != nil || !strings.Contains(string(c.Raw), `"failure"`) {
		t.Errorf("the journey saved at runtime was replaced: %v %s", err, c.Raw)
	}
	a.Close()

	// Changed files apply.
	write(users, "users:\n  - {username: alice, password: first}\n  - {username: bob, password: second}\n")
	write(jfile, strings.Replace(journey, `"type":"username"`, `"type":"password"`, 1))
	a = start()
	defer a.Close()
	if _, err := a.Users.Authenticate(ctx, "/", "bob", "second"); err != nil {
		t.Errorf("bob's password from the changed file: %v", err)
	}
	if u, _ := a.Users.Get(ctx, "/", "alice"); u == nil || u.Status != identity.StatusLocked {
		t.Errorf("alice after the file changed someone else: %+v, want still locked", u)
	}
	if c, err := a.Journeys.Head(ctx, "mine"); err != nil || !strings.Contains(string(c.Raw), `"password"`) {
		t.Errorf("the changed journey file did not apply: %v", err)
	}
}
