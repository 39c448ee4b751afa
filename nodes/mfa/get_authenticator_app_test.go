package mfa_test

import (
	"reflect"
	"testing"

	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/push"
)

func TestGetAuthenticatorAppOutcomes(t *testing.T) {
	f := newFixture(t, push.Config{})
	_, outs, err := f.build("get_authenticator_app", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomeIDs(outs); !reflect.DeepEqual(got, []string{"outcome"}) {
		t.Errorf("outcomes %v", got)
	}
}

func TestGetAuthenticatorApp(t *testing.T) {
	const apple, google = "https://apps.apple.com/app/forgerock-authenticator/id1038442926", "https://play.google.com/store/apps/details?id=com.forgerock.authenticator"
	tests := []struct {
		name    string
		cfg     string
		locales []string
		want    []nodes.Callback
	}{
		{name: "defaults", cfg: ``, want: []nodes.Callback{
			nodes.TextOutputCallback("Get the authenticator app from the App Store ("+apple+") or on Google Play ("+google+"), or use arbor device on a computer.", nodes.MessageInfo),
			nodes.MetadataCallback(map[string]any{"type": "authenticator_app", "apple": apple, "google": google}),
			nodes.ConfirmationCallback("", []string{"Continue"}, 0, 0),
		}},
		{name: "own app, localised", locales: []string{"de-AT"},
			cfg: `{"apple_link": "https://example.com/ios", "google_link": "https://example.com/android",
				"message": {"en": "Get it: {{appleLink}} {{googleLink}}", "de": "Holen: {{googleLink}}, {{appleLink}}"},
				"continue_label": {"en": "Next", "de": "Weiter"}}`,
			want: []nodes.Callback{
				nodes.TextOutputCallback("Holen: Google Play (https://example.com/android), App Store (https://example.com/ios)", nodes.MessageInfo),
				nodes.MetadataCallback(map[string]any{"type": "authenticator_app", "apple": "https://example.com/ios", "google": "https://example.com/android"}),
				nodes.ConfirmationCallback("", []string{"Weiter"}, 0, 0),
			}},
		{name: "no placeholders", cfg: `{"message": {"en": "Ask IT for the app."}}`, want: []nodes.Callback{
			nodes.TextOutputCallback("Ask IT for the app.", nodes.MessageInfo),
			nodes.MetadataCallback(map[string]any{"type": "authenticator_app", "apple": apple, "google": google}),
			nodes.ConfirmationCallback("", []string{"Continue"}, 0, 0),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, push.Config{})
			n := f.mustBuild(t, "get_authenticator_app", tc.cfg)
			ctx := f.newCtx()
			if tc.locales != nil {
				ctx.Request.Locales = tc.locales
			}
			act := run(t, n, ctx)
			if act.Outcome != "" || !reflect.DeepEqual(act.Callbacks, tc.want) {
				t.Fatalf("action %q %+v\nwant %+v", act.Outcome, act.Callbacks, tc.want)
			}
			// Any answer to the button continues.
			for _, in := range []any{0.0, "0", 7.0} {
				f.next(t, ctx, act.Callbacks, in)
				wantOutcome(t, n, ctx, "outcome")
			}
			if len(ctx.Shared) != 1 {
				t.Errorf("shared state written: %v", ctx.Shared)
			}
		})
	}
}

// TestGetAuthenticatorAppNoAnswer: answers without the confirmation show the page again.
func TestGetAuthenticatorAppNoAnswer(t *testing.T) {
	f := newFixture(t, push.Config{})
	n := f.mustBuild(t, "get_authenticator_app", "")
	ctx := f.newCtx()
	ctx.Callbacks = []nodes.Callback{{Type: nodes.TypeTextOutput}}
	wantSend(t, n, ctx, nodes.TypeTextOutput, nodes.TypeMetadata, nodes.TypeConfirmation)
	ctx.Callbacks = answer([]nodes.Callback{nodes.ConfirmationCallback("", []string{"Continue"}, 0, 0)}, "next")
	wantSend(t, n, ctx, nodes.TypeTextOutput, nodes.TypeMetadata, nodes.TypeConfirmation)
}

func TestGetAuthenticatorAppConfigProblems(t *testing.T) {
	f := newFixture(t, push.Config{})
	wantProblems(t, f, "get_authenticator_app", `{"apple_link": "http://apps.apple.com/app"}`, "/nodes/n/config/apple_link bad_config")
	wantProblems(t, f, "get_authenticator_app", `{"google_link": "javascript:alert(1)"}`, "/nodes/n/config/google_link bad_config")
	wantProblems(t, f, "get_authenticator_app", `{"continue_label": ["Continue"]}`, "/nodes/n/config/continue_label bad_config")
}
