package journeys

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/store/embedded"
	"github.com/arbor-auth/arbor/store/storetest"
)

type askCfg struct {
	Prompt string `json:"prompt" doc:"Prompt." default:"Name"`
	Tries  int    `json:"tries" doc:"Tries." default:"3" min:"1" max:"9"`
	Mode   string `json:"mode" doc:"Mode." default:"a" enum:"a|b"`
}

type innerCfg struct {
	Journey string `json:"journey" doc:"Inner journey." required:"true"`
}

func registry() *nodes.Registry {
	r := nodes.NewRegistry()
	noop := func(*askCfg, *nodes.Build) (nodes.Node, error) {
		return nodes.NodeFunc(func(*nodes.Context) (nodes.Action, error) { return nodes.Goto("outcome"), nil }), nil
	}
	nodes.Register(r, nodes.Spec[askCfg]{Type: "ask", Summary: "Asks.", Outcomes: []nodes.Outcome{{ID: "outcome"}}, New: noop})
	nodes.Register(r, nodes.Spec[askCfg]{Type: "decide", Summary: "Decides.", Outcomes: []nodes.Outcome{{ID: "true"}, {ID: "false"}},
		New: noop})
	nodes.Register(r, nodes.Spec[innerCfg]{Type: "inner_journey", Outcomes: []nodes.Outcome{{ID: "true"}, {ID: "false"}},
		New: func(c *innerCfg, b *nodes.Build) (nodes.Node, error) {
			if b.Lookup != nil && !b.Lookup(c.Journey) {
				return nil, nodes.Problems{{Pointer: b.Pointer + "/journey", Code: nodes.CodeUnknownJourney, Message: "no journey " + c.Journey}}
			}
			return nodes.NodeFunc(func(*nodes.Context) (nodes.Action, error) { return nodes.Goto("true"), nil }), nil
		}})
	return r
}

func opts() CompileOptions {
	return CompileOptions{Registry: registry(), Deps: &nodes.Deps{}, Lookup: func(n string) bool { return n == "known" }}
}

const good = `{"name":"good","start":"a","nodes":{
  "a":{"type":"ask","outcomes":{"outcome":"b"}},
  "b":{"type":"decide","config":{"tries":5},"outcomes":{"true":"success","false":"a"}}}}`

func TestValidJourney(t *testing.T) {
	c, ps := Load([]byte(good), opts())
	if ps != nil {
		t.Fatal(ps)
	}
	if c.Steps["b"].Next["false"] != "a" || c.Timeout != DefaultTimeout {
		t.Fatalf("compiled: %+v", c.Steps["b"])
	}
}

