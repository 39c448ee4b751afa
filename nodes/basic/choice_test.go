package basic_test

import (
	"reflect"
	"testing"

	"github.com/arbor-auth/arbor/nodes"
)

func TestChoice(t *testing.T) {
	f := newFixture(t)
	const cfg = `{"choices": ["push", "otp", "recovery_code"],
		"labels": {"push": {"en": "Push notification", "fr": "Notification"}, "otp": {"en": "One-time code"}},
		"default_choice": "otp", "prompt": {"en": "How?", "fr": "Comment ?"}}`
	n, outs, err := f.build("choice", cfg)
	if err != nil {
		t.Fatal(err)
	}
	wantOuts := []nodes.Outcome{{ID: "push", Label: "Push notification"}, {ID: "otp", Label: "One-time code"}, {ID: "recovery_code", Label: "recovery_code"}}
	if !reflect.DeepEqual(outs, wantOuts) {
		t.Errorf("outcomes %+v, want %+v", outs, wantOuts)
	}
	sent := []nodes.Callback{nodes.ChoiceCallback("x", []string{"a", "b", "c"}, 0)}
	tests := []struct {
		name    string
		locales []string
		answer  any
		outcome string
		want    nodes.Callback
	}{
		{name: "first visit asks", want: nodes.ChoiceCallback("How?", []string{"Push notification", "One-time code", "recovery_code"}, 1)},
		{name: "localized", locales: []string{"fr"}, want: nodes.ChoiceCallback("Comment ?", []string{"Notification", "One-time code", "recovery_code"}, 1)},
		{name: "first", answer: float64(0), outcome: "push"},
		{name: "last", answer: float64(2), outcome: "recovery_code"},
		{name: "index as text", answer: "1", outcome: "otp"},
		{name: "too big asks again", answer: float64(3), want: nodes.ChoiceCallback("How?", []string{"Push notification", "One-time code", "recovery_code"}, 1)},
		{name: "negative asks again", answer: float64(-1), want: nodes.ChoiceCallback("How?", []string{"Push notification", "One-time code", "recovery_code"}, 1)},
		{name: "fraction asks again", answer: 1.5, want: nodes.ChoiceCallback("How?", []string{"Push notification", "One-time code", "recovery_code"}, 1)},
		{name: "text asks again", answer: "otp", want: nodes.ChoiceCallback("How?", []string{"Push notification", "One-time code", "recovery_code"}, 1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := newCtx()
			if tc.locales != nil {
				ctx.Request.Locales = tc.locales
			}
			if tc.answer != nil {
				ctx.Callbacks = answer(sent, tc.answer)
			}
			act := run(t, n, ctx)
			if act.Outcome != tc.outcome {
				t.Errorf("outcome %q, want %q", act.Outcome, tc.outcome)
			}
			if tc.outcome == "" && !reflect.DeepEqual(act.Callbacks, []nodes.Callback{tc.want}) {
				t.Errorf("callbacks %+v, want %+v", act.Callbacks, tc.want)
			}
		})
	}
}

func TestChoiceDefaults(t *testing.T) {
	f := newFixture(t)
	n := f.mustBuild(t, "choice", `{"choices": ["a", "b"]}`)
	act := run(t, n, newCtx())
	want := []nodes.Callback{nodes.ChoiceCallback("Choose one", []string{"a", "b"}, 0)}
	if !reflect.DeepEqual(act.Callbacks, want) {
		t.Errorf("callbacks %+v, want %+v", act.Callbacks, want)
	}
}

func TestChoiceSingleIsTaken(t *testing.T) {
	f := newFixture(t)
	n := f.mustBuild(t, "choice", `{"choices": ["only"]}`)
	if act := run(t, n, newCtx()); act.Outcome != "only" || act.Callbacks != nil {
		t.Errorf("action %+v, want outcome only", act)
	}
}

func TestChoiceConfigProblems(t *testing.T) {
	f := newFixture(t)
	wantProblems(t, f, "choice", `{}`, "/nodes/n/config bad_config")
	wantProblems(t, f, "choice", `{"choices": []}`, "/nodes/n/config/choices bad_config")
	wantProblems(t, f, "choice", `{"choices": "a"}`, "/nodes/n/config/choices bad_config")
	wantProblems(t, f, "choice", `{"choices": ["a", "Bad Id", "a"]}`, "/nodes/n/config/choices/1 bad_name", "/nodes/n/config/choices/2 bad_config")
	wantProblems(t, f, "choice", `{"choices": ["a", "b"], "default_choice": "c"}`, "/nodes/n/config/default_choice bad_config")
	wantProblems(t, f, "choice", `{"choices": ["a", "b"], "labels": {"a": {"en": "A"}, "c/d": {"en": "C"}}}`, "/nodes/n/config/labels/c~1d bad_config")
	wantProblems(t, f, "choice", `{"choices": ["a", "b"], "labels": {"a": "A"}}`, "/nodes/n/config/labels/a bad_config")
}
