package mfa_test

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/mfa"
	"github.com/arbor-auth/arbor/oath"
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
			if !ctx.Shared.Has("arbor.node.n.end_time") {
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
					if ctx.Shared.Has("arbor.node.n.end_time") {
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

// TestPushWaitCodeInstead sends a real push, then types something in the wait's code
// field instead of answering it: a right one-time or recovery code takes the code
// outcome and cancels the push, so the phone's late approval is refused; anything else
// keeps the push waiting and says why.
func TestPushWaitCodeInstead(t *testing.T) {
	const cfg = `{"accept_code": true, "accept_recovery_code": true}`
	type try struct {
		code    func(f *fixture, codes []string) string
		outcome string // "" when the wait goes on
		problem string
	}
	otp := func(skew time.Duration) func(*fixture, []string) string {
		return func(f *fixture, _ []string) string { return appCode(t, f, skew) }
	}
	recovery := func(i int) func(*fixture, []string) string {
		return func(_ *fixture, c []string) string { return c[i] }
	}
	lit := func(s string) func(*fixture, []string) string { return func(*fixture, []string) string { return s } }
	tests := []struct {
		name   string
		tries  []try
		factor nodes.Factor
		guard  []string // calls after Allow, in order
		noApp  bool
	}{
		{name: "one-time code", tries: []try{{code: otp(0), outcome: "code"}}, factor: nodes.FactorOTP, guard: []string{"succeeded alice"}},
		{name: "recovery code", tries: []try{{code: recovery(3), outcome: "code"}}, factor: nodes.FactorRecoveryCode, guard: []string{"succeeded alice"}},
		{name: "wrong code, then the right one", tries: []try{
			{code: lit("000000"), problem: "That code is not right."},
			{code: otp(0), outcome: "code"},
		}, factor: nodes.FactorOTP, guard: []string{"failed alice", "succeeded alice"}},
		{name: "wrong recovery code", tries: []try{{code: lit("AAAAABBBBB"), problem: "That code is not right."}}, guard: []string{"failed alice"}},
		{name: "a code without an app", noApp: true, tries: []try{{code: lit("123456"), problem: "That code is not right."}}, guard: []string{"failed alice"}},
		{name: "empty field keeps waiting", tries: []try{{code: lit("  ")}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bg := context.Background()
			f := newFixture(t, push.Config{})
			g := &testGuard{}
			f.deps.Guard = g
			a := f.register(t, "alice")
			if !tc.noApp {
				addApp(t, f, "alice", oath.DefaultParams)
			}
			codes, err := f.env.Devices.NewRecoveryCodes(bg, "/", "alice")
			if err != nil {
				t.Fatal(err)
			}
			ctx := f.newCtx()
			wantOutcome(t, f.mustBuild(t, "push_sender", ""), ctx, "sent")
			msgID := ctx.Shared.String(mfa.KeyMessageID)
			num, _ := ctx.Shared.Int(mfa.KeyNumber)
			n := f.mustBuild(t, "push_wait", cfg)
			ctx.Callbacks = nil
			sent := wantSend(t, n, ctx, nodes.TypePollingWait, nodes.TypeHiddenValue, nodes.TypeTextInput, nodes.TypeConfirmation)
			if sent[2].OutString("prompt") != "Enter a code instead" {
				t.Errorf("code field %+v", sent[2])
			}
			outcome := ""
			for i, tr := range tc.tries {
				// The hidden value and the exit keep their presets; the code goes in the field.
				f.next(t, ctx, sent, strconv.Itoa(num), tr.code(f, codes), nodes.ConfirmationNotPressed)
				act := run(t, n, ctx)
				if act.Outcome != tr.outcome {
					t.Fatalf("try %d: outcome %q (%+v), want %q", i, act.Outcome, act.Callbacks, tr.outcome)
				}
				outcome = act.Outcome
				if tr.outcome == "" {
					want := []string{nodes.TypePollingWait, nodes.TypeHiddenValue, nodes.TypeTextInput, nodes.TypeConfirmation}
					if tr.problem != "" {
						want = []string{nodes.TypePollingWait, nodes.TypeHiddenValue, nodes.TypeTextOutput, nodes.TypeTextInput, nodes.TypeConfirmation}
						if got := act.Callbacks[2].OutString("message"); got != tr.problem {
							t.Errorf("try %d: message %q, want %q", i, got, tr.problem)
						}
					}
					if got := types(act.Callbacks); !reflect.DeepEqual(got, want) {
						t.Fatalf("try %d: callbacks %v, want %v", i, got, want)
					}
				}
			}
			var calls []string
			for _, c := range g.took() {
				if !strings.HasPrefix(c, "allow ") {
					calls = append(calls, c)
				}
			}
			if !reflect.DeepEqual(calls, tc.guard) && (len(calls) > 0 || len(tc.guard) > 0) {
				t.Errorf("guard told %q, want %q", calls, tc.guard)
			}
			if outcome != "code" {
				// Still waiting: the push is alive and the phone can answer it.
				if ctx.Shared.String(mfa.KeyMessageID) != msgID || len(ctx.Shared.Factors()) != 0 {
					t.Errorf("a refused code changed the flow: %v", ctx.Shared)
				}
				if err := a.Approve(bg, msgID, num); err != nil {
					t.Errorf("the phone cannot answer the push still waiting: %v", err)
				}
				return
			}
			if got := ctx.Shared.Factors(); !reflect.DeepEqual(got, []nodes.Factor{tc.factor}) {
				t.Errorf("factors %v, want %v", got, tc.factor)
			}
			for _, k := range []string{mfa.KeyMessageID, mfa.KeyNumber, mfa.KeyTimeout, "arbor.node.n.end_time"} {
				if ctx.Shared.Has(k) {
					t.Errorf("%s left in the flow", k)
				}
			}
			// The push is withdrawn: the phone's late approval is refused and changes nothing.
			if err := a.Approve(bg, msgID, num); err == nil {
				t.Error("the phone approved a cancelled push")
			}
			if r, err := f.env.Push.Result(bg, msgID, "flow1"); err != nil || r.Status != push.StatusExpired {
				t.Errorf("Result after cancel: %+v, %v", r, err)
			}
			if f.env.Audit.Count(audit.PushCancelled) != 1 || f.env.Audit.Count(audit.PushApproved) != 0 {
				t.Errorf("events %+v", f.env.Audit.Events())
			}
		})
	}
}

func TestPushWaitCodeOutcomesAndConfig(t *testing.T) {
	f := newFixture(t, push.Config{})
	_, outs, err := f.build("push_wait", `{"accept_code": true}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomeIDs(outs); !reflect.DeepEqual(got, []string{"done", "exit", "code"}) {
		t.Errorf("outcomes %v", got)
	}
	wantProblems(t, f, "push_wait", `{"accept_recovery_code": true}`, "/nodes/n/config/accept_recovery_code bad_config")
}

// TestPushWaitReusedCode: a code already used in this time step is refused with the
// wait, and the push goes on waiting.
func TestPushWaitReusedCode(t *testing.T) {
	bg := context.Background()
	f := newFixture(t, push.Config{})
	start := f.env.Now().Truncate(30 * time.Second).Add(40 * time.Second)
	f.env.Clock.Advance(start.Sub(f.env.Now()))
	f.register(t, "alice")
	addApp(t, f, "alice", oath.DefaultParams)
	code := appCode(t, f, 0)
	if res, err := f.env.Devices.VerifyCode(bg, "/", "alice", code, f.env.Now(), oath.DefaultPolicy); err != nil || res.Outcome != oath.Accepted {
		t.Fatalf("first use: %+v, %v", res, err)
	}
	ctx := f.newCtx()
	wantOutcome(t, f.mustBuild(t, "push_sender", `{"push_type": "tap"}`), ctx, "sent")
	n := f.mustBuild(t, "push_wait", `{"accept_code": true}`)
	ctx.Callbacks = nil
	sent := wantSend(t, n, ctx, nodes.TypePollingWait, nodes.TypeTextInput, nodes.TypeConfirmation)
	f.env.Clock.Advance(6 * time.Second) // past the wait: still, the page first says why
	f.next(t, ctx, sent, code, nodes.ConfirmationNotPressed)
	act := run(t, n, ctx)
	if act.Outcome != "" || act.Callbacks[1].OutString("message") != "Please wait 14 seconds to log in again." {
		t.Fatalf("reused code: %+v", act)
	}
	f.next(t, ctx, sent, "", nodes.ConfirmationNotPressed)
	wantOutcome(t, n, ctx, "done")
	if f.env.Audit.Count(audit.OTPReused) != 1 {
		t.Errorf("events %+v", f.env.Audit.Events())
	}
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
