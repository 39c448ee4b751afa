package basic_test

import (
	"reflect"
	"testing"

	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/basic"
)

func TestDisclaimer(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name, config string
		answer       any // nil: a fresh visit
		wantOutcome  string
		wantStage    string
	}{
		{"shown before the password", `{"text":{"en":"Authorised use only."}}`, nil, "", basic.StagePreDisclaimer},
		{"shown after the password", `{"position":"post"}`, nil, "", basic.StagePostDisclaimer},
		{"accepted", "", 0, "accepted", ""},
		{"declined", "", 1, "declined", ""},
		{"out of range asks again", "", 7, "", basic.StagePreDisclaimer},
		{"not a number asks again", "", "yes", "", basic.StagePreDisclaimer},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := f.mustBuild(t, "disclaimer", c.config)
			ctx := newCtx()
			first := run(t, n, ctx)
			if c.answer != nil {
				ctx.Callbacks = answer(first.Callbacks, c.answer)
			}
			act := run(t, n, ctx)
			if act.Outcome != c.wantOutcome || act.Stage != c.wantStage {
				t.Fatalf("outcome %q stage %q, want %q %q", act.Outcome, act.Stage, c.wantOutcome, c.wantStage)
			}
			if c.wantOutcome != "" {
				return
			}
			if got := types(act.Callbacks); !reflect.DeepEqual(got, []string{nodes.TypeTextOutput, nodes.TypeConfirmation}) {
				t.Fatalf("callbacks %v", got)
			}
			if c.config != "" && c.name == "shown before the password" {
				if m := act.Callbacks[0].OutString("message"); m != "Authorised use only." {
					t.Errorf("text %q", m)
				}
			}
			// Nothing is acknowledged by default: the preset answer is Decline.
			if i, _ := act.Callbacks[1].InInt(); i != 1 {
				t.Errorf("preset answer %d, want 1 (Decline)", i)
			}
		})
	}
	wantProblems(t, f, "disclaimer", `{"position":"middle"}`, "/nodes/n/config/position bad_config")
}
