package nodes_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/arbor-auth/arbor/nodes"
)

// testConfig exercises the decoder and the schema checks.
type testConfig struct {
	Greeting string            `json:"greeting" default:"hello" doc:"What to say."`
	Times    int               `json:"times" default:"2" min:"1" max:"5" doc:"How often."`
	Mode     string            `json:"mode" enum:"a|b" default:"a" doc:"The mode."`
	Texts    map[string]string `json:"texts" doc:"Texts."`
	Items    []testItem        `json:"items" doc:"Items."`
	Fail     string            `json:"fail" doc:"Makes Validate or New fail, for tests."`
}

type testItem struct {
	Name string `json:"name" required:"true" doc:"Its name."`
}

// Validate fails on demand, with a plain error or with relative problems.
func (c *testConfig) Validate() error {
	switch c.Fail {
	case "validate":
		return errors.New("validate says no")
	case "validate_problems":
		return nodes.Problems{{Pointer: "/fail", Message: "bad fail"}, {Pointer: "", Code: nodes.CodeBadName, Message: "whole"}}
	}
	return nil
}

type built struct {
	cfg testConfig
	b   nodes.Build
}

func (built) Process(*nodes.Context) (nodes.Action, error) { return nodes.Goto("done"), nil }

func testSpec() nodes.Spec[testConfig] {
	return nodes.Spec[testConfig]{
		Type: "test_node", Title: "Test", Summary: "A test node.", Category: "test",
		OutcomesFor: func(c *testConfig) []nodes.Outcome {
			return []nodes.Outcome{{ID: "done", Label: c.Greeting}}
		},
		New: func(c *testConfig, b *nodes.Build) (nodes.Node, error) {
			switch c.Fail {
			case "new":
				return nil, errors.New("new says no")
			case "new_problems":
				return nil, fmt.Errorf("wrapped: %w", nodes.Problems{{Pointer: b.Pointer + "/texts", Code: nodes.CodeUnknownJourney, Message: "absolute"}})
			}
			return built{cfg: *c, b: *b}, nil
		},
	}
}

func newTestRegistry() *nodes.Registry {
	r := nodes.NewRegistry()
	nodes.Register(r, testSpec())
	return r
}

func build(r *nodes.Registry, raw string) (nodes.Node, []nodes.Outcome, error) {
	return r.Build("test_node", json.RawMessage(raw), &nodes.Build{Registry: r, Journey: "j", NodeID: "n", Pointer: "/nodes/n/config"})
}

func TestBuildDefaultsThenConfig(t *testing.T) {
	r := newTestRegistry()
	tests := []struct {
		raw  string
		want testConfig
	}{
		{``, testConfig{Greeting: "hello", Times: 2, Mode: "a"}},
		{`null`, testConfig{Greeting: "hello", Times: 2, Mode: "a"}},
		{`{}`, testConfig{Greeting: "hello", Times: 2, Mode: "a"}},
		{`{"times": 4, "mode": "b"}`, testConfig{Greeting: "hello", Times: 4, Mode: "b"}},
		{`{"greeting": ""}`, testConfig{Greeting: "", Times: 2, Mode: "a"}},
		{`{"items": [{"name": "x"}], "texts": {"en": "Hi"}}`, testConfig{Greeting: "hello", Times: 2, Mode: "a", Items: []testItem{{"x"}}, Texts: map[string]string{"en": "Hi"}}},
	}
	for _, tc := range tests {
		n, outs, err := build(r, tc.raw)
		if err != nil {
			t.Errorf("%s: %v", tc.raw, err)
			continue
		}
		if got := n.(built).cfg; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: config %+v, want %+v", tc.raw, got, tc.want)
		}
		if want := []nodes.Outcome{{ID: "done", Label: tc.want.Greeting}}; !reflect.DeepEqual(outs, want) {
			t.Errorf("%s: outcomes %v", tc.raw, outs)
		}
	}
}

