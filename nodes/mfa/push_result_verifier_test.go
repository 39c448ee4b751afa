package mfa_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/authenticator"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/mfa"
	"github.com/arbor-auth/arbor/push"
	"github.com/arbor-auth/arbor/store"
)

func TestPushResultVerifierOutcomes(t *testing.T) {
	f := newFixture(t, push.Config{})
	_, outs, err := f.build("push_result_verifier", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomeIDs(outs); !reflect.DeepEqual(got, []string{"success", "failure", "expired", "waiting"}) {
		t.Errorf("outcomes %v", got)
	}
}

// TestPushResultVerifier sends a real push with push_sender, has the reference
// authenticator answer it (or not), and checks the verifier's outcome and that it
// clears the push from shared state on every outcome but waiting.
func TestPushResultVerifier(t *testing.T) {
	bg := context.Background()
	tests := []struct {
		name    string
		sender  string
		phone   func(t *testing.T, f *fixture, a *authenticator.Authenticator, ctx *nodes.Context)
		outcome string
		audit   string // an event the answer caused
	}{
		{name: "no answer yet", sender: `{}`, outcome: "waiting"},
		{name: "no answer yet, nearly expired", sender: `{}`, outcome: "waiting",
			phone: func(t *testing.T, f *fixture, a *authenticator.Authenticator, ctx *nodes.Context) {
				f.env.Clock.Advance(119 * time.Second)
			}},
		{name: "approved with the right number", sender: `{}`, outcome: "success", audit: audit.PushApproved,
			phone: func(t *testing.T, f *fixture, a *authenticator.Authenticator, ctx *nodes.Context) {
				num, _ := ctx.Shared.Int(mfa.KeyNumber)
				if err := a.Approve(bg, ctx.Shared.String(mfa.KeyMessageID), num); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "tap approved", sender: `{"push_type": "tap"}`, outcome: "success", audit: audit.PushApproved,
			phone: func(t *testing.T, f *fixture, a *authenticator.Authenticator, ctx *nodes.Context) {
				if err := a.Approve(bg, ctx.Shared.String(mfa.KeyMessageID), 0); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "denied", sender: `{}`, outcome: "failure", audit: audit.PushDenied,
			phone: func(t *testing.T, f *fixture, a *authenticator.Authenticator, ctx *nodes.Context) {
				if err := a.Deny(bg, ctx.Shared.String(mfa.KeyMessageID)); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "wrong number", sender: `{}`, outcome: "failure", audit: audit.PushMismatch,
			phone: func(t *testing.T, f *fixture, a *authenticator.Authenticator, ctx *nodes.Context) {
				right, _ := ctx.Shared.Int(mfa.KeyNumber)
				pending, err := a.Pending(bg)
				if err != nil || len(pending) != 1 {
					t.Fatalf("pending %v, %v", pending, err)
				}
				for _, n := range pending[0].Numbers {
					if n != right {
						if err := a.Approve(bg, pending[0].MessageID, n); !errors.Is(err, authenticator.ErrNumberRejected) {
							t.Fatalf("approving a wrong number: %v, want ErrNumberRejected", err)
						}
						return
					}
				}
				t.Fatalf("no wrong number among %v", pending[0].Numbers)
			}},
		{name: "expired", sender: `{}`, outcome: "expired", audit: audit.PushExpired,
			phone: func(t *testing.T, f *fixture, a *authenticator.Authenticator, ctx *nodes.Context) {
				f.env.Clock.Advance(120 * time.Second)
			}},
		{name: "short timeout expired", sender: `{"message_timeout": 5000}`, outcome: "expired",
			phone: func(t *testing.T, f *fixture, a *authenticator.Authenticator, ctx *nodes.Context) {
				f.env.Clock.Advance(6 * time.Second)
			}},
		{name: "approved too late", sender: `{"push_type": "tap"}`, outcome: "expired",
			phone: func(t *testing.T, f *fixture, a *authenticator.Authenticator, ctx *nodes.Context) {
				f.env.Clock.Advance(121 * time.Second)
				if err := a.Approve(bg, ctx.Shared.String(mfa.KeyMessageID), 0); err == nil {
					t.Error("the authenticator answered an expired push")
				}
			}},
		{name: "another flow's push", sender: `{}`, outcome: "expired",
			phone: func(t *testing.T, f *fixture, a *authenticator.Authenticator, ctx *nodes.Context) {
				num, _ := ctx.Shared.Int(mfa.KeyNumber)
				if err := a.Approve(bg, ctx.Shared.String(mfa.KeyMessageID), num); err != nil {
					t.Fatal(err)
				}
				ctx.FlowID = "flow2" // the id was copied into another flow
			}},
		{name: "a registration id", sender: `{}`, outcome: "expired",
			phone: func(t *testing.T, f *fixture, a *authenticator.Authenticator, ctx *nodes.Context) {
				reg, err := f.env.Push.BeginRegistration(bg, push.RegistrationRequest{Realm: "/", Username: "alice", FlowID: ctx.FlowID})
				if err != nil {
					t.Fatal(err)
				}
				ctx.Shared[mfa.KeyMessageID] = reg.MessageID
			}},
		{name: "an unknown id", sender: `{}`, outcome: "expired",
			phone: func(t *testing.T, f *fixture, a *authenticator.Authenticator, ctx *nodes.Context) {
				ctx.Shared[mfa.KeyMessageID] = push.AuthenticatePrefix + "nonsense"
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, push.Config{})
			a := f.register(t, "alice")
			ctx := f.newCtx()
			wantOutcome(t, f.mustBuild(t, "push_sender", tc.sender), ctx, "sent")
			ctx.Shared = roundTrip(t, ctx.Shared)
			before := stateJSON(t, ctx.Shared)
			if tc.phone != nil {
				tc.phone(t, f, a, ctx)
			}
			ctx.Now = f.env.Now()
			v := f.mustBuild(t, "push_result_verifier", "")
			act := wantOutcome(t, v, ctx, tc.outcome)
			if (tc.outcome == "failure") != (act.FailureMessage != "") {
				t.Errorf("failure message %q on %s", act.FailureMessage, tc.outcome)
			}
			if tc.audit != "" && f.env.Audit.Count(tc.audit) != 1 {
				t.Errorf("%d %s events", f.env.Audit.Count(tc.audit), tc.audit)
			}
			// The push is a verified factor exactly when the node says "success".
			var wantFactors []nodes.Factor
			if tc.outcome == "success" {
				wantFactors = []nodes.Factor{nodes.FactorPush}
			}
			if got := ctx.Shared.Factors(); !reflect.DeepEqual(got, wantFactors) {
				t.Errorf("factors %v, want %v", got, wantFactors)
			}
			if tc.outcome == "waiting" {
				if got := stateJSON(t, ctx.Shared); got != before {
					t.Errorf("waiting changed shared state:\n%s\nwas\n%s", got, before)
				}
				return
			}
			for _, k := range []string{mfa.KeyMessageID, mfa.KeyNumber, mfa.KeyTimeout} {
				if ctx.Shared.Has(k) {
					t.Errorf("%s left after %s", k, tc.outcome)
				}
			}
			if ctx.Username() != "alice" {
				t.Error("the verifier cleared more than the push")
			}
			// The push is gone, so push_sender may send a new one (the expired loop).
			ctx.FlowID = "flow1"
			wantOutcome(t, f.mustBuild(t, "push_sender", tc.sender), ctx, "sent")
		})
	}
}

// TestPushResultVerifierOnce checks that an approval counts for one step only: the
// same message id read again is expired.
func TestPushResultVerifierOnce(t *testing.T) {
	f := newFixture(t, push.Config{})
	a := f.register(t, "alice")
	ctx := f.newCtx()
	wantOutcome(t, f.mustBuild(t, "push_sender", `{"push_type": "tap"}`), ctx, "sent")
	id := ctx.Shared.String(mfa.KeyMessageID)
	if err := a.Approve(context.Background(), id, 0); err != nil {
		t.Fatal(err)
	}
	v := f.mustBuild(t, "push_result_verifier", "")
	wantOutcome(t, v, ctx, "success")
	ctx.Shared[mfa.KeyMessageID] = id // replayed
	wantOutcome(t, v, ctx, "expired")
}

func TestPushResultVerifierErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *fixture, ctx *nodes.Context)
		want  string
	}{
		{name: "no push sent", setup: func(f *fixture, ctx *nodes.Context) { delete(ctx.Shared, mfa.KeyMessageID) }, want: mfa.KeyMessageID},
		{name: "empty message id", setup: func(f *fixture, ctx *nodes.Context) { ctx.Shared[mfa.KeyMessageID] = "" }, want: mfa.KeyMessageID},
		{name: "store down", setup: func(f *fixture, ctx *nodes.Context) { f.st.Down.Store(true) }, want: "unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, push.Config{})
			f.register(t, "alice")
			ctx := f.newCtx()
			wantOutcome(t, f.mustBuild(t, "push_sender", ""), ctx, "sent")
			tc.setup(f, ctx)
			before := stateJSON(t, ctx.Shared)
			err := runErr(t, f.mustBuild(t, "push_result_verifier", ""), ctx)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			if tc.name == "store down" && !store.IsUnavailable(err) {
				t.Errorf("store error %q does not wrap store.ErrUnavailable", err)
			}
			if got := stateJSON(t, ctx.Shared); got != before {
				t.Errorf("an error changed shared state:\n%s\nwas\n%s", got, before)
			}
		})
	}
}

func TestPushResultVerifierConfigProblems(t *testing.T) {
	f := newFixture(t, push.Config{})
	wantProblems(t, f, "push_result_verifier", `{"timeout": 5}`, "/nodes/n/config/timeout bad_config")
	wantProblems(t, f, "push_result_verifier", `[]`, "/nodes/n/config bad_config")
}
