package basic_test

import (
	"reflect"
	"testing"

	"github.com/arbor-auth/arbor/nodes"
)

type fakeRunner struct {
	calls []string
	act   nodes.Action
}

func (r *fakeRunner) RunInner(ctx *nodes.Context, name, stateKey string) (nodes.Action, error) {
	r.calls = append(r.calls, ctx.NodeID+" "+name+" "+stateKey)
	return r.act, nil
}

func TestInnerJourney(t *testing.T) {
	f := newFixture(t)
	runner := &fakeRunner{act: nodes.Send(nodes.NameCallback("User Name"))}
	f.deps.Journeys = runner
	n, outs, err := f.build("inner_journey", `{"journey": "mfa"}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomeIDs(outs); !reflect.DeepEqual(got, []string{"true", "false"}) {
		t.Errorf("outcomes %v", got)
	}
	act := run(t, n, newCtx())
	if !reflect.DeepEqual(act, runner.act) {
		t.Errorf("action %+v, want the inner journey's %+v", act, runner.act)
	}
	runner.act = nodes.Goto("false")
	if act := run(t, n, newCtx()); act.Outcome != "false" {
		t.Errorf("outcome %q", act.Outcome)
	}
	if want := []string{"n mfa arbor.node.n.inner", "n mfa arbor.node.n.inner"}; !reflect.DeepEqual(runner.calls, want) {
		t.Errorf("calls %q, want %q", runner.calls, want)
	}
}

func TestInnerJourneyWithoutRunner(t *testing.T) {
	f := newFixture(t)
	n := f.mustBuild(t, "inner_journey", `{"journey": "mfa"}`)
	if _, err := n.Process(newCtx()); err == nil {
		t.Error("ran without a journey runner")
	}
}

func TestInnerJourneyConfigProblems(t *testing.T) {
	f := newFixture(t)
	wantProblems(t, f, "inner_journey", `{}`, "/nodes/n/config bad_config")
	wantProblems(t, f, "inner_journey", `{"journey": ""}`, "/nodes/n/config/journey bad_config")
	wantProblems(t, f, "inner_journey", `{"journey": "j"}`, "/nodes/n/config/journey recursive_journey")

	known := map[string]bool{"mfa": true, "j": true}
	b := &nodes.Build{Deps: f.deps, Registry: f.reg, Journey: "j", NodeID: "n", Pointer: "/nodes/n/config", Lookup: func(name string) bool { return known[name] }}
	if _, _, err := f.buildWith(b, "inner_journey", `{"journey": "mfa"}`); err != nil {
		t.Errorf("known journey: %v", err)
	}
	_, _, err := f.buildWith(b, "inner_journey", `{"journey": "nope"}`)
	if got := problemsOf(t, err); !reflect.DeepEqual(got, []string{"/nodes/n/config/journey unknown_journey"}) {
		t.Errorf("problems %q", got)
	}
}

func TestInnerJourneyNeedsNoDepsToValidate(t *testing.T) {
	f := newFixture(t)
	b := &nodes.Build{Registry: f.reg, Journey: "j", NodeID: "n", Pointer: "/nodes/n/config"}
	for typ, cfg := range map[string]string{
		"inner_journey": `{"journey": "mfa"}`, "data_store_decision": ``, "retry_limit": `{"save_on_user": true}`,
		"account_lockout": ``, "scripted_decision": `{"expression": "user == nil", "outcomes": ["true","false"]}`,
	} {
		if _, _, err := f.buildWith(b, typ, cfg); err != nil {
			t.Errorf("%s without deps: %v", typ, err)
		}
	}
}
