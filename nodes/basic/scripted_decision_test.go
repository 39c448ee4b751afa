package basic_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/store"
)

func TestScriptedDecision(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "alice", "pw")
	if _, err := f.users.Update(context.Background(), "/", "alice", func(u *identity.User) error {
		u.Attributes = map[string]any{"dept": "it", "tags": []any{"vip"}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		expr     string
		outcomes string
		shared   nodes.State
		outcome  string
		err      string // substring of the error, when one is wanted
	}{
		{name: "text outcome", expr: `shared.level >= 2 ? "high" : "low"`, outcomes: `["high","low"]`, shared: nodes.State{"level": 2.0}, outcome: "high"},
		{name: "bool outcome", expr: `shared.username == "alice"`, outcomes: `["true","false"]`, shared: nodes.State{"username": "bob"}, outcome: "false"},
		{name: "request", expr: `request.ClientIP == "192.0.2.7" && request.UserAgent == "test-agent" && request.header("x-tenant") == "acme" && "en" in request.Locales`, outcomes: `["true","false"]`, outcome: "true"},
		{name: "now", expr: `now.Year() == 2026 && now > date("2026-01-01")`, outcomes: `["true","false"]`, outcome: "true"},
		{name: "user", expr: `user.attributes.dept == "it" && "vip" in user.attributes.tags && user.status == "active" ? "staff" : "other"`, outcomes: `["staff","other"]`, shared: nodes.State{"username": "ALICE"}, outcome: "staff"},
		{name: "no username no user", expr: `user == nil ? "anonymous" : "known"`, outcomes: `["anonymous","known"]`, outcome: "anonymous"},
		{name: "unknown user", expr: `user == nil ? "anonymous" : "known"`, outcomes: `["anonymous","known"]`, shared: nodes.State{"username": "mallory"}, outcome: "anonymous"},
		{name: "no password hash for expressions", expr: `"password_hash" in user ? "leak" : "ok"`, outcomes: `["leak","ok"]`, shared: nodes.State{"username": "alice"}, outcome: "ok"},
		{name: "unknown outcome fails", expr: `"maybe"`, outcomes: `["yes","no"]`, err: `"maybe"`},
		{name: "bool without true outcome fails", expr: `shared.flag`, outcomes: `["yes","no"]`, shared: nodes.State{"flag": true}, err: `"true", which is not one of the outcomes`},
		{name: "runtime error fails", expr: `shared.a.b == 1 ? "yes" : "no"`, outcomes: `["yes","no"]`, err: "cannot fetch"},
		{name: "non-text result fails", expr: `shared.n`, outcomes: `["yes"]`, shared: nodes.State{"n": 1.0}, err: "float64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := f.mustBuild(t, "scripted_decision", `{"expression": `+quote(tc.expr)+`, "outcomes": `+tc.outcomes+`}`)
			ctx := newCtx()
			ctx.Request.Header = http.Header{"X-Tenant": {"acme"}}
			for k, v := range tc.shared {
				ctx.Shared[k] = v
			}
			before := roundTrip(t, ctx.Shared)
			act, err := n.Process(ctx)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				if act.Outcome != "" {
					t.Errorf("outcome %q with an error", act.Outcome)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if act.Outcome != tc.outcome {
				t.Errorf("outcome %q, want %q", act.Outcome, tc.outcome)
			}
			if got := roundTrip(t, ctx.Shared); !reflect.DeepEqual(got, before) {
				t.Errorf("shared state changed: %v -> %v", before, got)
			}
		})
	}
}

func TestScriptedDecisionStoreDown(t *testing.T) {
	f := newFixture(t)
	f.st.Down.Store(true)
	for _, src := range []string{`user == nil`, `$env.user == nil`, `$env["user"] == nil`} {
		n := f.mustBuild(t, "scripted_decision", `{"expression": `+quote(src)+`, "outcomes": ["true", "false"]}`)
		ctx := newCtx()
		ctx.Shared["username"] = "alice"
		if _, err := n.Process(ctx); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s: error %v, want store.ErrUnavailable", src, err)
		}
	}
}

func TestScriptedDecisionReadsUserOnlyWhenNeeded(t *testing.T) {
	f := newFixture(t)
	n := f.mustBuild(t, "scripted_decision", `{"expression": "shared.username == \"alice\"", "outcomes": ["true", "false"]}`)
	ctx := newCtx()
	ctx.Shared["username"] = "alice"
	f.st.Down.Store(true) // a store read would fail
	if act := run(t, n, ctx); act.Outcome != "true" {
		t.Errorf("outcome %q", act.Outcome)
	}
}

func TestScriptedDecisionOutcomes(t *testing.T) {
	f := newFixture(t)
	_, outs, err := f.build("scripted_decision", `{"expression": "\"b\"", "outcomes": ["a", "b"]}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomeIDs(outs); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("outcomes %v", got)
	}
}

func TestScriptedDecisionConfigProblems(t *testing.T) {
	f := newFixture(t)
	wantProblems(t, f, "scripted_decision", `{"outcomes": ["a"]}`, "/nodes/n/config bad_config")
	wantProblems(t, f, "scripted_decision", `{"expression": "", "outcomes": ["a"]}`, "/nodes/n/config/expression bad_config")
	wantProblems(t, f, "scripted_decision", `{"expression": "1 +", "outcomes": ["a"]}`, "/nodes/n/config/expression bad_config")
	wantProblems(t, f, "scripted_decision", `{"expression": "nosuchvar == 1", "outcomes": ["true", "false"]}`, "/nodes/n/config/expression bad_config")
	wantProblems(t, f, "scripted_decision", `{"expression": "1 + 2", "outcomes": ["a"]}`, "/nodes/n/config/expression bad_config")
	wantProblems(t, f, "scripted_decision", `{"expression": "1 == 2", "outcomes": ["yes", "no"]}`, "/nodes/n/config/outcomes bad_config")
	wantProblems(t, f, "scripted_decision", `{"expression": "\"a\"", "outcomes": []}`, "/nodes/n/config/outcomes bad_config")
	wantProblems(t, f, "scripted_decision", `{"expression": "\"a\"", "outcomes": ["a", "a", "Not-Snake"]}`,
		"/nodes/n/config/outcomes/1 bad_config", "/nodes/n/config/outcomes/2 bad_name")
	wantProblems(t, f, "scripted_decision", `{"expression": "\"a\"", "outcomes": ["a"], "script": "x"}`, "/nodes/n/config/script bad_config")
}

// quote returns s as a JSON string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}