func TestBuildProblems(t *testing.T) {
	r := newTestRegistry()
	tests := []struct {
		name, raw string
		want      []string // "pointer code"
	}{
		{"wrong type", `{"times": "2"}`, []string{"/nodes/n/config/times bad_config"}},
		{"below min", `{"times": 0}`, []string{"/nodes/n/config/times bad_config"}},
		{"above max", `{"times": 6}`, []string{"/nodes/n/config/times bad_config"}},
		{"not an integer", `{"times": 1.5}`, []string{"/nodes/n/config/times bad_config"}},
		{"bad enum", `{"mode": "c"}`, []string{"/nodes/n/config/mode bad_config"}},
		{"unknown field", `{"tims": 2}`, []string{"/nodes/n/config/tims bad_config"}},
		{"unknown fields", `{"b": 1, "a~/": 2}`, []string{"/nodes/n/config/a~0~1 bad_config", "/nodes/n/config/b bad_config"}},
		{"nested", `{"items": [{"name": "x"}, {"nam": "y"}]}`, []string{"/nodes/n/config/items/1 bad_config", "/nodes/n/config/items/1/nam bad_config"}},
		{"map value", `{"texts": {"a/b": 1}}`, []string{"/nodes/n/config/texts/a~1b bad_config"}},
		{"every problem", `{"times": 0, "mode": "c", "x": 1}`, []string{"/nodes/n/config/mode bad_config", "/nodes/n/config/times bad_config", "/nodes/n/config/x bad_config"}},
		{"not an object", `[1]`, []string{"/nodes/n/config bad_config"}},
		{"bad json", `{"times": `, []string{"/nodes/n/config bad_json"}},
		{"validate error", `{"fail": "validate"}`, []string{"/nodes/n/config bad_config"}},
		{"validate problems are relative", `{"fail": "validate_problems"}`, []string{"/nodes/n/config/fail bad_config", "/nodes/n/config bad_name"}},
		{"new error", `{"fail": "new"}`, []string{"/nodes/n/config bad_config"}},
		{"new problems are absolute", `{"fail": "new_problems"}`, []string{"/nodes/n/config/texts unknown_journey"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := build(r, tc.raw)
			var ps nodes.Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error %T %v, want Problems", err, err)
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.Pointer+" "+p.Code)
				if p.Message == "" {
					t.Errorf("%s: no message", p.Pointer)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q\nwant %q\n(%v)", got, tc.want, err)
			}
		})
	}
}

func TestBuildUnknownType(t *testing.T) {
	r := newTestRegistry()
	_, _, err := r.Build("nope", nil, &nodes.Build{Pointer: "/nodes/x/config"})
	var ps nodes.Problems
	if !errors.As(err, &ps) || len(ps) != 1 || ps[0].Code != nodes.CodeUnknownType {
		t.Errorf("error %v", err)
	}
}

