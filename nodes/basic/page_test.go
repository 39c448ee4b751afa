package basic_test

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/nodes"
)

// probeConfig configures the probe: a test node type that records every visit.
type probeConfig struct {
	Asks     int      `json:"asks" doc:"How many text inputs it asks for on a fresh visit."`
	Outcomes []string `json:"outcomes" default:"[\"outcome\"]" doc:"Its outcomes; it routes to the first."`
	Failure  string   `json:"failure" doc:"FailureMessage it sets."`
	Input    bool     `json:"-"`
}

// probeVisit is one recorded visit.
type probeVisit struct {
	NodeID  string
	Answers []string // main inputs received, nil on a fresh visit
}

type probe struct {
	cfg    probeConfig
	visits *[]probeVisit
}

func (p *probe) Process(ctx *nodes.Context) (nodes.Action, error) {
	v := probeVisit{NodeID: ctx.NodeID}
	if ctx.Callbacks != nil {
		v.Answers = []string{}
		for _, cb := range ctx.Callbacks {
			v.Answers = append(v.Answers, cb.InString())
		}
	}
	*p.visits = append(*p.visits, v)
	if p.cfg.Asks > 0 && (ctx.Callbacks == nil || slicesContain(v.Answers, "again")) {
		cbs := make([]nodes.Callback, p.cfg.Asks)
		for i := range cbs {
			cbs[i] = nodes.TextInputCallback(fmt.Sprintf("%s#%d", ctx.NodeID, i), "")
		}
		return nodes.Action{Callbacks: cbs, FailureMessage: p.cfg.Failure}, nil
	}
	ctx.Shared["visited."+ctx.NodeID] = true
	return nodes.Action{Outcome: p.cfg.Outcomes[0], FailureMessage: p.cfg.Failure}, nil
}

func slicesContain(s []string, v string) bool {
	for _, e := range s {
		if e == v {
			return true
		}
	}
	return false
}

// withProbes registers the probe types into f's registry: "probe" may ask for input,
// "probe_decision" may not.
func withProbes(f *fixture) *[]probeVisit {
	visits := &[]probeVisit{}
	for _, typ := range []string{"probe", "probe_decision"} {
		nodes.Register(f.reg, nodes.Spec[probeConfig]{
			Type: typ, Title: "Probe", Summary: "Records visits.", Category: "test",
			Input: typ == "probe",
			OutcomesFor: func(c *probeConfig) []nodes.Outcome {
				out := make([]nodes.Outcome, len(c.Outcomes))
				for i, id := range c.Outcomes {
					out[i] = nodes.Outcome{ID: id, Label: id}
				}
				return out
			},
			New: func(c *probeConfig, _ *nodes.Build) (nodes.Node, error) { return &probe{cfg: *c, visits: visits}, nil },
		})
	}
	return visits
}