func TestProblems(t *testing.T) {
	type want struct{ pointer, code string }
	for _, tc := range []struct {
		name string
		doc  string
		want []want
	}{
		{"syntax", `{"name":`, []want{{"", nodes.CodeBadJSON}}},
		{"not an object", `[1]`, []want{{"", nodes.CodeBadJSON}}},
		{"unknown top-level field", `{"name":"x","start":"a","nodes":{"a":{"type":"ask","outcomes":{"outcome":"success"}}},"colour":"red"}`,
			[]want{{"/colour", nodes.CodeBadJSON}}},
		{"unknown fields do not hide the graph's problems", `{"name":"x","start":"a","zeta":1,"alpha":2,"nodes":{"a":{"type":"ask","extra":1,"outcomes":{"outcome":"nowhere"}}}}`,
			[]want{{"/alpha", nodes.CodeBadJSON}, {"/nodes/a/extra", nodes.CodeBadJSON}, {"/nodes/a/outcomes/outcome", nodes.CodeDanglingTarget}, {"/zeta", nodes.CodeBadJSON}}},
		{"missing start", `{"name":"x","nodes":{"a":{"type":"ask","outcomes":{"outcome":"success"}}}}`, []want{{"", nodes.CodeMissingStart}}},
		{"start not a node", `{"name":"x","start":"zz","nodes":{"a":{"type":"ask","outcomes":{"outcome":"success"}}}}`,
			[]want{{"/start", nodes.CodeMissingStart}}},
		{"bad name", `{"name":"Bad Name","start":"a","nodes":{"a":{"type":"ask","outcomes":{"outcome":"success"}}}}`,
			[]want{{"/name", nodes.CodeBadName}}},
		{"unknown type", `{"name":"x","start":"a","nodes":{"a":{"type":"nope","outcomes":{"outcome":"success"}}}}`,
			[]want{{"/nodes/a/type", nodes.CodeUnknownType}}},
		{"bad config: every problem", `{"name":"x","start":"a","nodes":{"a":{"type":"ask","config":{"tries":0,"mode":"c","extra":1},"outcomes":{"outcome":"success"}}}}`,
			[]want{{"/nodes/a/config/extra", nodes.CodeBadConfig}, {"/nodes/a/config/mode", nodes.CodeBadConfig}, {"/nodes/a/config/tries", nodes.CodeBadConfig}}},
		{"config of wrong type", `{"name":"x","start":"a","nodes":{"a":{"type":"ask","config":{"prompt":7},"outcomes":{"outcome":"success"}}}}`,
			[]want{{"/nodes/a/config/prompt", nodes.CodeBadConfig}}},
		{"unconnected and unknown outcome and dangling target", `{"name":"x","start":"a","nodes":{"a":{"type":"decide","outcomes":{"true":"nowhere","maybe":"success"}}}}`,
			[]want{{"/nodes/a/outcomes", nodes.CodeUnconnected}, {"/nodes/a/outcomes/maybe", nodes.CodeUnknownOutcome}, {"/nodes/a/outcomes/true", nodes.CodeDanglingTarget}}},
		{"unreachable", `{"name":"x","start":"a","nodes":{"a":{"type":"ask","outcomes":{"outcome":"success"}},"b":{"type":"ask","outcomes":{"outcome":"success"}}}}`,
			[]want{{"/nodes/b", nodes.CodeUnreachable}}},
		{"reserved id", `{"name":"x","start":"a","nodes":{"a":{"type":"ask","outcomes":{"outcome":"success"}},"success":{"type":"ask","outcomes":{"outcome":"a"}}}}`,
			[]want{{"/nodes/success", nodes.CodeReservedID}}},
		{"unknown inner journey", `{"name":"x","start":"a","nodes":{"a":{"type":"inner_journey","config":{"journey":"nope"},"outcomes":{"true":"success","false":"failure"}}}}`,
			[]want{{"/nodes/a/config/journey", nodes.CodeUnknownJourney}}},
		{"bad timeout", `{"name":"x","timeout":"soon","start":"a","nodes":{"a":{"type":"ask","outcomes":{"outcome":"success"}}}}`,
			[]want{{"/timeout", nodes.CodeBadConfig}}},
		{"node of wrong shape", `{"name":"x","start":"a","nodes":{"a":{"type":"ask","outcomes":{"outcome":3}}}}`,
			[]want{{"/nodes/a/outcomes/outcome", nodes.CodeBadJSON}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ps := Load([]byte(tc.doc), opts())
			if ps == nil {
				t.Fatal("accepted")
			}
			var got []want
			for _, p := range ps {
				if p.Message == "" {
					t.Errorf("problem without message: %+v", p)
				}
				got = append(got, want{p.Pointer, p.Code})
			}
			if len(got) != len(tc.want) {
				t.Fatalf("problems %v, want %v", ps, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("problem %d = %v (%s), want %v", i, got[i], ps[i].Message, tc.want[i])
				}
			}
		})
	}
}

func TestSchemaCoversEveryType(t *testing.T) {
	s := Schema(registry())
	defs := s["$defs"].(map[string]any)
	for _, typ := range []string{"ask", "decide", "inner_journey"} {
		if _, ok := defs["config_"+typ]; !ok {
			t.Errorf("schema lacks config_%s", typ)
		}
	}
}

