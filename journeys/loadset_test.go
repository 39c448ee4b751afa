package journeys

import (
	"context"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/store/embedded"
)

// TestLoadSetNeverUndoesRuntimeChanges loads a set, saves a change at runtime, and
// loads the set again unchanged (the runtime version stays current), reformatted (still
// unchanged) and changed (the file's version becomes current).
func TestLoadSetNeverUndoesRuntimeChanges(t *testing.T) {
	st, _ := embedded.Open(embedded.Options{})
	defer st.Close()
	r := NewRepo(st, CompileOptions{Registry: registry(), Deps: &nodes.Deps{}})
	r.SetHeadTTL(0)
	ctx := context.Background()
	file := func(d string) string { return "file:" + d }
	load := func(doc string) {
		t.Helper()
		if _, err := r.LoadSet(ctx, map[string][]byte{"good.json": []byte(doc)}, file); err != nil {
			t.Fatal(err)
		}
	}
	current := func() (int, string) {
		t.Helper()
		vs, err := r.Versions(ctx, "good")
		if err != nil {
			t.Fatal(err)
		}
		last := vs[len(vs)-1]
		return last.Version, last.Source
	}
	load(good)
	runtime := strings.Replace(good, `"tries":5`, `"tries":7`, 1)
	if v, err := r.Save(ctx, []byte(runtime), "api"); err != nil || v != 2 {
		t.Fatalf("runtime save: %v %v", v, err)
	}
	load(good)
	if v, src := current(); v != 2 || src != "api" {
		t.Fatalf("after reloading the unchanged file: v%d from %s, want v2 from api", v, src)
	}
	load(strings.ReplaceAll(good, "\n", "\n\t\t")) // reformatted, same journey
	if v, _ := current(); v != 2 {
		t.Fatalf("a reformatted file counted as a change: v%d", v)
	}
	changed := strings.Replace(good, `"tries":5`, `"tries":9`, 1)
	load(changed)
	c, err := r.Head(ctx, "good")
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != 3 || !strings.Contains(string(c.Raw), `"tries":9`) {
		t.Fatalf("after changing the file: v%d %s", c.Version, c.Raw)
	}
	load(changed)
	if v, _ := current(); v != 3 {
		t.Fatalf("reloading the changed file saved again: v%d", v)
	}
}