func TestPageLoginFlow(t *testing.T) {
	f := newFixture(t)
	n, outs, err := f.build("page", `{
		"nodes": [{"id": "user", "type": "username"}, {"type": "password"}],
		"header": {"en": "Sign in", "fr": "Connexion"},
		"description": {"en": "Welcome back"},
		"stage": "login"}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomeIDs(outs); !reflect.DeepEqual(got, []string{"outcome"}) {
		t.Errorf("outcomes %v, want the password's", got)
	}
	if _, ok := n.(nodes.OutcomeLister); !ok {
		t.Error("a built page is not an OutcomeLister")
	}

	// First visit: both callbacks, with the page's texts.
	ctx := newCtx()
	ctx.Request.Locales = []string{"fr"}
	act := run(t, n, ctx)
	if got := types(act.Callbacks); !reflect.DeepEqual(got, []string{nodes.TypeName, nodes.TypePassword}) {
		t.Fatalf("callbacks %v", got)
	}
	if act.Header != "Connexion" || act.Description != "Welcome back" || act.Stage != "login" {
		t.Errorf("header %q description %q stage %q", act.Header, act.Description, act.Stage)
	}
	if act.Outcome != "" {
		t.Errorf("outcome %q while asking", act.Outcome)
	}
	if got := ctx.Shared["arbor.node.n.layout"]; !reflect.DeepEqual(got, []int{1, 1}) {
		t.Errorf("layout %#v, want [1 1]", got)
	}

	// The flow is stored between steps: the layout comes back through JSON.
	sent := act.Callbacks
	steps := []struct {
		name    string
		answers []any
		outcome string
		kept    string // the user name the resent step is preset to
	}{
		{"empty username asks both again", []any{"", "pw1"}, "", ""},
		{"empty password asks both again, keeping the name", []any{"alice", ""}, "", "alice"},
		{"both given", []any{" alice ", "pw1"}, "outcome", ""},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			ctx := newCtx()
			ctx.Shared = roundTrip(t, nodes.State{"arbor.node.n.layout": []int{1, 1}})
			ctx.Callbacks = answer(sent, st.answers...)
			act := run(t, n, ctx)
			if act.Outcome != st.outcome {
				t.Fatalf("outcome %q, want %q", act.Outcome, st.outcome)
			}
			noPassword(t, ctx.Shared, "pw1")
			if st.outcome == "" {
				want := []nodes.Callback{nodes.NameCallback("User Name"), nodes.PasswordCallback("Password")}
				want[0].Input[0].Value = st.kept
				if !reflect.DeepEqual(act.Callbacks, want) {
					t.Errorf("callbacks %+v, want %+v", act.Callbacks, want)
				}
				if act.Header != "Sign in" {
					t.Errorf("header %q on resend", act.Header)
				}
				if !ctx.Shared.Has("arbor.node.n.layout") {
					t.Error("layout dropped while still asking")
				}
				return
			}
			if ctx.Shared.Has("arbor.node.n.layout") {
				t.Error("layout kept after the page finished")
			}
			if got := ctx.Username(); got != "alice" {
				t.Errorf("username %q", got)
			}
			if got := ctx.Transient[nodes.KeyPassword]; got != "pw1" {
				t.Errorf("transient password %v", got)
			}
		})
	}
}

func TestPageLayoutAndChildren(t *testing.T) {
	f := newFixture(t)
	visits := withProbes(f)
	n, outs, err := f.build("page", `{"nodes": [
		{"id": "first", "type": "probe_decision"},
		{"id": "two", "type": "probe", "config": {"asks": 2}},
		{"type": "probe_decision"},
		{"type": "probe"},
		{"id": "last", "type": "probe", "config": {"asks": 1, "outcomes": ["a", "b"]}}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomeIDs(outs); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("outcomes %v, want the last child's", got)
	}

	ctx := newCtx()
	ctx.NodeID = "pg"
	act := run(t, n, ctx)
	// The decision after the first child that asked is not run while asking.
	wantVisits := []probeVisit{{NodeID: "pg.first"}, {NodeID: "pg.two"}, {NodeID: "pg.3"}, {NodeID: "pg.last"}}
	if !reflect.DeepEqual(*visits, wantVisits) {
		t.Errorf("visits %+v\nwant %+v", *visits, wantVisits)
	}
	if got := ctx.Shared["arbor.node.pg.layout"]; !reflect.DeepEqual(got, []int{0, 2, 0, 0, 1}) {
		t.Errorf("layout %#v", got)
	}
	var prompts []string
	for _, cb := range act.Callbacks {
		prompts = append(prompts, cb.OutString("prompt"))
	}
	if want := []string{"pg.two#0", "pg.two#1", "pg.last#0"}; !reflect.DeepEqual(prompts, want) {
		t.Errorf("prompts %v, want %v", prompts, want)
	}

	// Submit: each child gets its own answers, those that sent none get nil.
	*visits = nil
	shared := roundTrip(t, ctx.Shared)
	ctx = newCtx()
	ctx.NodeID = "pg"
	ctx.Shared = shared
	ctx.Callbacks = answer(act.Callbacks, "x", "y", "z")
	act = run(t, n, ctx)
	if act.Outcome != "a" {
		t.Errorf("outcome %q, want a", act.Outcome)
	}
	wantVisits = []probeVisit{{NodeID: "pg.first"}, {NodeID: "pg.two", Answers: []string{"x", "y"}}, {NodeID: "pg.2"}, {NodeID: "pg.3"}, {NodeID: "pg.last", Answers: []string{"z"}}}
	if !reflect.DeepEqual(*visits, wantVisits) {
		t.Errorf("visits %+v\nwant %+v", *visits, wantVisits)
	}
	for _, id := range []string{"pg.first", "pg.two", "pg.2", "pg.3", "pg.last"} {
		if !ctx.Shared.Bool("visited." + id) {
			t.Errorf("%s did not write to the page's shared state", id)
		}
	}
	if ctx.Shared.Has("arbor.node.pg.layout") {
		t.Error("layout kept")
	}
}

func TestPageReasksEveryInputChild(t *testing.T) {
	f := newFixture(t)
	visits := withProbes(f)
	n := f.mustBuild(t, "page", `{"nodes": [
		{"id": "a", "type": "probe", "config": {"asks": 1}},
		{"id": "b", "type": "probe", "config": {"asks": 1}}]}`)
	ctx := newCtx()
	act := run(t, n, ctx)

	// b asks again: a, which took its answer, is asked afresh so the page is whole.
	*visits = nil
	ctx.Callbacks = answer(act.Callbacks, "fine", "again")
	act = run(t, n, ctx)
	if act.Outcome != "" || len(act.Callbacks) != 2 {
		t.Fatalf("action %+v, want both callbacks again", act)
	}
	want := []probeVisit{{NodeID: "n.a", Answers: []string{"fine"}}, {NodeID: "n.b", Answers: []string{"again"}}, {NodeID: "n.a"}}
	if !reflect.DeepEqual(*visits, want) {
		t.Errorf("visits %+v\nwant %+v", *visits, want)
	}
	if got := ctx.Shared["arbor.node.n.layout"]; !reflect.DeepEqual(got, []int{1, 1}) {
		t.Errorf("layout %#v", got)
	}
	if got := act.Callbacks[0].OutString("prompt"); got != "n.a#0" {
		t.Errorf("first callback %q, want a's", got)
	}
}

func TestPageBadLayoutStartsOver(t *testing.T) {
	f := newFixture(t)
	n := f.mustBuild(t, "page", `{"nodes": [{"type": "username"}, {"type": "password"}]}`)
	sent := []nodes.Callback{nodes.NameCallback("User Name"), nodes.PasswordCallback("Password")}
	for name, layout := range map[string]any{
		"missing":        nil,
		"wrong children": []any{1.0},
		"wrong count":    []any{2.0, 1.0},
		"negative":       []any{-1.0, 3.0},
		"not numbers":    []any{"1", "1"},
		"not a list":     "1,1",
	} {
		t.Run(name, func(t *testing.T) {
			ctx := newCtx()
			if layout != nil {
				ctx.Shared["arbor.node.n.layout"] = layout
			}
			ctx.Callbacks = answer(sent, "alice", "pw")
			act := run(t, n, ctx)
			if got := types(act.Callbacks); !reflect.DeepEqual(got, []string{nodes.TypeName, nodes.TypePassword}) {
				t.Errorf("callbacks %v, want the page again", got)
			}
			if ctx.Shared.Has(nodes.KeyUsername) {
				t.Error("an answer was used without a matching layout")
			}
		})
	}
}

func TestPageRoutesWithoutInput(t *testing.T) {
	f := newFixture(t)
	n := f.mustBuild(t, "page", `{"nodes": [
		{"type": "set_state", "config": {"values": {"k": "v"}}},
		{"type": "choice", "config": {"choices": ["only"]}}]}`)
	ctx := newCtx()
	act := run(t, n, ctx)
	if act.Outcome != "only" || act.Callbacks != nil {
		t.Errorf("action %+v, want outcome only", act)
	}
	if ctx.Shared["k"] != "v" || ctx.Shared.Has("arbor.node.n.layout") {
		t.Errorf("shared %v", ctx.Shared)
	}
}

func TestPageFailureMessagePropagates(t *testing.T) {
	f := newFixture(t)
	withProbes(f)
	n := f.mustBuild(t, "page", `{"nodes": [{"type": "probe_decision", "config": {"failure": "Nope."}}, {"type": "probe_decision"}]}`)
	act := run(t, n, newCtx())
	if act.FailureMessage != "Nope." || act.Outcome != "outcome" {
		t.Errorf("action %+v", act)
	}
}

func TestPageChildError(t *testing.T) {
	f := newFixture(t)
	n := f.mustBuild(t, "page", `{"nodes": [{"id": "s", "type": "scripted_decision", "config": {"expression": "shared.missing.deeper", "outcomes": ["x"]}}]}`)
	_, err := n.Process(newCtx())
	if err == nil || !strings.Contains(err.Error(), `"s"`) {
		t.Errorf("error %v, want one naming the child", err)
	}
}

func TestPageConfigProblems(t *testing.T) {
	f := newFixture(t)
	withProbes(f)
	tests := []struct {
		name, config string
		want         []string
	}{
		{"no nodes", `{"nodes": []}`, []string{"/nodes/n/config/nodes bad_config"}},
		{"nodes missing", `{}`, []string{"/nodes/n/config bad_config"}},
		{"no config", ``, []string{"/nodes/n/config bad_config"}},
		{"nested page", `{"nodes": [{"type": "page", "config": {"nodes": [{"type": "username"}]}}]}`,
			[]string{"/nodes/n/config/nodes/0/type not_allowed_here"}},
		{"inner journey", `{"nodes": [{"type": "username"}, {"type": "inner_journey", "config": {"journey": "other"}}]}`,
			[]string{"/nodes/n/config/nodes/1/type not_allowed_here"}},
		{"unknown type", `{"nodes": [{"type": "username"}, {"type": "nope"}]}`,
			[]string{"/nodes/n/config/nodes/1/type unknown_type"}},
		{"bad child config", `{"nodes": [{"type": "username", "config": {"prompt": 5}}, {"type": "password", "config": {"x": 1}}]}`,
			[]string{"/nodes/n/config/nodes/0/config/prompt bad_config", "/nodes/n/config/nodes/1/config/x bad_config"}},
		{"child problem from Validate", `{"nodes": [{"type": "choice", "config": {"choices": ["a", "B"]}}]}`,
			[]string{"/nodes/n/config/nodes/0/config/choices/1 bad_name"}},
		{"several outcomes before the last", `{"nodes": [{"type": "message"}, {"type": "username"}]}`,
			[]string{"/nodes/n/config/nodes/0 not_allowed_here"}},
		{"duplicate ids", `{"nodes": [{"id": "a", "type": "username"}, {"id": "a", "type": "password"}]}`,
			[]string{"/nodes/n/config/nodes/1/id bad_config"}},
		{"bad id", `{"nodes": [{"id": "A b", "type": "username"}]}`,
			[]string{"/nodes/n/config/nodes/0/id bad_config"}},
		{"entry without type", `{"nodes": [{"config": {}}]}`, []string{"/nodes/n/config/nodes/0 bad_config"}},
		{"unknown entry field", `{"nodes": [{"type": "username", "cfg": {}}]}`, []string{"/nodes/n/config/nodes/0/cfg bad_config"}},
		{"every problem at once", `{"nodes": [{"type": "page"}, {"type": "nope"}, {"type": "username", "config": {"prompt": 1}}]}`,
			[]string{"/nodes/n/config/nodes/0/type not_allowed_here", "/nodes/n/config/nodes/1/type unknown_type", "/nodes/n/config/nodes/2/config/prompt bad_config"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantProblems(t, f, "page", tc.config, tc.want...)
		})
	}
}

// logProbe logs one line through the context's logger and asks for one input.
type logProbe struct{}

func (logProbe) Process(ctx *nodes.Context) (nodes.Action, error) {
	ctx.Log.Info("visited", "node", ctx.NodeID)
	return nodes.Send(nodes.TextInputCallback("p", "")), nil
}

// TestPageChildrenLogAndKeys checks what a child runs with, under the id the page was
// built with and under another (the ids and the layout key made at build are only
// used for the former): its node id, the page's logger with its own page_child key, and
// the page's layout under the running id.
func TestPageChildrenLogAndKeys(t *testing.T) {
	f := newFixture(t)
	nodes.Register(f.reg, nodes.Spec[struct{}]{
		Type: "log_probe", Title: "Log probe", Summary: "Logs a line.", Category: "test", Input: true,
		Outcomes: []nodes.Outcome{{ID: "outcome", Label: "outcome"}},
		New:      func(*struct{}, *nodes.Build) (nodes.Node, error) { return logProbe{}, nil },
	})
	n := f.mustBuild(t, "page", `{"nodes": [{"id": "a", "type": "log_probe"}, {"id": "b", "type": "log_probe"}]}`)
	for _, id := range []string{"n", "other"} {
		t.Run(id, func(t *testing.T) {
			var buf strings.Builder
			ctx := newCtx()
			ctx.NodeID = id
			ctx.Log = slog.New(slog.NewTextHandler(&buf, nil)).With("flow", "f1")
			run(t, n, ctx)
			want := fmt.Sprintf("level=INFO msg=visited flow=f1 page_child=a node=%[1]s.a\n", id) +
				fmt.Sprintf("level=INFO msg=visited flow=f1 page_child=b node=%[1]s.b\n", id)
			if got := stripTime(buf.String()); got != want {
				t.Errorf("log\n%s\nwant\n%s", got, want)
			}
			if got := ctx.Shared["arbor.node."+id+".layout"]; !reflect.DeepEqual(got, []int{1, 1}) {
				t.Errorf("layout %#v under %s", got, id)
			}
		})
	}
}

// stripTime drops the time= field slog's text handler starts each line with.
func stripTime(s string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if _, rest, ok := strings.Cut(l, " "); ok && strings.HasPrefix(l, "time=") {
			lines[i] = rest
		}
	}
	return strings.Join(lines, "")
}

// TestPageAllocations bounds what a login page (user name and password) allocates on
// its first visit and on its submit, beyond what its children do: the children's
// contexts are made in one allocation per step, their node ids and the layout key at
// build. The bound fails if a per-child allocation comes back.
func TestPageAllocations(t *testing.T) {
	f := newFixture(t)
	n := f.mustBuild(t, "page", `{"nodes": [{"type": "username"}, {"type": "password"}], "header": {"en": "Sign in"}}`)
	ctx := newCtx()
	first := run(t, n, ctx)
	submit := answer(first.Callbacks, "alice", "pw")
	layout := ctx.Shared["arbor.node.n.layout"]
	for _, tc := range []struct {
		name string
		cbs  []nodes.Callback
		max  float64
	}{
		// The build before made 30 and 23 (a context, a node id and a logger of three
		// allocations for each child, the layout key, the header's lower-cased map); a
		// submit that routes makes no layout since (10 to 9).
		{"first visit", nil, 18},
		{"submit", submit, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := testing.AllocsPerRun(50, func() {
				c := newCtx()
				c.Shared["arbor.node.n.layout"] = layout
				c.Callbacks = tc.cbs
				if _, err := n.Process(c); err != nil {
					t.Fatal(err)
				}
			})
			// newCtx's own allocations (the context, its two maps, the locales).
			base := testing.AllocsPerRun(50, func() {
				c := newCtx()
				c.Shared["arbor.node.n.layout"] = layout
			})
			if got-base > tc.max {
				t.Errorf("%v allocations per visit, want at most %v", got-base, tc.max)
			}
			t.Logf("%v allocations per visit", got-base)
		})
	}
}

