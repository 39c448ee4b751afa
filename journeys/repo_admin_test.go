package journeys

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/store/embedded"
	"github.com/arbor-auth/arbor/store/storetest"
)

// TestSaveWithConditions: Create refuses an existing journey, IfVersion refuses a stale
// version, and neither writes anything when it refuses; Actor is recorded.
func TestSaveWithConditions(t *testing.T) {
	st, _ := embedded.Open(embedded.Options{})
	defer st.Close()
	r := NewRepo(st, CompileOptions{Registry: registry(), Deps: &nodes.Deps{}})
	ctx := context.Background()
	v2 := strings.Replace(good, `"tries":5`, `"tries":6`, 1)
	v3 := strings.Replace(good, `"tries":5`, `"tries":7`, 1)
	if _, err := r.SaveWith(ctx, []byte(good), SaveOptions{Source: "api", IfVersion: 1}); !isStale(err, 0) {
		t.Fatalf("IfVersion on a missing journey: %v", err)
	}
	if v, err := r.SaveWith(ctx, []byte(good), SaveOptions{Source: "api", Actor: "token:abc", Create: true}); err != nil || v != 1 {
		t.Fatalf("create: %v %v", v, err)
	}
	if _, err := r.SaveWith(ctx, []byte(v2), SaveOptions{Source: "api", Create: true}); !errors.Is(err, ErrExists) {
		t.Fatalf("create again: %v", err)
	}
	if v, err := r.SaveWith(ctx, []byte(v2), SaveOptions{Source: "api", IfVersion: 1}); err != nil || v != 2 {
		t.Fatalf("save at v1: %v %v", v, err)
	}
	if _, err := r.SaveWith(ctx, []byte(v3), SaveOptions{Source: "api", IfVersion: 1}); !isStale(err, 2) {
		t.Fatalf("save at stale v1: %v", err)
	}
	vs, err := r.Versions(ctx, "good")
	if err != nil || len(vs) != 2 {
		t.Fatalf("versions after refusals: %d %v", len(vs), err)
	}
	if vs[0].Actor != "token:abc" || vs[0].Source != "api" {
		t.Fatalf("version 1 recorded actor %q source %q", vs[0].Actor, vs[0].Source)
	}
}

func isStale(err error, current int) bool {
	var se *StaleError
	return errors.As(err, &se) && se.Current == current
}

// TestEnableDisable: a disabled journey refuses new flows through StartHead (Head still
// returns it, for flows and inner journeys), stays disabled across saves, and another
// instance sees the flag within the head TTL with no extra store read per start.
func TestEnableDisable(t *testing.T) {
	mem, _ := embedded.Open(embedded.Options{})
	defer mem.Close()
	st := storetest.NewCounting(mem)
	ctx := context.Background()
	admin := NewRepo(mem, CompileOptions{Registry: registry(), Deps: &nodes.Deps{}})
	other := NewRepo(st, CompileOptions{Registry: registry(), Deps: &nodes.Deps{}})
	now := time.Unix(1_800_000_000, 0)
	other.now = func() time.Time { return now }
	if _, err := admin.Save(ctx, []byte(good), "test"); err != nil {
		t.Fatal(err)
	}
	if err := admin.SetEnabled(ctx, "missing", false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("disable a missing journey: %v", err)
	}
	if _, err := admin.Enabled(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Enabled of a missing journey: %v", err)
	}
	if on, err := other.Enabled(ctx, "good"); err != nil || !on {
		t.Fatalf("a new journey is enabled: %v %v", on, err)
	}
	if _, err := other.StartHead(ctx, "good"); err != nil { // compiles it there
		t.Fatal(err)
	}
	if err := admin.SetEnabled(ctx, "good", false); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.StartHead(ctx, "good"); !errors.Is(err, ErrDisabled) {
		t.Fatalf("StartHead of a disabled journey here: %v", err)
	}
	if c, err := admin.Head(ctx, "good"); err != nil || c.Version != 1 {
		t.Fatalf("Head of a disabled journey: %v", err)
	}
	st.Reset()
	if _, err := other.StartHead(ctx, "good"); err != nil {
		t.Fatalf("within the TTL the other instance still starts it: %v", err)
	}
	if n := len(st.Ops()); n != 0 {
		t.Fatalf("a cached StartHead made %d store operations", n)
	}
	now = now.Add(DefaultHeadTTL)
	if _, err := other.StartHead(ctx, "good"); !errors.Is(err, ErrDisabled) {
		t.Fatalf("after the TTL the other instance starts it: %v", err)
	}
	if on, _ := other.Enabled(ctx, "good"); on {
		t.Fatal("Enabled says enabled")
	}
	v2 := strings.Replace(good, `"tries":5`, `"tries":6`, 1)
	if v, err := admin.Save(ctx, []byte(v2), "test"); err != nil || v != 2 {
		t.Fatalf("save while disabled: %v %v", v, err)
	}
	if on, _ := admin.Enabled(ctx, "good"); on {
		t.Fatal("a save enabled a disabled journey")
	}
	if err := admin.SetEnabled(ctx, "good", true); err != nil {
		t.Fatal(err)
	}
	if err := admin.SetEnabled(ctx, "good", true); err != nil {
		t.Fatalf("enabling twice: %v", err)
	}
	if c, err := admin.StartHead(ctx, "good"); err != nil || c.Version != 2 {
		t.Fatalf("StartHead after enable: %v", err)
	}
}

