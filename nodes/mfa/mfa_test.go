package mfa_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/nodes/nodetest"

	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/mfa"
)

// TestRegisterIsRepeatable: registries are independent, so a family registers into
// each of several alike. Which types exist is not listed here: the node conformance
// suite (internal/cli TestNodeConformance) checks every registered type.
func TestRegisterIsRepeatable(t *testing.T) {
	a, b := nodes.NewRegistry(), nodes.NewRegistry()
	mfa.Register(a)
	mfa.Register(b)
	if len(a.Types()) == 0 || len(a.Types()) != len(b.Types()) {
		t.Errorf("registered %d and %d types", len(a.Types()), len(b.Types()))
	}
}

// TestPaletteDocs checks that every type documents itself: docs are data.
func TestPaletteDocs(t *testing.T) {
	r := nodes.NewRegistry()
	mfa.Register(r)
	nodetest.CheckPalette(t, r)
}

// TestWithoutServices builds every type as offline validation does, with no services
// (Deps nil): building works, and running a node that needs the push service or the
// device registry fails closed with an error, never a panic and never an outcome. The
// nodes that need neither run as usual.
func TestWithoutServices(t *testing.T) {
	tests := []struct {
		typ     string
		needs   bool // needs the push service or the device registry
		shared  nodes.State
		outcome string // for nodes that need no service: the first visit's outcome, "" for a send
	}{
		{typ: "push_sender", needs: true},
		{typ: "push_registration", needs: true},
		{typ: "push_result_verifier", needs: true, shared: nodes.State{mfa.KeyMessageID: "AUTHENTICATE:x"}},
		{typ: "opt_out_mfa", needs: true},
		{typ: "recovery_code_collector_decision", needs: true},
		{typ: "oath_registration", needs: true},
		{typ: "oath_token_verifier", needs: true},
		{typ: "mfa_registration_options"},
		{typ: "get_authenticator_app"},
		{typ: "push_wait"},
		{typ: "device_profile_collector"},
		{typ: "otp_or_push_collector"},
		{typ: "recovery_code_display", outcome: "outcome"},
	}
	r := nodes.NewRegistry()
	mfa.Register(r)
	for _, tc := range tests {
		for name, deps := range map[string]*nodes.Deps{"nil deps": nil, "no services": {}} {
			t.Run(tc.typ+"/"+name, func(t *testing.T) {
				n, _, err := buildWith(r, &nodes.Build{Deps: deps, Registry: r, Journey: "j", NodeID: "n", Pointer: "/nodes/n/config"}, tc.typ, "")
				if err != nil {
					t.Fatalf("build: %v", err)
				}
				ctx := &nodes.Context{Ctx: context.Background(), FlowID: "f", NodeID: "n", Realm: "/",
					Shared: nodes.State{nodes.KeyUsername: "alice"}, Transient: nodes.State{}, Log: slog.New(slog.DiscardHandler)}
				for k, v := range tc.shared {
					ctx.Shared[k] = v
				}
				act, err := n.Process(ctx)
				if tc.needs {
					if err == nil {
						t.Fatalf("ran without services: %+v", act)
					}
					if !strings.Contains(err.Error(), "not configured") {
						t.Errorf("error %q does not say the service is missing", err)
					}
					return
				}
				if err != nil {
					t.Fatalf("Process: %v", err)
				}
				if act.Outcome != tc.outcome || (tc.outcome == "") != (len(act.Callbacks) > 0) {
					t.Errorf("action %+v, want outcome %q", act, tc.outcome)
				}
			})
		}
	}
}

// TestNoServiceErrorIsPlain checks that capture_failure does not turn a missing
// service into the failure outcome: a misconfigured server fails closed, loudly.
func TestNoServiceErrorIsPlain(t *testing.T) {
	r := nodes.NewRegistry()
	mfa.Register(r)
	n, _, err := buildWith(r, &nodes.Build{Registry: r, NodeID: "n", Pointer: "/nodes/n/config"}, "push_sender", `{"capture_failure": true}`)
	if err != nil {
		t.Fatal(err)
	}
	ctx := &nodes.Context{Ctx: context.Background(), FlowID: "f", NodeID: "n", Realm: "/", Shared: nodes.State{nodes.KeyUsername: "alice"},
		Transient: nodes.State{}, Log: slog.New(slog.DiscardHandler)}
	act, err := n.Process(ctx)
	if err == nil || act.Outcome != "" {
		t.Fatalf("capture_failure turned a missing service into %+v, %v", act, err)
	}
	if ctx.Shared.Has(mfa.KeyFailureReason) {
		t.Errorf("a missing service was captured as %v", ctx.Shared[mfa.KeyFailureReason])
	}
	var ps nodes.Problems
	if errors.As(err, &ps) {
		t.Errorf("a run-time error came back as config problems: %v", err)
	}
}