// TestPageCompletesOnlyWithACompletingChild: a page acts on the end of the flow
// (nodes.Completer) only when one of its children does, and then passes it on under the
// child's node id: a login page is no Completer, so the engine builds no context to tell
// it how the flow ended.
func TestPageCompletesOnlyWithACompletingChild(t *testing.T) {
	f := newFixture(t)
	login := f.mustBuild(t, "page", `{"nodes": [{"type": "username"}, {"type": "password"}]}`)
	if _, ok := login.(nodes.Completer); ok {
		t.Error("a page of a username and a password acts on the end of the flow")
	}
	f.addUser(t, "alice", "pw")
	n := f.mustBuild(t, "page", `{"nodes": [{"id": "limit", "type": "retry_limit", "config": {"retry_limit": 3, "save_on_user": true}}]}`)
	cm, ok := n.(nodes.Completer)
	if !ok {
		t.Fatal("a page with a retry limit does not act on the end of the flow")
	}
	if _, ok := n.(nodes.OutcomeLister); !ok {
		t.Error("a completing page is not an OutcomeLister")
	}
	ctx := newCtx()
	ctx.NodeID = "n"
	ctx.Shared["username"] = "alice"
	run(t, n, ctx) // the child saves a count of 1 on the user, under its own node id
	saved := func() bool {
		u, err := f.users.Get(context.Background(), "/", "alice")
		if err != nil {
			t.Fatal(err)
		}
		_, ok := u.Attributes["retry_limit_count.j.n.limit"]
		return ok
	}
	if !saved() {
		t.Fatal("the page's retry limit saved no count under n.limit")
	}
	if err := cm.Complete(ctx, true); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if saved() {
		t.Error("the page did not pass a successful end on to its retry limit: the count is still saved")
	}
}
