package viewer

import (
	"slices"
	"testing"

	"github.com/arbor-auth/arbor/journeys"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/basic"
)

func basicOptions() journeys.CompileOptions {
	reg := nodes.NewRegistry()
	basic.Register(reg)
	return journeys.CompileOptions{Registry: reg, Lookup: func(string) bool { return false }}
}

// TestNodeNamedLikeATerminal checks that a node whose id is a reserved terminal (an
// error, but one an author can make) gets its own vertex and its own problem, and that
// outcomes to "success" still reach the terminal.
func TestNodeNamedLikeATerminal(t *testing.T) {
	g := BuildGraph([]byte(`{"name": "x", "start": "check", "nodes": {
	  "check":   {"type": "data_store_decision", "outcomes": {"true": "success", "false": "failure"}},
	  "success": {"type": "data_store_decision", "outcomes": {"true": "success", "false": "failure"}}}}`), 0, basicOptions())
	var keys []string
	for _, v := range g.Nodes {
		keys = append(keys, v.Key)
	}
	if !slices.Equal(keys, []string{"node:check", "node:success", "terminal:success", "terminal:failure"}) {
		t.Fatalf("vertices = %q", keys)
	}
	if len(g.Nodes[1].Problems) == 0 || g.Nodes[1].Problems[0].Code != nodes.CodeReservedID {
		t.Errorf("node success problems = %+v, want reserved_id", g.Nodes[1].Problems)
	}
	for _, e := range g.Edges {
		if e.Label == "true" && e.To != keySuccess {
			t.Errorf("edge %+v: true should reach the terminal", e)
		}
	}
	if !g.Nodes[0].Start || g.Nodes[1].Start {
		t.Errorf("start flags: %+v %+v", g.Nodes[0], g.Nodes[1])
	}
}

func TestPlaceProblem(t *testing.T) {
	j := &journeys.Journey{Nodes: map[string]journeys.Node{"a/b": {}, "m~n": {}, "plain": {}}}
	for ptr, want := range map[string][2]string{
		"/nodes/a~1b":                 {"a/b", ""},
		"/nodes/m~0n/config/x":        {"m~n", ""},
		"/nodes/plain/outcomes/true":  {"plain", "true"},
		"/nodes/plain/outcomes":       {"plain", ""},
		"/nodes/ghost/type":           {"", ""}, // no such node: journey-wide
		"/nodes":                      {"", ""},
		"/start":                      {"", ""},
		"":                            {"", ""},
		"/nodes/plain/outcomes/a~1b/": {"plain", "a/b"},
	} {
		p := placeProblem(nodes.Problem{Pointer: ptr}, j)
		if p.Node != want[0] || p.Outcome != want[1] {
			t.Errorf("%q placed on node %q outcome %q, want %q %q", ptr, p.Node, p.Outcome, want[0], want[1])
		}
	}
}

func TestHasRole(t *testing.T) {
	for _, tc := range []struct {
		roles any
		want  bool
	}{
		{[]any{"admin"}, true},
		{[]any{"ops", " admin "}, true},
		{[]string{"admin"}, true},
		{"admin", true},
		{"ops,admin", true},
		{" ops , admin ", true},
		{nil, false},
		{"", false},
		{"administrator", false},
		{"Admin", false},
		{[]any{"ops", 1, nil}, false},
		{[]any{[]any{"admin"}}, false},
		{map[string]any{"admin": true}, false},
		{true, false},
	} {
		if got := HasRole(tc.roles, AdminRole); got != tc.want {
			t.Errorf("HasRole(%#v) = %v, want %v", tc.roles, got, tc.want)
		}
	}
}