// TestSaveEnable: SaveOptions.Enable sets the journey's state in the save's own head
// write: a new journey saved disabled is never seen enabled (no store state between two
// writes has it so), an unchanged document with another state writes the head alone,
// and nil keeps the state a journey has.
func TestSaveEnable(t *testing.T) {
	mem, _ := embedded.Open(embedded.Options{})
	defer mem.Close()
	st := storetest.NewCounting(mem)
	r := NewRepo(st, CompileOptions{Registry: registry(), Deps: &nodes.Deps{}})
	ctx := context.Background()
	off, on := false, true
	if v, err := r.SaveWith(ctx, []byte(good), SaveOptions{Source: "test", Enable: &off}); err != nil || v != 1 {
		t.Fatalf("save disabled: %v %v", v, err)
	}
	var heads []string
	for _, op := range st.Ops() {
		if strings.HasSuffix(op.Key, ":head") && op.Name != "Get" {
			heads = append(heads, op.Name)
		}
	}
	if len(heads) != 1 {
		t.Fatalf("head writes of a new journey saved disabled: %v, want one", heads)
	}
	if _, err := r.StartHead(ctx, "good"); !errors.Is(err, ErrDisabled) {
		t.Fatalf("StartHead of a journey saved disabled: %v", err)
	}
	fresh := NewRepo(mem, CompileOptions{Registry: registry(), Deps: &nodes.Deps{}})
	if en, err := fresh.Enabled(ctx, "good"); err != nil || en {
		t.Fatalf("another instance reads the journey saved disabled as enabled=%v, %v", en, err)
	}
	st.Reset()
	if v, err := r.SaveWith(ctx, []byte(good), SaveOptions{Source: "test", Enable: &on}); err != nil || v != 1 {
		t.Fatalf("enable with the same document: %v %v", v, err)
	}
	for _, op := range st.Ops() {
		if strings.Contains(op.Key, ":v") && op.Name != "Get" {
			t.Fatalf("enabling an unchanged document wrote a version: %s %s", op.Name, op.Key)
		}
	}
	if c, err := r.StartHead(ctx, "good"); err != nil || c.Version != 1 {
		t.Fatalf("StartHead after enabling with the same document: %v", err)
	}
	v2 := strings.Replace(good, `"tries":5`, `"tries":6`, 1)
	if v, err := r.SaveWith(ctx, []byte(v2), SaveOptions{Source: "test", Enable: &off}); err != nil || v != 2 {
		t.Fatalf("save a new version disabled: %v %v", v, err)
	}
	if en, _ := r.Enabled(ctx, "good"); en {
		t.Fatal("a new version saved disabled is enabled")
	}
	v3 := strings.Replace(good, `"tries":5`, `"tries":7`, 1)
	if v, err := r.SaveWith(ctx, []byte(v3), SaveOptions{Source: "test"}); err != nil || v != 3 {
		t.Fatalf("save without Enable: %v %v", v, err)
	}
	if en, _ := r.Enabled(ctx, "good"); en {
		t.Fatal("a save without Enable enabled a disabled journey")
	}
}

// TestDelete: a deleted journey is gone from Names, Head and Versions, its versions still
// serve running flows, one in use as an inner journey is refused, and one saved again
// continues the version numbers.
func TestDelete(t *testing.T) {
	st, _ := embedded.Open(embedded.Options{})
	defer st.Close()
	r := NewRepo(st, CompileOptions{Registry: registry(), Deps: &nodes.Deps{}})
	ctx := context.Background()
	outer := `{"name":"outer","start":"n","nodes":{"n":{"type":"inner_journey","config":{"journey":"good"},"outcomes":{"true":"success","false":"failure"}}}}`
	for _, d := range []string{good, strings.Replace(good, `"tries":5`, `"tries":6`, 1), outer} {
		if _, err := r.Save(ctx, []byte(d), "test"); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Delete(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete a missing journey: %v", err)
	}
	var inUse *InUseError
	if err := r.Delete(ctx, "good"); !errors.As(err, &inUse) || len(inUse.By) != 1 || inUse.By[0] != "outer" {
		t.Fatalf("delete a journey in use: %v", err)
	}
	if _, err := r.Head(ctx, "good"); err != nil {
		t.Fatalf("a refused delete deleted: %v", err)
	}
	if err := r.Delete(ctx, "outer"); err != nil {
		t.Fatal(err)
	}
	if err := r.Delete(ctx, "good"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"good", "outer"} {
		if _, err := r.Head(ctx, name); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Head of deleted %s: %v", name, err)
		}
		if _, err := r.Versions(ctx, name); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Versions of deleted %s: %v", name, err)
		}
		if err := r.SetEnabled(ctx, name, false); !errors.Is(err, ErrNotFound) {
			t.Fatalf("disable deleted %s: %v", name, err)
		}
	}
	if names, _ := r.Names(ctx); len(names) != 0 {
		t.Fatalf("names after delete: %v", names)
	}
	if err := r.Delete(ctx, "good"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	fresh := NewRepo(st, CompileOptions{Registry: registry(), Deps: &nodes.Deps{}})
	if c, err := fresh.Get(ctx, "good", 2); err != nil || c.Version != 2 {
		t.Fatalf("a running flow's version after delete: %v", err)
	}
	if v, err := r.SaveWith(ctx, []byte(good), SaveOptions{Source: "api", Create: true}); err != nil || v != 3 {
		t.Fatalf("saved again: version %d, %v (want 3)", v, err)
	}
	if names, _ := r.Names(ctx); len(names) != 1 || names[0] != "good" {
		t.Fatalf("names after saving again: %v", names)
	}
}
