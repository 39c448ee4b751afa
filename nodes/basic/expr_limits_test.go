package basic_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// TestHostileExpressionsRejected: expressions too long, too deep or too large never
// compile, and the problem reported names the limit without echoing the expression.
func TestHostileExpressionsRejected(t *testing.T) {
	f := newFixture(t)
	long := `shared.x == "` + strings.Repeat("a", 3000) + `" && nosuch > 1`
	tests := []struct {
		name, expr, want string
	}{
		{"too long", strings.Repeat("1 + ", 1100) + "1", "at most 4096"},
		{"too deep", strings.Repeat("!", 100) + "true", "nests"},
		{"too many nodes", "len([" + strings.Repeat("1,", 1100) + "1]) > 0", "nodes"},
		{"long rejected expression", long, "nosuch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, typ := range []string{"scripted_decision", "set_state"} {
				raw := `{"expression": ` + quote(tc.expr) + `, "outcomes": ["true", "false"]}`
				if typ == "set_state" {
					raw = `{"expressions": {"x": ` + quote(tc.expr) + `}}`
				}
				_, _, err := f.build(typ, raw)
				if err == nil {
					t.Fatalf("%s built", typ)
				}
				msg := err.Error()
				if !strings.Contains(msg, tc.want) {
					t.Errorf("%s: problem %q does not mention %q", typ, msg, tc.want)
				}
				if len(msg) > 400 || strings.Contains(msg, strings.Repeat("a", 200)) || strings.Contains(msg, strings.Repeat("1 + ", 50)) {
					t.Errorf("%s: problem echoes the expression (%d bytes): %.200q", typ, len(msg), msg)
				}
			}
		})
	}
}

// TestHostileExpressionsBounded runs the hostile expressions of the review: each is
// stopped by a budget with an error (the flow fails closed) after allocating a few
// megabytes at most, where they used to reach a gigabyte or keep a core busy.
func TestHostileExpressionsBounded(t *testing.T) {
	f := newFixture(t)
	nest := func(depth int, inner string) string {
		s := inner
		for range depth {
			s = `replace(` + s + `, "a", "aaaa")`
		}
		return s
	}
	var doubling strings.Builder
	doubling.WriteString(`let s0 = "xxxxxxxxxxxxxxxx"; `)
	for i := 1; i <= 26; i++ {
		fmt.Fprintf(&doubling, "let s%d = s%d + s%d; ", i, i-1, i-1)
	}
	doubling.WriteString(`len(s26) > 0`)
	split := `split(repeat("x", 2000), "")`
	tests := []struct {
		name, expr, want string
	}{
		{"replace doubling", `len(` + nest(15, `"ab"`) + `) > 0`, "budget"},
		{"replace with a long replacement", `let s = repeat("a", 100000); len(replace(s, "a", s)) > 0`, "budget"},
		{"concatenation doubling", doubling.String(), "budget"},
		{"repeat", `len(repeat("x", 1000000000)) > 0`, "budget"},
		{"join of aliases", `let s = repeat("x", 500000); len(join(map(1..1000, s), "")) > 0`, "budget"},
		{"toJSON of aliases", `let s = repeat("x", 500000); len(toJSON(map(1..1000, s))) > 0`, "budget"},
		{"string of aliases", `let s = repeat("x", 500000); len(string(map(1..1000, s))) > 0`, "budget"},
		{"growing accumulator", `len(reduce(1..100000, #acc + "xxxxxxxxxxxxxxxx", "")) > 0`, "budget"},
		{"nested all", `all(` + split + `, {all(` + split + `, {all(` + split + `, {# != "y"})})})`, "budget"},
		{"nested all over shared state", `all(shared.list, {all(shared.list, {all(shared.list, {# != "y"})})})`, "loop iterations"},
		{"nested ranges", `all(1..1000, {all(1..1000, {all(1..1000, {# > 0})})})`, "budget"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := f.mustBuild(t, "scripted_decision", `{"expression": `+quote(tc.expr)+`, "outcomes": ["true", "false"]}`)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			ctx := newCtx()
			list := make([]any, 1000)
			for i := range list {
				list[i] = "x"
			}
			ctx.Shared["list"] = list
			act, err := n.Process(ctx)
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Process = %+v, %v; want an error mentioning %q", act, err, tc.want)
			}
			if act.Outcome != "" {
				t.Errorf("outcome %q with an error", act.Outcome)
			}
			if len(err.Error()) > 400 {
				t.Errorf("the error echoes the expression (%d bytes)", len(err.Error()))
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
				t.Errorf("allocated %d MiB before it was stopped", alloc>>20)
			}
		})
	}
}

// TestExpressionStopsWhenClientLeaves: an evaluation checks its request's context at
// every loop, so one whose client went away stops instead of running to its end.
func TestExpressionStopsWhenClientLeaves(t *testing.T) {
	f := newFixture(t)
	n := f.mustBuild(t, "scripted_decision", `{"expression": "all(1..10, {# > 0})", "outcomes": ["true", "false"]}`)
	ctx := newCtx()
	c, cancel := context.WithCancel(context.Background())
	cancel()
	ctx.Ctx = c
	if _, err := n.Process(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Process with a canceled context = %v, want context.Canceled", err)
	}
	// The same node still serves a live request.
	if act, err := n.Process(newCtx()); err != nil || act.Outcome != "true" {
		t.Errorf("Process = %+v, %v; want true", act, err)
	}
}

// TestExpressionsWithinBudgetsWork: everyday expressions that loop, build strings and
// use the amplifying builtins modestly still work, with their static types kept.
func TestExpressionsWithinBudgetsWork(t *testing.T) {
	f := newFixture(t)
	for _, e := range []string{
		`all(1..1000, {# > 0}) && count(1..1000, # % 2 == 0) == 500`,
		`replace("a-b-c", "-", "+") == "a+b+c" && repeat("ab", 3) == "ababab"`,
		`join(map(["a", "b"], upper(#)), ",") == "A,B" && fromJSON(toJSON([1]))[0] == 1 && string(1) == "1"`,
		`len(request.ClientIP + "/" + request.UserAgent) > 0 && trim(" x ") + "y" == "xy"`,
		`reduce(1..100, #acc + 1, 0) == 100 && sum(map(1..10, #)) == 55`,
	} {
		n := f.mustBuild(t, "scripted_decision", `{"expression": `+quote(e)+`, "outcomes": ["true", "false"]}`)
		if act, err := n.Process(newCtx()); err != nil || act.Outcome != "true" {
			t.Errorf("%s: %+v, %v; want true", e, act, err)
		}
	}
	// A string result keeps its static type through the metering rewrite, so a
	// decision that yields text is still accepted and one that yields a number refused.
	if _, _, err := f.build("scripted_decision", `{"expression": "lower(\"A\") + \"b\"", "outcomes": ["ab"]}`); err != nil {
		t.Errorf("text expression refused: %v", err)
	}
	if _, _, err := f.build("scripted_decision", `{"expression": "len(\"abc\") + 1", "outcomes": ["x"]}`); err == nil {
		t.Error("a number-valued expression was accepted as a decision")
	}
}
