package basic_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/nodes"
)

func TestSetState(t *testing.T) {
	f := newFixture(t)
	n := f.mustBuild(t, "set_state", `{
		"values": {"level": 2, "tags": ["a"], "profile": {"tier": "gold"}},
		"expressions": {"greeting": "\"hi \" + shared.username", "count": "shared.count + 1", "sum": "1 + 2", "seen_level": "shared.level"}}`)
	ctx := newCtx()
	ctx.Shared["username"] = "alice"
	ctx.Shared["count"] = 4.0
	ctx.Shared["level"] = "old"
	act := run(t, n, ctx)
	if act.Outcome != "outcome" {
		t.Errorf("outcome %q", act.Outcome)
	}
	want := nodes.State{
		"username": "alice", "count": 5.0, "level": 2.0, "tags": []any{"a"}, "profile": map[string]any{"tier": "gold"},
		"greeting":   "hi alice",
		"sum":        3.0,   // stored as it reads back from the flow store
		"seen_level": "old", // expressions see the state from before the node
	}
	if !reflect.DeepEqual(ctx.Shared, want) {
		t.Errorf("shared\n%#v\nwant\n%#v", ctx.Shared, want)
	}

	// Each flow gets its own copy of the literal values.
	ctx.Shared["profile"].(map[string]any)["tier"] = "changed"
	ctx.Shared["tags"].([]any)[0] = "changed"
	ctx2 := newCtx()
	ctx2.Shared["count"] = 0.0
	ctx2.Shared["username"] = "bob"
	run(t, n, ctx2)
	if ctx2.Shared["profile"].(map[string]any)["tier"] != "gold" || ctx2.Shared["tags"].([]any)[0] != "a" {
		t.Errorf("a flow changed the node's config: %v", ctx2.Shared)
	}
}

func TestSetStateErrorWritesNothing(t *testing.T) {
	f := newFixture(t)
	n := f.mustBuild(t, "set_state", `{"values": {"v": 1}, "expressions": {"a": "\"ok\"", "b": "shared.x.y"}}`)
	ctx := newCtx()
	_, err := n.Process(ctx)
	if err == nil || !strings.Contains(err.Error(), `"b"`) {
		t.Fatalf("error %v, want one naming key b", err)
	}
	if len(ctx.Shared) != 0 {
		t.Errorf("shared state written despite the error: %v", ctx.Shared)
	}
}

func TestSetStateUnstorableResult(t *testing.T) {
	f := newFixture(t)
	n := f.mustBuild(t, "set_state", `{"expressions": {"f": "request.header"}}`)
	if _, err := n.Process(newCtx()); err == nil {
		t.Error("a function was stored in shared state")
	}
}

func TestSetStateConfigProblems(t *testing.T) {
	f := newFixture(t)
	wantProblems(t, f, "set_state", `{"values": {"password": "x"}}`, "/nodes/n/config/values/password reserved_key")
	wantProblems(t, f, "set_state", `{"values": {"_rev": 1}, "expressions": {"_x": "1"}}`,
		"/nodes/n/config/values/_rev reserved_key", "/nodes/n/config/expressions/_x reserved_key")
	wantProblems(t, f, "set_state", `{"values": {"a": 1}, "expressions": {"a": "2"}}`, "/nodes/n/config/expressions/a bad_config")
	wantProblems(t, f, "set_state", `{"expressions": {"ok": "1", "a/b": "1 +", "c": "nope("}}`,
		"/nodes/n/config/expressions/a~1b bad_config", "/nodes/n/config/expressions/c bad_config")
	wantProblems(t, f, "set_state", `{"expressions": {"a": 1}}`, "/nodes/n/config/expressions/a bad_config")
	wantProblems(t, f, "set_state", `{"value": {"a": 1}}`, "/nodes/n/config/value bad_config")
}

// TestSetStateCannotClaimFactors: the reserved namespace (verified factors, node-local
// state such as an inner journey's saved state) is refused at validation, with a pointer
// and a code; arbor.remember stays writable.
func TestSetStateCannotClaimFactors(t *testing.T) {
	f := newFixture(t)
	wantProblems(t, f, "set_state", `{"values": {"arbor.factors": ["pwd", "push"]}}`, "/nodes/n/config/values/arbor.factors reserved_key")
	wantProblems(t, f, "set_state", `{"expressions": {"arbor.factors": "[\"push\"]"}}`, "/nodes/n/config/expressions/arbor.factors reserved_key")
	wantProblems(t, f, "set_state", `{"values": {"arbor.node.j.inner": {"n": "done", "s": {"arbor.factors": ["push"]}}}}`,
		"/nodes/n/config/values/arbor.node.j.inner reserved_key")
	n := f.mustBuild(t, "set_state", `{"values": {"arbor.remember": true}}`)
	ctx := newCtx()
	if _, err := n.Process(ctx); err != nil || ctx.Shared[nodes.KeyRemember] != true {
		t.Fatalf("arbor.remember: %v %v", err, ctx.Shared)
	}
}

// TestSetStatePaletteDoc: the palette calls expressions what they are, not localized text.
func TestSetStatePaletteDoc(t *testing.T) {
	f := newFixture(t)
	info, ok := f.reg.Lookup("set_state")
	if !ok {
		t.Fatal("set_state is not registered")
	}
	for _, fd := range info.Fields {
		if fd.Name == "expressions" && fd.Type != "map of expressions (by shared-state key)" {
			t.Errorf("expressions documented as %q", fd.Type)
		}
	}
}
