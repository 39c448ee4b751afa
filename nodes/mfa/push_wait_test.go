package mfa_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/mfa"
	"github.com/arbor-auth/arbor/push"
)

func TestPushWaitOutcomes(t *testing.T) {
	f := newFixture(t, push.Config{})
	_, outs, err := f.build("push_wait", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomeIDs(outs); !reflect.DeepEqual(got, []string{"done", "exit"}) {
		t.Errorf("outcomes %v", got)
	}
}

func TestPushWaitFirstVisit(t *testing.T) {
	exit := nodes.ConfirmationCallback("", []string{"Cancel"}, 0, nodes.ConfirmationNotPressed)
	tests := []struct {
		name    string
		cfg     string
		shared  nodes.State
		locales []string
		want    []nodes.Callback
	}{
		{name: "number to match", cfg: ``, shared: nodes.State{mfa.KeyNumber: 42},
			want: []nodes.Callback{
				nodes.PollingWaitCallback(5000, "Tap the number 42 on the Push Notification to continue."),
				nodes.HiddenValueCallback(mfa.HiddenChallenge, "42"),
				exit,
			}},
		{name: "number as read back from the flow store", cfg: ``, shared: nodes.State{mfa.KeyNumber: 42.0},
			want: []nodes.Callback{
				nodes.PollingWaitCallback(5000, "Tap the number 42 on the Push Notification to continue."),
				nodes.HiddenValueCallback(mfa.HiddenChallenge, "42"),
				exit,
			}},
		{name: "no number", cfg: `{"seconds_to_wait": 3, "waiting_message": {"en": "Waiting {{time}} s"}}`,
			want: []nodes.Callback{nodes.PollingWaitCallback(3000, "Waiting 3 s"), exit}},
		{name: "zero is no number", cfg: ``, shared: nodes.State{mfa.KeyNumber: 0},
			want: []nodes.Callback{nodes.PollingWaitCallback(5000, "Waiting for response..."), exit}},
		{name: "localised, with an exit to recovery codes", locales: []string{"fr"},
			cfg: `{"seconds_to_wait": 10, "challenge_message": {"en": "Pick {{challenge}}", "fr": "Choisissez {{challenge}}"},
				"exit_message": {"en": "Lost phone? Use a recovery code", "fr": "Téléphone perdu ?"}}`,
			shared: nodes.State{mfa.KeyNumber: 17},
			want: []nodes.Callback{
				nodes.PollingWaitCallback(10000, "Choisissez 17"),
				nodes.HiddenValueCallback(mfa.HiddenChallenge, "17"),
				nodes.ConfirmationCallback("", []string{"Téléphone perdu ?"}, 0, nodes.ConfirmationNotPressed),
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, push.Config{})
			n := f.mustBuild(t, "push_wait", tc.cfg)
			ctx := f.newCtx()
			for k, v := range tc.shared {
				ctx.Shared[k] = v
			}
			if tc.locales != nil {
				ctx.Request.Locales = tc.locales
			}
			act := run(t, n, ctx)
			if act.Outcome != "" || !reflect.DeepEqual(act.Callbacks, tc.want) {
				t.Errorf("action %q %+v\nwant %+v", act.Outcome, act.Callbacks, tc.want)
			}
			// The exit button is preset to "not pressed", so a client that only polls
			// keeps waiting.
			if c, ok := nodes.Find(act.Callbacks, nodes.TypeConfirmation); !ok || c.In("") != nodes.ConfirmationNotPressed {
				t.Errorf("exit confirmation %+v, want preset %d", c, nodes.ConfirmationNotPressed)
			}
			if !ctx.Shared.Has("n.end_time") {
				t.Error("no end time kept")
			}
		})
	}
}

