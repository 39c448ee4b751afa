package door

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/engine"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/journeys"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/sessions"
	"github.com/arbor-auth/arbor/store/embedded"
)

// codeOnly is a test node: it names alice and records an otp factor, as a username
// step and an OATH verifier do in the linotp-otp journey.
type codeOnly struct{}

func (codeOnly) Process(ctx *nodes.Context) (nodes.Action, error) {
	ctx.Shared[nodes.KeyUsername] = "alice"
	ctx.Shared.AddFactor(nodes.FactorOTP)
	return nodes.Goto("outcome"), nil
}

// attestedCore is a Core serving the journey "code" (codeOnly, then success) for
// alice, who has a push device enrolled, and the audit events it writes.
func attestedCore(t *testing.T) (*Core, *audit.Recorder) {
	t.Helper()
	st, err := embedded.Open(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	users := identity.New(st, identity.Options{Params: identity.CheapParams})
	if err := users.Put(ctx, &identity.User{Realm: "/", Username: "alice", Status: identity.StatusActive}); err != nil {
		t.Fatal(err)
	}
	reg := nodes.NewRegistry()
	nodes.Register(reg, nodes.Spec[struct{}]{Type: "code_only", Title: "Code only", Summary: "Names alice and records otp.",
		Category: "test", Outcomes: []nodes.Outcome{{ID: "outcome"}},
		New: func(*struct{}, *nodes.Build) (nodes.Node, error) { return codeOnly{}, nil }})
	deps := &nodes.Deps{}
	repo := journeys.NewRepo(st, journeys.CompileOptions{Registry: reg, Deps: deps})
	if _, err := repo.Save(ctx, []byte(`{"name":"code","start":"c","nodes":{"c":{"type":"code_only","outcomes":{"outcome":"success"}}}}`), "test"); err != nil {
		t.Fatal(err)
	}
	rec := &audit.Recorder{}
	au := audit.New(nil)
	au.AddSink(rec.Sink())
	c, err := New(Config{}, Deps{Engine: engine.New(engine.Config{}, st, repo, deps, nil), Sessions: sessions.New(st, sessions.Config{}),
		Users: users, Enrollments: enrolledFactors{"alice": {nodes.FactorPush}}, Audit: au})
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

// TestAttested: factors a door attests count in the level of a flow without a
// session, are audited, and are refused with a session.
func TestAttested(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		start     Start
		err       error
		status    engine.Status
		attested  int // login.attested events
		refusedEv int // session.refused events
	}{
		{"a code alone is one factor", Start{Door: "linotp", Realm: "/", Journey: "code", NoSession: true}, nil, engine.Failed, 0, 1},
		{"a code and an attested password", Start{Door: "linotp", Realm: "/", Journey: "code", NoSession: true,
			Attested: []nodes.Factor{nodes.FactorPassword}}, nil, engine.Succeeded, 1, 0},
		{"an attested possession factor adds no kind", Start{Door: "linotp", Realm: "/", Journey: "code", NoSession: true,
			Attested: []nodes.Factor{nodes.FactorPush}}, nil, engine.Failed, 0, 1},
		{"attested with a session", Start{Door: "linotp", Realm: "/", Journey: "code",
			Attested: []nodes.Factor{nodes.FactorPassword}}, ErrAttestedSession, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, rec := attestedCore(t)
			out, err := c.Start(ctx, tc.start)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Start: %v, want %v", err, tc.err)
			}
			if err == nil {
				if out.Status != tc.status || out.Session != nil || out.Token != "" {
					t.Errorf("status %v, session %v, want %v and no session", out.Status, out.Session, tc.status)
				}
			}
			if got := rec.Count(EventAttested); got != tc.attested {
				t.Errorf("%d %s events, want %d", got, EventAttested, tc.attested)
			}
			if got := rec.Count(EventSessionRefused); got != tc.refusedEv {
				t.Errorf("%d %s events, want %d", got, EventSessionRefused, tc.refusedEv)
			}
			for _, ev := range rec.Events() {
				if ev.Type != EventAttested {
					continue
				}
				if a, _ := ev.Details["attested"].([]nodes.Factor); !slices.Equal(a, []nodes.Factor{nodes.FactorPassword}) {
					t.Errorf("attested in the event: %v", ev.Details["attested"])
				}
				if ev.Details["level"] != LevelMultiFactor {
					t.Errorf("level in the event: %v", ev.Details["level"])
				}
			}
		})
	}
	// Continue holds the same rule: attested factors never earn a session.
	c, _ := attestedCore(t)
	if _, err := c.Continue(ctx, Continue{Door: "linotp", Realm: "/", FlowID: "x", Attested: []nodes.Factor{nodes.FactorPassword}}); !errors.Is(err, ErrAttestedSession) {
		t.Errorf("Continue with attested factors and a session: %v", err)
	}
}