func TestRepoVersionsAndRefusal(t *testing.T) {
	st, _ := embedded.Open(embedded.Options{})
	defer st.Close()
	r := NewRepo(st, CompileOptions{Registry: registry(), Deps: &nodes.Deps{}})
	ctx := context.Background()
	v, err := r.Save(ctx, []byte(good), "test")
	if err != nil || v != 1 {
		t.Fatalf("save: %v %v", v, err)
	}
	if v, _ := r.Save(ctx, []byte(good), "test"); v != 1 {
		t.Fatalf("unchanged save made version %d", v)
	}
	changed := strings.Replace(good, `"tries":5`, `"tries":6`, 1)
	if v, _ := r.Save(ctx, []byte(changed), "test"); v != 2 {
		t.Fatalf("changed save made version %d", v)
	}
	bad := strings.Replace(good, `"tries":5`, `"tries":50`, 1)
	_, err = r.Save(ctx, []byte(bad), "test")
	var inv *InvalidError
	if !errors.As(err, &inv) || len(inv.Problems) == 0 {
		t.Fatalf("invalid save: %v", err)
	}
	if hv, _ := r.HeadVersion(ctx, "good"); hv != 2 {
		t.Fatalf("invalid save moved head to %d", hv)
	}
	old, err := r.Get(ctx, "good", 1)
	if err != nil || !strings.Contains(string(old.Raw), `"tries":5`) {
		t.Fatalf("v1: %v", err)
	}
	vs, _ := r.Versions(ctx, "good")
	if len(vs) != 2 {
		t.Fatalf("versions: %d", len(vs))
	}
	names, _ := r.Names(ctx)
	if len(names) != 1 || names[0] != "good" {
		t.Fatalf("names: %v", names)
	}
}

func TestConcurrentSavesGetDistinctVersions(t *testing.T) {
	st, _ := embedded.Open(embedded.Options{})
	defer st.Close()
	r := NewRepo(st, CompileOptions{Registry: registry(), Deps: &nodes.Deps{}})
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := 1; i <= 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			doc := strings.Replace(good, `"tries":5`, `"tries":`+string(rune('0'+i)), 1)
			if _, err := r.Save(ctx, []byte(doc), "test"); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	vs, err := r.Versions(ctx, "good")
	if err != nil || len(vs) != 8 {
		t.Fatalf("versions %d, %v", len(vs), err)
	}
	seen := map[string]bool{}
	for _, v := range vs {
		seen[string(v.Doc)] = true
	}
	if len(seen) != 8 {
		t.Fatalf("a version overwrote another: %d distinct of 8", len(seen))
	}
}

func TestInnerJourneyLoopRefused(t *testing.T) {
	st, _ := embedded.Open(embedded.Options{})
	defer st.Close()
	r := NewRepo(st, CompileOptions{Registry: registry(), Deps: &nodes.Deps{}})
	ctx := context.Background()
	a := `{"name":"a","start":"n","nodes":{"n":{"type":"inner_journey","config":{"journey":"b"},"outcomes":{"true":"success","false":"failure"}}}}`
	b := `{"name":"b","start":"n","nodes":{"n":{"type":"inner_journey","config":{"journey":"a"},"outcomes":{"true":"success","false":"failure"}}}}`
	bOK := `{"name":"b","start":"n","nodes":{"n":{"type":"ask","outcomes":{"outcome":"success"}}}}`
	if _, err := r.Save(ctx, []byte(bOK), "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Save(ctx, []byte(a), "t"); err != nil {
		t.Fatal(err)
	}
	_, err := r.Save(ctx, []byte(b), "t")
	var inv *InvalidError
	if !errors.As(err, &inv) || inv.Problems[0].Code != nodes.CodeRecursiveJourney {
		t.Fatalf("loop accepted: %v", err)
	}
}