// TestPushWaitPolls drives the wait over several polls: an early poll is told to wait
// only what remains, a poll once the time has passed is done, pressing exit is exit at
// any time, and the node's state is gone once it has routed.
func TestPushWaitPolls(t *testing.T) {
	type poll struct {
		after   time.Duration // since the first visit
		choice  any           // the exit confirmation's input
		wait    string        // waitTime when it asks again
		outcome string
	}
	tests := []struct {
		name  string
		polls []poll
	}{
		{name: "on time", polls: []poll{{after: 5 * time.Second, choice: 100, outcome: "done"}}},
		{name: "late", polls: []poll{{after: time.Minute, choice: 100, outcome: "done"}}},
		{name: "early, then on time", polls: []poll{
			{after: 2 * time.Second, choice: 100, wait: "3000"},
			{after: 4500 * time.Millisecond, choice: 100, wait: "500"},
			{after: 5 * time.Second, choice: 100, outcome: "done"},
		}},
		{name: "immediately", polls: []poll{{after: 0, choice: 100, wait: "5000"}}},
		{name: "exit", polls: []poll{{after: time.Second, choice: 0, outcome: "exit"}}},
		{name: "exit as text", polls: []poll{{after: time.Second, choice: "0", outcome: "exit"}}},
		{name: "exit after the time is exit", polls: []poll{{after: time.Minute, choice: 0, outcome: "exit"}}},
		{name: "other values keep waiting", polls: []poll{
			{after: time.Second, choice: 1, wait: "4000"},
			{after: 2 * time.Second, choice: -1, wait: "3000"},
			{after: 3 * time.Second, choice: "exit", wait: "2000"},
			{after: 6 * time.Second, choice: 100, outcome: "done"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, push.Config{})
			n := f.mustBuild(t, "push_wait", "")
			ctx := f.newCtx()
			ctx.Shared[mfa.KeyNumber] = 42
			start := ctx.Now
			sent := wantSend(t, n, ctx, nodes.TypePollingWait, nodes.TypeHiddenValue, nodes.TypeConfirmation)
			for i, p := range tc.polls {
				f.next(t, ctx, sent, mfa.HiddenChallenge, p.choice)
				ctx.Now = start.Add(p.after)
				act := run(t, n, ctx)
				if act.Outcome != p.outcome {
					t.Fatalf("poll %d: outcome %q, want %q", i, act.Outcome, p.outcome)
				}
				if p.outcome != "" {
					if ctx.Shared.Has("n.end_time") {
						t.Errorf("poll %d: end time left after %s", i, p.outcome)
					}
					if !ctx.Shared.Has(mfa.KeyNumber) {
						t.Errorf("poll %d: the wait cleared the number; the verifier owns it", i)
					}
					return
				}
				if got := act.Callbacks[0].OutString("waitTime"); got != p.wait {
					t.Errorf("poll %d: waitTime %s, want %s", i, got, p.wait)
				}
				if !reflect.DeepEqual(types(act.Callbacks), types(sent)) {
					t.Errorf("poll %d: callbacks %v, want %v", i, types(act.Callbacks), types(sent))
				}
				sent = act.Callbacks
			}
		})
	}
}

// TestPushWaitAgain checks that a fresh visit (the verifier said waiting) starts a new
// wait rather than finishing at once on the old end time.
func TestPushWaitAgain(t *testing.T) {
	f := newFixture(t, push.Config{})
	n := f.mustBuild(t, "push_wait", "")
	ctx := f.newCtx()
	sent := wantSend(t, n, ctx, nodes.TypePollingWait, nodes.TypeConfirmation)
	f.next(t, ctx, sent, 100)
	ctx.Now = ctx.Now.Add(5 * time.Second)
	wantOutcome(t, n, ctx, "done")
	// The verifier said waiting: the journey comes back afresh, a while later.
	ctx.Callbacks = nil
	ctx.Now = ctx.Now.Add(10 * time.Second)
	again := wantSend(t, n, ctx, nodes.TypePollingWait, nodes.TypeConfirmation)
	if w := again[0].OutString("waitTime"); w != "5000" {
		t.Errorf("waitTime %s, want a whole new wait", w)
	}
	f.next(t, ctx, again, 100)
	ctx.Now = ctx.Now.Add(4 * time.Second)
	if act := run(t, n, ctx); act.Outcome != "" {
		t.Errorf("second wait ended after 4 s: %q", act.Outcome)
	}
}

func TestPushWaitConfigProblems(t *testing.T) {
	f := newFixture(t, push.Config{})
	wantProblems(t, f, "push_wait", `{"seconds_to_wait": 0}`, "/nodes/n/config/seconds_to_wait bad_config")
	wantProblems(t, f, "push_wait", `{"seconds_to_wait": 61}`, "/nodes/n/config/seconds_to_wait bad_config")
	wantProblems(t, f, "push_wait", `{"seconds_to_wait": 2.5}`, "/nodes/n/config/seconds_to_wait bad_config")
	wantProblems(t, f, "push_wait", `{"exit_message": "Cancel"}`, "/nodes/n/config/exit_message bad_config")
	wantProblems(t, f, "push_wait", `{"secondsToWait": 5}`, "/nodes/n/config/secondsToWait bad_config")
}

// TestPushWaitExitWithdrawsThePush: once the user leaves the wait, the device no longer
// lists the push the login stopped waiting for.
func TestPushWaitExitWithdrawsThePush(t *testing.T) {
	f := newFixture(t, push.Config{})
	phone := f.register(t, "alice")
	ctx := f.newCtx()
	sent, err := f.env.Push.Send(context.Background(), push.SendRequest{Realm: "/", Username: "alice", FlowID: ctx.FlowID})
	if err != nil {
		t.Fatal(err)
	}
	ctx.Shared[mfa.KeyMessageID] = sent.MessageID
	n := f.mustBuild(t, "push_wait", "")
	cbs := wantSend(t, n, ctx, nodes.TypePollingWait, nodes.TypeConfirmation)
	if list, err := phone.Pending(context.Background()); err != nil || len(list) != 1 {
		t.Fatalf("pending before the exit: %v, %v", list, err)
	}
	f.next(t, ctx, cbs, 0)
	if act := run(t, n, ctx); act.Outcome != "exit" {
		t.Fatalf("outcome %q, want exit", act.Outcome)
	}
	if list, err := phone.Pending(context.Background()); err != nil || len(list) != 0 {
		t.Fatalf("pending after the exit: %v, %v", list, err)
	}
}
