package nodetest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/nodes"
)

// ConformanceOptions configure Conformance.
type ConformanceOptions struct {
	// Deps are the services the nodes are built with: real ones (a store, identities,
	// devices, push), so nodes run their real paths. Nil builds as offline validation
	// does, where nodes that need a service must fail closed.
	Deps *nodes.Deps
	// Realm, Username and Password name an existing user the flows act as; an empty
	// Username runs flows without a user.
	Realm, Username, Password string
	// Now is the flows' clock; zero means a fixed instant.
	Now time.Time
	// Steps bounds the visits of one flow: after an outcome the flow enters the node
	// afresh, as a journey's loop would, and a node that keeps asking (a polling wait)
	// is left after that many; zero means 6.
	Steps int
	// Goroutines is how many flows share one built node at once; zero means 8.
	Goroutines int
}

// Conformance checks every node type registered in r against the contract of the node
// SPI, so that a type joins the checks by being registered, never by being listed:
//
//   - its docs: every config field has a description, and its example (Spec.Example, or
//     the defaults) passes the type's schema together with the defaults, and builds;
//   - only declared outcomes: a flow driven through the node for Steps visits, answering
//     each callback it sends with the client's preset or plausible values, or with
//     hostile values (wrong types, garbage), and entering it afresh after each outcome
//     as a journey's loop would, only ever goes to outcomes the built node declares or
//     fails closed with an error; it never panics and never returns both or neither;
//   - re-entry: a node that sent callbacks accepts the answers to them on its next visit;
//   - sharing: one built instance serves Goroutines flows at once (run the test with
//     -race to catch shared mutable state).
func Conformance(t *testing.T, r *nodes.Registry, opts ConformanceOptions) {
	t.Helper()
	if opts.Steps == 0 {
		opts.Steps = 6
	}
	if opts.Goroutines == 0 {
		opts.Goroutines = 8
	}
	if opts.Now.IsZero() {
		opts.Now = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if opts.Realm == "" {
		opts.Realm = "/"
	}
	types := r.Types()
	if len(types) == 0 {
		t.Fatal("the registry has no node types")
	}
	for _, ti := range types {
		t.Run(ti.Type, func(t *testing.T) {
			for _, fd := range ti.Fields {
				if fd.Doc == "" {
					t.Errorf("config field %q has no description", fd.Name)
				}
			}
			if ps := ti.Check(withDefaults(t, ti), "/config"); len(ps) > 0 {
				t.Fatalf("the schema refuses the example over the defaults %s: %v", ti.Example, ps)
			}
			b := &nodes.Build{Deps: opts.Deps, Registry: r, Journey: "conformance", NodeID: "n", Pointer: "/nodes/n/config",
				Lookup: func(string) bool { return true }}
			n, outs, err := r.Build(ti.Type, ti.Example, b)
			if err != nil {
				t.Fatalf("the example %s does not build (declare a Spec.Example that does): %v", ti.Example, err)
			}
			if len(outs) == 0 {
				t.Fatal("the built node declares no outcomes")
			}
			declared := OutcomeIDs(outs)
			var wg sync.WaitGroup
			for g := range opts.Goroutines {
				wg.Go(func() {
					hostile := g%2 == 1
					if problem := drive(n, declared, opts, fmt.Sprintf("flow-%d", g), hostile); problem != "" {
						t.Errorf("flow %d (hostile answers %v): %s", g, hostile, problem)
					}
				})
			}
			wg.Wait()
		})
	}
}

// withDefaults returns the type's defaults with its example laid over them, as the
// decoder sees a config.
func withDefaults(t *testing.T, ti *nodes.TypeInfo) json.RawMessage {
	t.Helper()
	merged := map[string]any{}
	for _, fd := range ti.Fields {
		if fd.Default != nil {
			merged[fd.Name] = fd.Default
		}
	}
	var ex map[string]any
	if err := json.Unmarshal(ti.Example, &ex); err != nil {
		t.Fatalf("example %s: %v", ti.Example, err)
	}
	for k, v := range ex {
		merged[k] = v
	}
	b, err := json.Marshal(merged)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// drive runs one flow through n and returns what broke the contract, or "".
func drive(n nodes.Node, declared []string, opts ConformanceOptions, flowID string, hostile bool) (problem string) {
	defer func() {
		if p := recover(); p != nil {
			problem = fmt.Sprintf("panicked: %v", p)
		}
	}()
	shared := nodes.State{}
	if opts.Username != "" {
		shared[nodes.KeyUsername] = opts.Username
	}
	var answers []nodes.Callback
	for step := range opts.Steps {
		ctx := &nodes.Context{
			Ctx: context.Background(), FlowID: flowID, Journey: "conformance", NodeID: "n", Realm: opts.Realm,
			Shared: shared, Transient: nodes.State{}, Callbacks: answers, Now: opts.Now.Add(time.Duration(step) * time.Second),
			Request: nodes.Request{ClientIP: "192.0.2.1", UserAgent: "conformance", Locales: []string{"en"},
				Header: http.Header{}, BaseURL: "http://arbor.test"},
			Log: slog.New(slog.DiscardHandler),
		}
		if opts.Password != "" && !hostile {
			ctx.Transient[nodes.KeyPassword] = opts.Password
		}
		act, err := n.Process(ctx)
		switch {
		case err != nil:
			return "" // failing closed is always allowed
		case act.Outcome != "" && len(act.Callbacks) > 0:
			return fmt.Sprintf("step %d returned both outcome %q and callbacks", step, act.Outcome)
		case act.Outcome != "":
			if !slices.Contains(declared, act.Outcome) {
				return fmt.Sprintf("step %d went to %q, not one of the declared outcomes %v", step, act.Outcome, declared)
			}
		case len(act.Callbacks) == 0:
			return fmt.Sprintf("step %d neither went to an outcome nor sent callbacks", step)
		}
		// The flow store round-trips shared state between steps.
		b, err := json.Marshal(shared)
		if err != nil {
			return fmt.Sprintf("shared state does not encode: %v", err)
		}
		shared = nodes.State{}
		if err := json.Unmarshal(b, &shared); err != nil {
			return err.Error()
		}
		// After an outcome the flow comes back afresh, as a journey's loop brings it
		// (a retry limit counts down to "reject" this way).
		answers = nil
		if act.Outcome == "" {
			answers = answerAll(act.Callbacks, opts, hostile, step)
		}
	}
	return ""
}

// answerAll answers every input of sent: as a client would (presets, the user's name
// and password, the first option), or with hostile values of the wrong type.
func answerAll(sent []nodes.Callback, opts ConformanceOptions, hostile bool, step int) []nodes.Callback {
	garbage := []any{"", "not a number", -1, 1e300, []any{"x"}, map[string]any{"a": 1}, nil, true}
	out := make([]nodes.Callback, len(sent))
	for i, cb := range sent {
		out[i] = nodes.Callback{Type: cb.Type}
		for k, in := range cb.Input {
			v := in.Value
			switch {
			case hostile:
				v = garbage[(step+i+k)%len(garbage)]
			case in.Name != "":
			case cb.Type == nodes.TypeName:
				v = opts.Username
			case cb.Type == nodes.TypePassword:
				v = opts.Password
			case cb.Type == nodes.TypeDeviceProf:
				v = `{"identifier":"conformance","metadata":{"platform":{"platform":"test"}}}`
			case cb.Type == nodes.TypeConfirmation:
				v = 0
			}
			out[i].Input = append(out[i].Input, nodes.Field{Name: in.Name, Value: v})
		}
	}
	return out
}
