package cli_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/authenticator/authtest"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/internal/app"
	"github.com/arbor-auth/arbor/internal/cli"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/nodetest"
)

// TestNodeConformance runs the node conformance suite over the full registry as the
// app builds it (app.NewRegistry, which serve and the CLI use), so every family, present and future, is checked without a list of
// types kept by hand: once with real services (a user with a password and an enrolled
// push device) and once with none, as offline validation builds nodes.
func TestNodeConformance(t *testing.T) {
	reg := app.NewRegistry()
	t.Run("services", func(t *testing.T) {
		env := authtest.New(t, authtest.Options{})
		quiet := slog.New(slog.DiscardHandler)
		users := identity.New(env.Store, identity.Options{Params: identity.CheapParams, Logger: quiet})
		ctx := context.Background()
		if err := users.Create(ctx, &identity.User{Realm: "/", Username: "alice"}); err != nil {
			t.Fatal(err)
		}
		if err := users.SetPassword(ctx, "/", "alice", "correct horse"); err != nil {
			t.Fatal(err)
		}
		env.Register(t, "/", "alice")
		deps := &nodes.Deps{Store: env.Store, Users: users, Keys: env.Ring, Audit: audit.New(quiet), Log: quiet,
			Devices: env.Devices, Push: env.Push}
		nodetest.Conformance(t, reg, nodetest.ConformanceOptions{Deps: deps, Username: "alice", Password: "correct horse", Now: env.Now()})
	})
	t.Run("offline", func(t *testing.T) {
		nodetest.Conformance(t, reg, nodetest.ConformanceOptions{Username: "alice"})
	})
}

// TestReadmeNodeTableIsCurrent keeps the README's node table generated from the
// registry the command builds: regenerate it with `go run . journeys nodes table`.
func TestReadmeNodeTableIsCurrent(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	tab := cli.Registry().Table()
	if !strings.Contains(string(readme), tab) {
		t.Fatal("README.md's node table is stale: paste the output of `go run . journeys nodes table`")
	}
	for _, ti := range cli.Registry().Types() {
		if !strings.Contains(tab, "| `"+ti.Type+"` |") {
			t.Errorf("the table lacks %s", ti.Type)
		}
	}
}
