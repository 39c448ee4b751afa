// Package nodetest holds helpers for testing node types, shared by every node family's
// table tests: answering a node's callbacks as the engine hands them back, reading state
// as the flow store returns it, and checking a family's palette docs.
package nodetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/nodes"
)

// Answer returns what the engine hands back to a node after the client answered sent:
// each callback's type and inputs, the main input of the i-th input-bearing callback
// replaced by vals[i] (callbacks without inputs come back with none). It panics when
// the count of vals does not match, a mistake in the test itself.
func Answer(sent []nodes.Callback, vals ...any) []nodes.Callback {
	out := make([]nodes.Callback, len(sent))
	i := 0
	for k, cb := range sent {
		out[k] = nodes.Callback{Type: cb.Type}
		for _, in := range cb.Input {
			f := in
			if f.Name == "" && i < len(vals) {
				f.Value = vals[i]
				i++
			}
			out[k].Input = append(out[k].Input, f)
		}
	}
	if i != len(vals) {
		panic(fmt.Sprintf("nodetest.Answer: %d values for %d inputs", len(vals), i))
	}
	return out
}

// RoundTrip returns s as it reads back from the flow store (numbers become float64).
func RoundTrip(t testing.TB, s nodes.State) nodes.State {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("shared state does not encode: %v", err)
	}
	var out nodes.State
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// Types returns the callbacks' types, in order.
func Types(cbs []nodes.Callback) []string {
	out := make([]string, len(cbs))
	for i, cb := range cbs {
		out[i] = cb.Type
	}
	return out
}

// OutcomeIDs returns the outcomes' ids, in order.
func OutcomeIDs(outs []nodes.Outcome) []string {
	ids := make([]string, len(outs))
	for i, o := range outs {
		ids[i] = o.ID
	}
	return ids
}

// Problems returns err's problems as "pointer code" strings, failing the test when err
// holds none or a problem has no message.
func Problems(t testing.TB, err error) []string {
	t.Helper()
	ps, ok := err.(nodes.Problems)
	if !ok || len(ps) == 0 {
		t.Fatalf("want Problems, got %T %v", err, err)
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		if p.Message == "" {
			t.Errorf("problem %s %s has no message", p.Pointer, p.Code)
		}
		out[i] = p.Pointer + " " + p.Code
	}
	return out
}

// Run processes ctx with n, failing the test on an error.
func Run(t testing.TB, n nodes.Node, ctx *nodes.Context) nodes.Action {
	t.Helper()
	act, err := n.Process(ctx)
	if err != nil {
		t.Fatalf("Process: %v", err)
	}
	return act
}

// CheckPalette checks that every type in r documents itself, since the palette and the
// docs are generated from these declarations: a title, a one-sentence summary, a
// description and a category; snake_case outcomes with labels; config fields with docs.
func CheckPalette(t *testing.T, r *nodes.Registry) {
	for _, ti := range r.Types() {
		t.Run(ti.Type, func(t *testing.T) {
			if ti.Title == "" || ti.Description == "" || ti.Category == "" {
				t.Errorf("title %q description %q category %q", ti.Title, ti.Description, ti.Category)
			}
			if !strings.HasSuffix(ti.Summary, ".") || strings.Count(ti.Summary, ". ") > 0 {
				t.Errorf("summary %q is not one sentence", ti.Summary)
			}
			if len(ti.Outcomes) == 0 && !ti.Dynamic {
				t.Error("no outcomes, static or dynamic")
			}
			for _, o := range ti.Outcomes {
				if !nodes.IsSnake(o.ID) || o.Label == "" {
					t.Errorf("outcome %+v", o)
				}
			}
			for _, fd := range ti.Fields {
				if !nodes.IsSnake(fd.Name) || len(fd.Doc) < 10 {
					t.Errorf("field %+v", fd)
				}
			}
			if _, err := json.Marshal(ti); err != nil {
				t.Errorf("type info does not encode: %v", err)
			}
		})
	}
}
