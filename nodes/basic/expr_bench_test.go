package basic_test

import (
	"testing"
)

// BenchmarkScriptedDecision measures one evaluation of a typical decision, with the
// metering rewrite's calls (a loop over a list, string building, a user-free env).
func BenchmarkScriptedDecision(b *testing.B) {
	f := newFixture(b)
	n, _, err := f.build("scripted_decision", `{"expression": "any(shared.groups, {# == \"admins\"}) && upper(request.UserAgent + \"/x\") != \"\" ? \"admin\" : \"user\"", "outcomes": ["admin", "user"]}`)
	if err != nil {
		b.Fatal(err)
	}
	groups := []any{"staff", "vpn", "admins"}
	b.ReportAllocs()
	for b.Loop() {
		ctx := newCtx()
		ctx.Shared["groups"] = groups
		if act, err := n.Process(ctx); err != nil || act.Outcome != "admin" {
			b.Fatalf("%+v %v", act, err)
		}
	}
}
