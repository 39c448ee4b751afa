package mfa_test

import (
	"reflect"
	"strconv"
	"testing"

	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/push"
)

// TestRegistrationOptions checks, for each config, the declared outcomes, the buttons
// offered (in the same order) and that each button's index leads to its outcome.
func TestRegistrationOptions(t *testing.T) {
	f := newFixture(t, push.Config{})
	tests := []struct {
		cfg    string
		outs   []string
		labels []string
	}{
		{cfg: ``, outs: []string{"register", "get_app", "skip", "opt_out"},
			labels: []string{"Register device", "Get the app", "Skip this step", "Opt out"}},
		{cfg: `{"mandatory": true}`, outs: []string{"register", "get_app"},
			labels: []string{"Register device", "Get the app"}},
		{cfg: `{"get_app": false}`, outs: []string{"register", "skip", "opt_out"},
			labels: []string{"Register device", "Skip this step", "Opt out"}},
		{cfg: `{"mandatory": true, "get_app": false}`, outs: []string{"register"},
			labels: []string{"Register device"}},
		{cfg: `{"register_label": {"en": "Set up push"}, "skip_label": {"en": "Later"}, "opt_out_label": {"en": "Never"}, "get_app_label": {"en": "App"}}`,
			outs: []string{"register", "get_app", "skip", "opt_out"}, labels: []string{"Set up push", "App", "Later", "Never"}},
	}
	for _, tc := range tests {
		t.Run(tc.cfg, func(t *testing.T) {
			n, outs, err := f.build("mfa_registration_options", tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := outcomeIDs(outs); !reflect.DeepEqual(got, tc.outs) {
				t.Fatalf("outcomes %v, want %v", got, tc.outs)
			}
			ctx := f.newCtx()
			sent := wantSend(t, n, ctx, nodes.TypeTextOutput, nodes.TypeConfirmation)
			want := []nodes.Callback{
				nodes.TextOutputCallback("Protect your account with push notifications to your phone.", nodes.MessageInfo),
				nodes.ConfirmationCallback("", tc.labels, 0, 0),
			}
			if !reflect.DeepEqual(sent, want) {
				t.Errorf("sent %+v\nwant %+v", sent, want)
			}
			for i, id := range tc.outs {
				for _, in := range []any{float64(i), i, strconv.Itoa(i)} {
					f.next(t, ctx, sent, in)
					wantOutcome(t, n, ctx, id)
				}
			}
			// Anything else asks again.
			for _, in := range []any{float64(len(tc.outs)), -1.0, 0.5, "register", 100.0} {
				f.next(t, ctx, sent, in)
				if again := wantSend(t, n, ctx, nodes.TypeTextOutput, nodes.TypeConfirmation); !reflect.DeepEqual(again, sent) {
					t.Errorf("answer %v: asked %+v", in, again)
				}
			}
		})
	}
}

func TestRegistrationOptionsLocalised(t *testing.T) {
	f := newFixture(t, push.Config{})
	n := f.mustBuild(t, "mfa_registration_options", `{"mandatory": true, "message": {"en": "Protect it", "fr": "Protégez-le"}, "register_label": {"en": "Register", "fr": "Enregistrer"}}`)
	ctx := f.newCtx()
	ctx.Request.Locales = []string{"fr-BE", "en"}
	act := run(t, n, ctx)
	want := []nodes.Callback{
		nodes.TextOutputCallback("Protégez-le", nodes.MessageInfo),
		nodes.ConfirmationCallback("", []string{"Enregistrer", "Get the app"}, 0, 0),
	}
	if !reflect.DeepEqual(act.Callbacks, want) {
		t.Errorf("sent %+v\nwant %+v", act.Callbacks, want)
	}
}

func TestRegistrationOptionsNeedsUser(t *testing.T) {
	f := newFixture(t, push.Config{})
	ctx := f.newCtx()
	delete(ctx.Shared, nodes.KeyUsername)
	runErr(t, f.mustBuild(t, "mfa_registration_options", ""), ctx)
}

func TestRegistrationOptionsConfigProblems(t *testing.T) {
	f := newFixture(t, push.Config{})
	wantProblems(t, f, "mfa_registration_options", `{"mandatory": "yes"}`, "/nodes/n/config/mandatory bad_config")
	wantProblems(t, f, "mfa_registration_options", `{"skip_label": "Skip"}`, "/nodes/n/config/skip_label bad_config")
	wantProblems(t, f, "mfa_registration_options", `{"optOut": true}`, "/nodes/n/config/optOut bad_config")
}
