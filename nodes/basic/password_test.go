package basic_test

import (
	"reflect"
	"testing"

	"github.com/arbor-auth/arbor/nodes"
)

func TestPassword(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name    string
		answer  []any
		outcome string
		want    any // transient password afterwards
	}{
		{name: "first visit asks"},
		{name: "password kept as typed", answer: []any{" s3cret pass "}, outcome: "outcome", want: " s3cret pass "},
		{name: "empty asks again", answer: []any{""}},
		{name: "number is text", answer: []any{float64(1234)}, outcome: "outcome", want: "1234"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := f.mustBuild(t, "password", "")
			ctx := newCtx()
			if tc.answer != nil {
				ctx.Callbacks = answer([]nodes.Callback{nodes.PasswordCallback("x")}, tc.answer...)
			}
			act := run(t, n, ctx)
			if act.Outcome != tc.outcome {
				t.Errorf("outcome %q, want %q", act.Outcome, tc.outcome)
			}
			if tc.outcome == "" {
				want := []nodes.Callback{nodes.PasswordCallback("Password")}
				if !reflect.DeepEqual(act.Callbacks, want) {
					t.Errorf("callbacks %+v, want %+v", act.Callbacks, want)
				}
			}
			if got := ctx.Transient[nodes.KeyPassword]; got != tc.want {
				t.Errorf("transient password %v, want %v", got, tc.want)
			}
			noPassword(t, ctx.Shared, " s3cret pass ")
			if len(ctx.Shared) != 0 {
				t.Errorf("shared state written: %v", ctx.Shared)
			}
		})
	}
}

func TestPasswordLocalizedPrompt(t *testing.T) {
	f := newFixture(t)
	n := f.mustBuild(t, "password", `{"prompt":{"de":"Passwort"}}`)
	ctx := newCtx()
	ctx.Request.Locales = []string{"de-AT"}
	act := run(t, n, ctx)
	if got := act.Callbacks[0].OutString("prompt"); got != "Passwort" {
		t.Errorf("prompt %q, want Passwort", got)
	}
}
