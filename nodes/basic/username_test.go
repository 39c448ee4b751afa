package basic_test

import (
	"reflect"
	"testing"

	"github.com/arbor-auth/arbor/nodes"
)

func TestUsername(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name    string
		config  string
		locales []string
		answer  []any // nil: first visit
		outcome string
		prompt  string // of the callback sent, when one is
		want    any    // shared username afterwards (nil: unset)
	}{
		{name: "first visit asks", prompt: "User Name"},
		{name: "name is kept trimmed", answer: []any{"  alice \t"}, outcome: "outcome", want: "alice"},
		{name: "name with nothing to trim", answer: []any{"alice"}, outcome: "outcome", want: "alice"},
		{name: "empty asks again", answer: []any{""}, prompt: "User Name"},
		{name: "blank asks again", answer: []any{"   "}, prompt: "User Name"},
		{name: "number is text", answer: []any{float64(42)}, outcome: "outcome", want: "42"},
		{name: "localized prompt", config: `{"prompt":{"en":"Email","fr":"Courriel"}}`, locales: []string{"fr-CA", "en"}, prompt: "Courriel"},
		{name: "other locale falls back to en", config: `{"prompt":{"fr":"Courriel"}}`, locales: []string{"de"}, prompt: "User Name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := f.mustBuild(t, "username", tc.config)
			ctx := newCtx()
			if tc.locales != nil {
				ctx.Request.Locales = tc.locales
			}
			if tc.answer != nil {
				ctx.Callbacks = answer([]nodes.Callback{nodes.NameCallback("x")}, tc.answer...)
			}
			act := run(t, n, ctx)
			if act.Outcome != tc.outcome {
				t.Errorf("outcome %q, want %q", act.Outcome, tc.outcome)
			}
			if tc.prompt != "" {
				want := []nodes.Callback{nodes.NameCallback(tc.prompt)}
				if !reflect.DeepEqual(act.Callbacks, want) {
					t.Errorf("callbacks %+v, want %+v", act.Callbacks, want)
				}
			} else if act.Callbacks != nil {
				t.Errorf("callbacks %+v, want none", act.Callbacks)
			}
			if got := ctx.Shared[nodes.KeyUsername]; got != tc.want {
				t.Errorf("shared username %v, want %v", got, tc.want)
			}
		})
	}
}

func TestUsernameConfigProblems(t *testing.T) {
	f := newFixture(t)
	wantProblems(t, f, "username", `{"prompt":"User"}`, "/nodes/n/config/prompt bad_config")
	wantProblems(t, f, "username", `{"prompt":{"en":3}}`, "/nodes/n/config/prompt/en bad_config")
	wantProblems(t, f, "username", `{"promt":{"en":"x"}}`, "/nodes/n/config/promt bad_config")
	wantProblems(t, f, "username", `[]`, "/nodes/n/config bad_config")
}
