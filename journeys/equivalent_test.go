package journeys

import (
	"context"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/store/embedded"
)

// TestEquivalent: documents that differ only in config fields spelled out at their
// defaults are equivalent; another value, another node or a document that does not
// parse is not.
func TestEquivalent(t *testing.T) {
	reg := registry()
	spelled := strings.Replace(good, `"a":{"type":"ask",`, `"a":{"type":"ask","config":{"prompt":"Name","mode":"a"},`, 1)
	for _, tc := range []struct {
		name string
		b    string
		want bool
	}{
		{"itself", good, true},
		{"defaults spelled out", spelled, true},
		{"a default changed", strings.Replace(spelled, `"mode":"a"`, `"mode":"b"`, 1), false},
		{"a set value left out", strings.Replace(good, `"config":{"tries":5},`, ``, 1), false},
		{"a set value at the default", strings.Replace(good, `"tries":5`, `"tries":3`, 1), false},
		{"another outcome", strings.Replace(good, `"false":"a"`, `"false":"failure"`, 1), false},
		{"not JSON", `{"name":`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Equivalent([]byte(good), []byte(tc.b), reg); got != tc.want {
				t.Fatalf("Equivalent = %t, want %t", got, tc.want)
			}
		})
	}
}

// TestSaveEquivalent: with SaveOptions.Same saying so, a document that only spells out
// defaults saves no new version (and keeps the stored text); without it, it does.
func TestSaveEquivalent(t *testing.T) {
	st, _ := embedded.Open(embedded.Options{})
	defer st.Close()
	r := NewRepo(st, CompileOptions{Registry: registry(), Deps: &nodes.Deps{}})
	ctx := context.Background()
	if _, err := r.Save(ctx, []byte(good), "test"); err != nil {
		t.Fatal(err)
	}
	spelled := strings.Replace(good, `"a":{"type":"ask",`, `"a":{"type":"ask","config":{"tries":3},`, 1)
	if v, err := r.SaveWith(ctx, []byte(spelled), SaveOptions{Source: "am-rest", Same: func(cur, doc []byte) bool { return Equivalent(cur, doc, r.opts.Registry) }}); err != nil || v != 1 {
		t.Fatalf("equivalent save: version %d, %v; want 1", v, err)
	}
	if latest, _, _ := r.Latest(ctx, "good"); strings.Contains(string(latest.Doc), `"config":{"tries":3}`) {
		t.Fatalf("the stored text changed: %s", latest.Doc)
	}
	if v, err := r.SaveWith(ctx, []byte(spelled), SaveOptions{Source: "api"}); err != nil || v != 2 {
		t.Fatalf("save without Equivalent: version %d, %v; want 2", v, err)
	}
}