func TestBuildChild(t *testing.T) {
	r := newTestRegistry()
	deps := &nodes.Deps{}
	parent := &nodes.Build{Deps: deps, Registry: r, Journey: "j", NodeID: "p", Pointer: "/nodes/p/config", Lookup: func(string) bool { return true }}
	n, _, err := parent.Child("p.c", "/nodes/p/config/nodes/0/config", "page", "test_node", json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	b := n.(built).b
	if b.NodeID != "p.c" || b.Pointer != "/nodes/p/config/nodes/0/config" || b.Parent != "page" || b.Journey != "j" || b.Deps != deps || b.Lookup == nil {
		t.Errorf("child build %+v", b)
	}
	if parent.NodeID != "p" || parent.Pointer != "/nodes/p/config" || parent.Parent != "" {
		t.Errorf("Child changed the parent's build: %+v", parent)
	}
	_, _, err = parent.Child("p.c", "/nodes/p/config/nodes/0/config", "page", "test_node", json.RawMessage(`{"times": 0}`))
	if err == nil || !strings.Contains(err.Error(), "/nodes/p/config/nodes/0/config/times") {
		t.Errorf("child problem %v, want it at the child's pointer", err)
	}
}

type listerNode struct{}

func (listerNode) Process(*nodes.Context) (nodes.Action, error) { return nodes.Goto("x"), nil }
func (listerNode) Outcomes() []nodes.Outcome                    { return []nodes.Outcome{{ID: "x", Label: "X"}} }

type emptyConfig struct{}

func TestOutcomeListerWins(t *testing.T) {
	r := nodes.NewRegistry()
	nodes.Register(r, nodes.Spec[emptyConfig]{
		Type: "lister", Outcomes: []nodes.Outcome{{ID: "static", Label: "S"}},
		New: func(*emptyConfig, *nodes.Build) (nodes.Node, error) { return listerNode{}, nil },
	})
	_, outs, err := r.Build("lister", nil, &nodes.Build{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(outs, []nodes.Outcome{{ID: "x", Label: "X"}}) {
		t.Errorf("outcomes %v", outs)
	}
}

func TestRegisterPanics(t *testing.T) {
	newNode := func(*emptyConfig, *nodes.Build) (nodes.Node, error) { return listerNode{}, nil }
	tests := []struct {
		name string
		reg  func(r *nodes.Registry)
	}{
		{"type not snake", func(r *nodes.Registry) { nodes.Register(r, nodes.Spec[emptyConfig]{Type: "BadType", New: newNode}) }},
		{"no New", func(r *nodes.Registry) { nodes.Register(r, nodes.Spec[emptyConfig]{Type: "t"}) }},
		{"outcome not snake", func(r *nodes.Registry) {
			nodes.Register(r, nodes.Spec[emptyConfig]{Type: "t", New: newNode, Outcomes: []nodes.Outcome{{ID: "Yes"}}})
		}},
		{"duplicate", func(r *nodes.Registry) {
			nodes.Register(r, nodes.Spec[emptyConfig]{Type: "t", New: newNode})
			nodes.Register(r, nodes.Spec[emptyConfig]{Type: "t", New: newNode})
		}},
		{"config not a struct", func(r *nodes.Registry) {
			nodes.Register(r, nodes.Spec[string]{Type: "t", New: func(*string, *nodes.Build) (nodes.Node, error) { return nil, nil }})
		}},
		{"field without doc", func(r *nodes.Registry) {
			type c struct {
				A int `json:"a"`
			}
			nodes.Register(r, nodes.Spec[c]{Type: "t", New: func(*c, *nodes.Build) (nodes.Node, error) { return nil, nil }})
		}},
		{"bad pattern", func(r *nodes.Registry) {
			type c struct {
				A string `json:"a" pattern:"(" doc:"x"`
			}
			nodes.Register(r, nodes.Spec[c]{Type: "t", New: func(*c, *nodes.Build) (nodes.Node, error) { return nil, nil }})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tc.reg(nodes.NewRegistry())
		})
	}
}

func TestRegistryTypes(t *testing.T) {
	r := nodes.NewRegistry()
	for _, typ := range []string{"zeta", "alpha", "mid"} {
		nodes.Register(r, nodes.Spec[testConfig]{Type: typ, New: testSpec().New})
	}
	var got []string
	for _, ti := range r.Types() {
		got = append(got, ti.Type)
	}
	if !reflect.DeepEqual(got, []string{"alpha", "mid", "zeta"}) {
		t.Errorf("types %v", got)
	}
	ti, ok := r.Lookup("mid")
	if !ok || len(ti.Fields) != 6 || ti.Schema == nil || ti.Dynamic {
		t.Errorf("lookup %+v", ti)
	}
}

func TestBuildConcurrently(t *testing.T) {
	r := newTestRegistry()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := build(r, fmt.Sprintf(`{"times": %d}`, i%5+1)); err != nil {
				t.Error(err)
			}
			r.Types()
		}()
	}
	wg.Wait()
}

func TestProblemsError(t *testing.T) {
	ps := nodes.Problems{{Pointer: "", Code: "a", Message: "m1"}, {Pointer: "/x", Code: "b", Message: "m2"}}
	if got, want := ps.Error(), "/: a: m1; /x: b: m2"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