// Head remembers the current version for the head TTL: a Save here shows at once, a Save
// by another instance sharing the store shows once the TTL has passed.
func TestHeadCache(t *testing.T) {
	mem, _ := embedded.Open(embedded.Options{})
	defer mem.Close()
	st := storetest.NewCounting(mem)
	ctx := context.Background()
	here := NewRepo(st, CompileOptions{Registry: registry(), Deps: &nodes.Deps{}})
	other := NewRepo(mem, CompileOptions{Registry: registry(), Deps: &nodes.Deps{}}) // another instance
	now := time.Unix(1_800_000_000, 0)
	here.now = func() time.Time { return now }
	if _, err := other.Save(ctx, []byte(good), "test"); err != nil {
		t.Fatal(err)
	}
	headReads := func() int {
		n := 0
		for _, op := range st.Ops() {
			if op.Key == headKey("good") {
				n++
			}
		}
		st.Reset()
		return n
	}
	head := func() int {
		t.Helper()
		c, err := here.Head(ctx, "good")
		if err != nil {
			t.Fatal(err)
		}
		return c.Version
	}
	if v := head(); v != 1 || headReads() != 1 {
		t.Fatalf("first Head: version %d", v)
	}
	for range 3 {
		if v := head(); v != 1 {
			t.Fatalf("cached Head: version %d", v)
		}
	}
	if n := headReads(); n != 0 {
		t.Fatalf("Head within the TTL read the head %d times", n)
	}
	// Saved elsewhere: used here once the TTL has passed.
	v2 := strings.Replace(good, `"tries":5`, `"tries":6`, 1)
	if v, err := other.Save(ctx, []byte(v2), "test"); err != nil || v != 2 {
		t.Fatalf("save v2 elsewhere: %v %v", v, err)
	}
	now = now.Add(DefaultHeadTTL - time.Millisecond)
	if v := head(); v != 1 {
		t.Fatalf("within the TTL: version %d", v)
	}
	now = now.Add(time.Millisecond)
	if v := head(); v != 2 || headReads() != 1 {
		t.Fatalf("after the TTL: version %d", v)
	}
	// Saved here: used at once.
	v3 := strings.Replace(good, `"tries":5`, `"tries":7`, 1)
	if v, err := here.Save(ctx, []byte(v3), "test"); err != nil || v != 3 {
		t.Fatalf("save v3 here: %v %v", v, err)
	}
	st.Reset()
	if v := head(); v != 3 || headReads() != 0 {
		t.Fatalf("after a local Save: version %d", v)
	}
	// A stale read racing a local Save never replaces the newer version.
	here.learnHead("good", 2, false)
	if v := head(); v != 3 {
		t.Fatalf("older version replaced a newer one: %d", v)
	}
	// TTL zero: every Head reads the store.
	here.SetHeadTTL(0)
	head()
	head()
	if n := headReads(); n != 2 {
		t.Fatalf("TTL 0: %d head reads for 2 Heads", n)
	}
}

// TestBadConfigStillChecksConnections: a node whose config is wrong still has its
// connections checked, so all problems come in one report.
func TestBadConfigStillChecksConnections(t *testing.T) {
	_, ps := Load([]byte(`{"name":"x","start":"a","nodes":{"a":{"type":"decide","config":{"tries":0},"outcomes":{"true":"nowhere","maybe":"success"}}}}`), opts())
	want := map[string]string{
		"/nodes/a/config/tries":   nodes.CodeBadConfig,
		"/nodes/a/outcomes":       nodes.CodeUnconnected,
		"/nodes/a/outcomes/maybe": nodes.CodeUnknownOutcome,
		"/nodes/a/outcomes/true":  nodes.CodeDanglingTarget,
	}
	if len(ps) != len(want) {
		t.Fatalf("problems: %v", ps)
	}
	for _, p := range ps {
		if want[p.Pointer] != p.Code {
			t.Errorf("unexpected problem %v", p)
		}
	}
}

// TestProblemsInStableOrder loads one document many times: map order inside the schema
// library must not reach the report.
func TestProblemsInStableOrder(t *testing.T) {
	doc := []byte(`{"name":"x","start":"a","d":1,"c":2,"b":3,"nodes":{"a":{"type":"ask","z":1,"y":2,"x":3,"outcomes":{"outcome":"success"}}}}`)
	_, first := Load(doc, opts())
	for range 30 {
		if _, ps := Load(doc, opts()); ps.Error() != first.Error() {
			t.Fatalf("problems changed between runs:\n%v\n%v", first, ps)
		}
	}
}

// TestInvalidErrorOnePerLine: a refused journey lists one problem per line.
func TestInvalidErrorOnePerLine(t *testing.T) {
	_, ps := Load([]byte(`{"name":"x","start":"a","zeta":1,"nodes":{"a":{"type":"nope"}}}`), opts())
	err := (&InvalidError{Name: "x", Problems: ps}).Error()
	lines := strings.Split(err, "\n")
	if len(lines) != 1+len(ps) || len(ps) < 2 || !strings.HasPrefix(lines[1], "  /") {
		t.Fatalf("error:\n%s", err)
	}
}
