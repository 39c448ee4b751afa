package basic_test

import (
	"reflect"
	"testing"

	"github.com/arbor-auth/arbor/nodes"
)

func TestMessage(t *testing.T) {
	f := newFixture(t)
	sent := []nodes.Callback{nodes.TextOutputCallback("m", nodes.MessageInfo), nodes.ConfirmationCallback("", []string{"Yes", "No"}, 1, 1)}
	tests := []struct {
		name    string
		config  string
		answer  any // nil: first visit
		outcome string
		state   any // shared "choice" afterwards
	}{
		{name: "first visit asks"},
		{name: "yes", answer: float64(0), outcome: "true"},
		{name: "no", answer: float64(1), outcome: "false"},
		{name: "yes as text", answer: "0", outcome: "true"},
		{name: "out of range asks again", answer: float64(2)},
		{name: "not pressed asks again", answer: float64(nodes.ConfirmationNotPressed)},
		{name: "garbage asks again", answer: "yes"},
		{name: "state field yes", config: `{"state_field": "choice"}`, answer: float64(0), outcome: "true", state: 0},
		{name: "state field no", config: `{"state_field": "choice"}`, answer: float64(1), outcome: "false", state: 1},
		{name: "state field untouched when asking again", config: `{"state_field": "choice"}`, answer: float64(7)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := f.mustBuild(t, "message", tc.config)
			ctx := newCtx()
			if tc.answer != nil {
				ctx.Callbacks = answer(sent, tc.answer)
			}
			act := run(t, n, ctx)
			if act.Outcome != tc.outcome {
				t.Errorf("outcome %q, want %q", act.Outcome, tc.outcome)
			}
			if tc.outcome == "" {
				want := []nodes.Callback{
					nodes.TextOutputCallback("Continue?", nodes.MessageInfo),
					nodes.ConfirmationCallback("", []string{"Yes", "No"}, 1, 1),
				}
				if !reflect.DeepEqual(act.Callbacks, want) {
					t.Errorf("callbacks\n%+v\nwant\n%+v", act.Callbacks, want)
				}
			}
			if got := ctx.Shared["choice"]; got != tc.state {
				t.Errorf("shared choice %v, want %v", got, tc.state)
			}
		})
	}
}

func TestMessageLocalized(t *testing.T) {
	f := newFixture(t)
	n := f.mustBuild(t, "message", `{"message": {"en": "Trust this device?", "fr": "Faire confiance ?"}, "yes": {"fr": "Oui"}, "no": {"fr": "Non"}}`)
	ctx := newCtx()
	ctx.Request.Locales = []string{"fr-FR"}
	act := run(t, n, ctx)
	if got := act.Callbacks[0].OutString("message"); got != "Faire confiance ?" {
		t.Errorf("message %q", got)
	}
	if got := act.Callbacks[1].Out("options"); !reflect.DeepEqual(got, []string{"Oui", "Non"}) {
		t.Errorf("options %v", got)
	}
}

func TestMessageConfigProblems(t *testing.T) {
	f := newFixture(t)
	wantProblems(t, f, "message", `{"state_field": "password"}`, "/nodes/n/config/state_field reserved_key")
	wantProblems(t, f, "message", `{"state_field": "_engine"}`, "/nodes/n/config/state_field reserved_key")
	wantProblems(t, f, "message", `{"state_field": "arbor.factors"}`, "/nodes/n/config/state_field reserved_key")
	wantProblems(t, f, "message", `{"message": "hello"}`, "/nodes/n/config/message bad_config")
	wantProblems(t, f, "message", `{"yes": {"en": "Y"}, "maybe": {"en": "?"}}`, "/nodes/n/config/maybe bad_config")
}

// TestMessageTextOnly: a message that asks nothing has one button and one outcome.
func TestMessageTextOnly(t *testing.T) {
	f := newFixture(t)
	cfg := `{"text_only": true, "message": {"en": "Your password expires in 3 days."}}`
	_, outs, err := f.build("message", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if want := []nodes.Outcome{{ID: "outcome", Label: "Outcome"}}; !reflect.DeepEqual(outs, want) {
		t.Fatalf("outcomes %+v, want %+v", outs, want)
	}
	n := f.mustBuild(t, "message", cfg)
	sent := []nodes.Callback{
		nodes.TextOutputCallback("Your password expires in 3 days.", nodes.MessageInfo),
		nodes.ConfirmationCallback("", []string{"Continue"}, 0, 0),
	}
	ctx := newCtx()
	if act := run(t, n, ctx); !reflect.DeepEqual(act.Callbacks, sent) {
		t.Fatalf("callbacks\n%+v\nwant\n%+v", act.Callbacks, sent)
	}
	ctx.Callbacks = answer(sent, float64(0))
	if act := run(t, n, ctx); act.Outcome != "outcome" {
		t.Fatalf("outcome %q after Continue", act.Outcome)
	}
}
