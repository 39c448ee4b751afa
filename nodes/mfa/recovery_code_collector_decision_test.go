package mfa_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/mfa"
	"github.com/arbor-auth/arbor/push"
	"github.com/arbor-auth/arbor/store"
	"github.com/arbor-auth/arbor/throttle"
)

func TestRecoveryCodeCollectorOutcomes(t *testing.T) {
	f := newFixture(t, push.Config{})
	_, outs, err := f.build("recovery_code_collector_decision", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomeIDs(outs); !reflect.DeepEqual(got, []string{"true", "false"}) {
		t.Errorf("outcomes %v", got)
	}
}

// TestRecoveryCodeCollector answers the prompt with each input in turn, in one flow,
// for a user with fresh codes: a code works once, and each verdict is audited.
func TestRecoveryCodeCollector(t *testing.T) {
	type try struct {
		input   func(codes []string) any
		outcome string // "" when it asks again
	}
	code := func(i int) func([]string) any { return func(c []string) any { return c[i] } }
	lit := func(s any) func([]string) any { return func([]string) any { return s } }
	tests := []struct {
		name  string
		user  string
		tries []try
		used  int // recovery_code.used events
		bad   int // recovery_code.rejected events
		left  int // alice's codes left
	}{
		{name: "good code, then the same again", user: "alice", tries: []try{
			{input: code(3), outcome: "true"},
			{input: code(3), outcome: "false"},
		}, used: 1, bad: 1, left: 9},
		{name: "two different codes", user: "alice", tries: []try{
			{input: code(0), outcome: "true"},
			{input: code(9), outcome: "true"},
		}, used: 2, left: 8},
		{name: "typed without the dashes", user: "alice", tries: []try{
			{input: func(c []string) any { return " " + strings.ReplaceAll(c[1], "-", "") + "\n" }, outcome: "true"},
		}, used: 1, left: 9},
		{name: "codes are not case-sensitive", user: "alice", tries: []try{
			{input: func(c []string) any { return strings.ToLower(c[2]) }, outcome: "true"},
		}, used: 1, left: 9},
		{name: "wrong codes", user: "alice", tries: []try{
			{input: lit("NOTACODE00"), outcome: "false"},
			{input: lit("short"), outcome: "false"},
			{input: lit("<script>alert(1)</script>"), outcome: "false"},
			{input: lit(1234567890.0), outcome: "false"},
		}, bad: 4, left: 10},
		{name: "empty input asks again", user: "alice", tries: []try{
			{input: lit("")},
			{input: lit("   ")},
			{input: lit(nil)},
			{input: code(4), outcome: "true"},
		}, used: 1, left: 9},
		{name: "another user's code", user: "bob", tries: []try{
			{input: code(5), outcome: "false"},
		}, bad: 1, left: 10},
		{name: "username in another case", user: "ALICE", tries: []try{
			{input: code(6), outcome: "true"},
		}, used: 1, left: 9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, push.Config{})
			bg := context.Background()
			codes, err := f.env.Devices.NewRecoveryCodes(bg, "/", "alice")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.env.Devices.NewRecoveryCodes(bg, "/", "bob"); err != nil {
				t.Fatal(err)
			}
			n := f.mustBuild(t, "recovery_code_collector_decision", "")
			ctx := f.newCtx()
			ctx.Shared[nodes.KeyUsername] = tc.user
			prompt := []nodes.Callback{nodes.NameCallback("Recovery Code")}
			for i, tr := range tc.tries {
				ctx.Callbacks = nil
				if act := run(t, n, ctx); !reflect.DeepEqual(act.Callbacks, prompt) {
					t.Fatalf("try %d: first visit %+v, want the prompt", i, act)
				}
				f.next(t, ctx, prompt, tr.input(codes))
				act := run(t, n, ctx)
				if act.Outcome != tr.outcome {
					t.Fatalf("try %d: outcome %q, want %q", i, act.Outcome, tr.outcome)
				}
				// A refused code says why on the step that asks again.
				if wantErr := tr.outcome == "false"; (act.StepError != "") != wantErr {
					t.Fatalf("try %d: step error %q on outcome %q", i, act.StepError, act.Outcome)
				}
				// The code is a verified factor once the node has said "true".
				var wantFactors []nodes.Factor
				if slices.ContainsFunc(tc.tries[:i+1], func(t try) bool { return t.outcome == "true" }) {
					wantFactors = []nodes.Factor{nodes.FactorRecoveryCode}
				}
				if got := ctx.Shared.Factors(); !slices.Equal(got, wantFactors) {
					t.Fatalf("try %d: factors %v, want %v", i, got, wantFactors)
				}
				if tr.outcome == "" && !reflect.DeepEqual(act.Callbacks, prompt) {
					t.Fatalf("try %d: asked %+v, want the prompt again", i, act.Callbacks)
				}
			}
			if got, want := []int{f.env.Audit.Count(audit.RecoveryCodeUsed), f.env.Audit.Count(audit.RecoveryCodeBad)}, []int{tc.used, tc.bad}; !reflect.DeepEqual(got, want) {
				t.Errorf("used, rejected events %v, want %v", got, want)
			}
			for _, e := range f.env.Audit.Events() {
				if e.Type != audit.RecoveryCodeUsed && e.Type != audit.RecoveryCodeBad {
					continue
				}
				if e.User != tc.user || e.Realm != "/" || e.FlowID != "flow1" || e.Node != "n" || e.Client != "192.0.2.7" {
					t.Errorf("event %+v", e)
				}
				for _, c := range codes {
					if strings.Contains(e.Reason+e.Message, c) {
						t.Errorf("event %+v holds a code", e)
					}
				}
			}
			if left, _ := f.env.Devices.RecoveryCodesLeft(bg, "/", "alice"); left != tc.left {
				t.Errorf("alice has %d codes left, want %d", left, tc.left)
			}
			noSecrets(t, ctx.Shared, nil, codes)
		})
	}
}

