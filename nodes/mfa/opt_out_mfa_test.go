package mfa_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/mfa"
	"github.com/arbor-auth/arbor/push"
	"github.com/arbor-auth/arbor/store"
)

func TestOptOutMFAOutcomes(t *testing.T) {
	f := newFixture(t, push.Config{})
	_, outs, err := f.build("opt_out_mfa", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomeIDs(outs); !reflect.DeepEqual(got, []string{"outcome"}) {
		t.Errorf("outcomes %v", got)
	}
}

func TestOptOutMFA(t *testing.T) {
	tests := []struct {
		name   string
		device bool
		before devices.Skip // push skip state before
		method string       // mfaMethod in shared state
		push   devices.Skip // push skip state after
		other  devices.Skip // the other method's ("otp") skip state after
		audit  int
		ended  bool // the user's sessions ended: the opt-out changed the rules
	}{
		{name: "no choice yet", push: devices.SkipSkippable, audit: 1, ended: true},
		{name: "already opted out", before: devices.SkipSkippable, push: devices.SkipSkippable, audit: 1},
		{name: "with a device, not bound", device: true, push: devices.SkipSkippable, audit: 1, ended: true},
		{name: "bound by a registration", device: true, before: devices.SkipNotSkippable, push: devices.SkipNotSkippable},
		{name: "bound, but the device was revoked", before: devices.SkipNotSkippable, push: devices.SkipSkippable, audit: 1, ended: true},
		{name: "the flow's method", method: "otp", push: devices.SkipNotSet, other: devices.SkipSkippable, audit: 1, ended: true},
		{name: "another method is not bound by push", device: true, method: "otp", before: devices.SkipNotSkippable,
			push: devices.SkipNotSkippable, other: devices.SkipSkippable, audit: 1, ended: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, push.Config{})
			bg := context.Background()
			if tc.device {
				f.register(t, "alice")
			}
			if tc.before != devices.SkipNotSet {
				if err := f.env.Devices.SetSkip(bg, "/", "alice", devices.MethodPush, tc.before); err != nil {
					t.Fatal(err)
				}
			}
			ctx := f.newCtx()
			if tc.method != "" {
				ctx.Shared[mfa.KeyMFAMethod] = tc.method
			}
			f.signIn(t, "alice", 2)
			before := stateJSON(t, ctx.Shared)
			wantOutcome(t, f.mustBuild(t, "opt_out_mfa", ""), ctx, "outcome")
			if left, want := f.sessionCount(t, "alice"), map[bool]int{true: 0, false: 2}[tc.ended]; left != want {
				t.Errorf("%d sessions left, want %d", left, want)
			}
			if got := []devices.Skip{f.skip(t, "alice", devices.MethodPush), f.skip(t, "alice", "otp")}; !reflect.DeepEqual(got, []devices.Skip{tc.push, tc.other}) {
				t.Errorf("push, otp skip state %v, want %v", got, []devices.Skip{tc.push, tc.other})
			}
			if got := f.env.Audit.Count(audit.MFAOptOut); got != tc.audit {
				t.Errorf("%d %s events, want %d", got, audit.MFAOptOut, tc.audit)
			}
			for _, e := range f.env.Audit.Events() {
				if e.Type == audit.MFAOptOut && (e.User != "alice" || e.FlowID != "flow1" || e.Node != "n" || e.Client != "192.0.2.7") {
					t.Errorf("event %+v", e)
				}
			}
			if stateJSON(t, ctx.Shared) != before {
				t.Errorf("shared state changed: %v", ctx.Shared)
			}
		})
	}
}

// TestOptOutThenPushSender: after opting out, push_sender skips unless mandatory.
func TestOptOutThenPushSender(t *testing.T) {
	f := newFixture(t, push.Config{})
	f.register(t, "alice")
	wantOutcome(t, f.mustBuild(t, "opt_out_mfa", ""), f.newCtx(), "outcome")
	wantOutcome(t, f.mustBuild(t, "push_sender", ""), f.newCtx(), "skipped")
	wantOutcome(t, f.mustBuild(t, "push_sender", `{"mandatory": true}`), f.newCtx(), "sent")
}

func TestOptOutMFAErrors(t *testing.T) {
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
			ctx := f.newCtx()
			tc.setup(f, ctx)
			err := runErr(t, f.mustBuild(t, "opt_out_mfa", ""), ctx)
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q does not wrap %v", err, tc.is)
			}
			if c := f.env.Audit.Count(audit.MFAOptOut); c != 0 {
				t.Errorf("%d opt-out events for an error", c)
			}
		})
	}
}

func TestOptOutMFAConfigProblems(t *testing.T) {
	f := newFixture(t, push.Config{})
	wantProblems(t, f, "opt_out_mfa", `{"mandatory": true}`, "/nodes/n/config/mandatory bad_config")
}