func TestRecoveryCodeCollectorPrompt(t *testing.T) {
	f := newFixture(t, push.Config{})
	n := f.mustBuild(t, "recovery_code_collector_decision", `{"prompt": {"en": "Code", "fr": "Code de secours"}}`)
	ctx := f.newCtx()
	ctx.Request.Locales = []string{"fr-FR"}
	if act := run(t, n, ctx); !reflect.DeepEqual(act.Callbacks, []nodes.Callback{nodes.NameCallback("Code de secours")}) {
		t.Errorf("callbacks %+v", act.Callbacks)
	}
}

func TestRecoveryCodeCollectorErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *fixture, ctx *nodes.Context)
		is    error
	}{
		{name: "no username", setup: func(f *fixture, ctx *nodes.Context) { delete(ctx.Shared, nodes.KeyUsername) }},
		{name: "store down", setup: func(f *fixture, ctx *nodes.Context) { f.st.Down.Store(true) }, is: store.ErrUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, push.Config{})
			codes, err := f.env.Devices.NewRecoveryCodes(context.Background(), "/", "alice")
			if err != nil {
				t.Fatal(err)
			}
			n := f.mustBuild(t, "recovery_code_collector_decision", "")
			ctx := f.newCtx()
			ctx.Callbacks = answer([]nodes.Callback{nodes.NameCallback("")}, codes[0])
			tc.setup(f, ctx)
			err = runErr(t, n, ctx)
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q does not wrap %v", err, tc.is)
			}
			if c := len(f.env.Audit.Events()); c != 0 {
				t.Errorf("%d audit events for an error", c)
			}
			f.st.Down.Store(false)
			if left, _ := f.env.Devices.RecoveryCodesLeft(context.Background(), "/", "alice"); left != 10 {
				t.Errorf("an error used a code: %d left", left)
			}
		})
	}
}

func TestRecoveryCodeCollectorConfigProblems(t *testing.T) {
	f := newFixture(t, push.Config{})
	wantProblems(t, f, "recovery_code_collector_decision", `{"prompt": "Code"}`, "/nodes/n/config/prompt bad_config")
	wantProblems(t, f, "recovery_code_collector_decision", `{"prompt": {"en": 1}}`, "/nodes/n/config/prompt/en bad_config")
}

// TestRecoveryCodeCollectorRace submits one code from several flows at once: exactly
// one login gets in.
func TestRecoveryCodeCollectorRace(t *testing.T) {
	f := newFixture(t, push.Config{})
	codes, err := f.env.Devices.NewRecoveryCodes(context.Background(), "/", "alice")
	if err != nil {
		t.Fatal(err)
	}
	n := f.mustBuild(t, "recovery_code_collector_decision", "")
	const flows = 6
	outcomes := make(chan string, flows)
	for i := range flows {
		ctx := f.newCtx()
		ctx.FlowID = "flow" + strconv.Itoa(i)
		ctx.Callbacks = answer([]nodes.Callback{nodes.NameCallback("")}, codes[7])
		go func() {
			act, err := n.Process(ctx)
			if err != nil {
				outcomes <- err.Error()
				return
			}
			outcomes <- act.Outcome
		}()
	}
	got := map[string]int{}
	for range flows {
		got[<-outcomes]++
	}
	if want := map[string]int{"true": 1, "false": flows - 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("outcomes %v, want %v", got, want)
	}
}

// TestRecoveryCodeCollectorThrottled checks the guessing defence: past the free
// failures a right code is refused unchecked, answered as a wrong one, audited as a
// refusal, and not used up; once the delay has passed it works.
func TestRecoveryCodeCollectorThrottled(t *testing.T) {
	f := newFixture(t, push.Config{})
	th, err := throttle.New(f.st, throttle.Config{PairFree: 2}, f.env.Now, f.deps.Audit)
	if err != nil {
		t.Fatal(err)
	}
	f.deps.Guard = th
	codes, err := f.env.Devices.NewRecoveryCodes(context.Background(), "/", "alice")
	if err != nil {
		t.Fatal(err)
	}
	n := f.mustBuild(t, "recovery_code_collector_decision", "")
	prompt := []nodes.Callback{nodes.NameCallback("Recovery Code")}
	try := func(code string) nodes.Action {
		ctx := f.newCtx()
		f.next(t, ctx, prompt, code)
		act := run(t, n, ctx)
		if act.Outcome != "true" && len(ctx.Shared.Factors()) > 0 {
			t.Errorf("factors %v after %q", ctx.Shared.Factors(), act.Outcome)
		}
		return act
	}
	for range 2 {
		if act := try("NOTACODE00"); act.Outcome != "false" {
			t.Fatalf("wrong code: %+v", act)
		}
	}
	if act := try(codes[0]); !reflect.DeepEqual(act, nodes.Action{Outcome: "false", StepError: mfa.ErrBadRecoveryCode}) {
		t.Errorf("refused right code answered %+v, want it to look like a wrong code", act)
	}
	if got, want := []int{f.env.Audit.Count(audit.RecoveryCodeBad), f.env.Audit.Count(audit.ThrottleRefused)}, []int{2, 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("rejected, refused events %v, want %v", got, want)
	}
	if left, _ := f.env.Devices.RecoveryCodesLeft(context.Background(), "/", "alice"); left != 10 {
		t.Errorf("a refused attempt used a code: %d left", left)
	}
	f.env.Clock.Advance(time.Second)
	if act := try(codes[0]); act.Outcome != "true" {
		t.Errorf("after the delay: %+v", act)
	}
}
