package mfa_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/mfa"
	"github.com/arbor-auth/arbor/push"
	"github.com/arbor-auth/arbor/store"
)

func TestPushSenderOutcomes(t *testing.T) {
	f := newFixture(t, push.Config{})
	tests := []struct {
		cfg  string
		want []string
	}{
		{cfg: ``, want: []string{"sent", "not_registered", "skipped"}},
		{cfg: `{"mandatory": true}`, want: []string{"sent", "not_registered"}},
		{cfg: `{"capture_failure": true}`, want: []string{"sent", "not_registered", "skipped", "failure"}},
		{cfg: `{"mandatory": true, "capture_failure": true}`, want: []string{"sent", "not_registered", "failure"}},
	}
	for _, tc := range tests {
		t.Run(tc.cfg, func(t *testing.T) {
			_, outs, err := f.build("push_sender", tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := outcomeIDs(outs); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("outcomes %v, want %v", got, tc.want)
			}
		})
	}
	if ti, _ := f.reg.Lookup("push_sender"); !ti.Dynamic {
		t.Error("push_sender outcomes not marked dynamic")
	}
}

func TestPushSender(t *testing.T) {
	tests := []struct {
		name    string
		cfg     string
		setup   func(t *testing.T, f *fixture, ctx *nodes.Context)
		outcome string
		number  bool // a number to match is in shared state
		pushed  bool // a push was delivered
	}{
		{name: "sent with number matching by default", cfg: `{}`, outcome: "sent", number: true, pushed: true,
			setup: func(t *testing.T, f *fixture, ctx *nodes.Context) {
				f.register(t, "alice")
				ctx.Shared[mfa.KeyFailureReason] = mfa.ReasonTransmission // from an earlier try
			}},
		{name: "tap clears a stale number", cfg: `{"push_type": "tap"}`, outcome: "sent", pushed: true,
			setup: func(t *testing.T, f *fixture, ctx *nodes.Context) {
				f.register(t, "alice")
				ctx.Shared[mfa.KeyNumber] = 42
			}},
		{name: "biometric has no number", cfg: `{"push_type": "biometric", "message_timeout": 30000}`, outcome: "sent", pushed: true,
			setup: func(t *testing.T, f *fixture, ctx *nodes.Context) { f.register(t, "alice") }},
		{name: "no device", cfg: `{}`, outcome: "not_registered"},
		{name: "no device, opted out of another method", cfg: `{"mandatory": true}`, outcome: "not_registered",
			setup: func(t *testing.T, f *fixture, ctx *nodes.Context) {
				f.env.Devices.SetSkip(context.Background(), "/", "alice", "otp", devices.SkipSkippable)
			}},
		{name: "opted out", cfg: `{}`, outcome: "skipped",
			setup: func(t *testing.T, f *fixture, ctx *nodes.Context) {
				f.register(t, "alice")
				f.env.Devices.SetSkip(context.Background(), "/", "alice", devices.MethodPush, devices.SkipSkippable)
			}},
		{name: "opted out without a device", cfg: `{}`, outcome: "skipped",
			setup: func(t *testing.T, f *fixture, ctx *nodes.Context) {
				f.env.Devices.SetSkip(context.Background(), "/", "alice", devices.MethodPush, devices.SkipSkippable)
			}},
		{name: "mandatory ignores the opt-out", cfg: `{"mandatory": true}`, outcome: "sent", number: true, pushed: true,
			setup: func(t *testing.T, f *fixture, ctx *nodes.Context) {
				f.register(t, "alice")
				f.env.Devices.SetSkip(context.Background(), "/", "alice", devices.MethodPush, devices.SkipSkippable)
			}},
		{name: "registration made it mandatory", cfg: `{}`, outcome: "sent", number: true, pushed: true,
			setup: func(t *testing.T, f *fixture, ctx *nodes.Context) {
				f.register(t, "alice")
				f.env.Devices.SetSkip(context.Background(), "/", "alice", devices.MethodPush, devices.SkipNotSkippable)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, push.Config{})
			n := f.mustBuild(t, "push_sender", tc.cfg)
			ctx := f.newCtx()
			if tc.setup != nil {
				tc.setup(t, f, ctx)
			}
			wantOutcome(t, n, ctx, tc.outcome)
			if ctx.Shared.Has(mfa.KeyFailureReason) {
				t.Errorf("%s = %v after %s", mfa.KeyFailureReason, ctx.Shared[mfa.KeyFailureReason], tc.outcome)
			}
			msgs := f.env.Deliverer.Messages()
			if tc.pushed != (len(msgs) == 1) {
				t.Fatalf("%d pushes delivered", len(msgs))
			}
			if !tc.pushed {
				if ctx.Shared.Has(mfa.KeyMessageID) || ctx.Shared.Has(mfa.KeyTimeout) {
					t.Errorf("no push, but shared state %v", ctx.Shared)
				}
				if m := ctx.Shared.String(mfa.KeyMFAMethod); (tc.outcome == "not_registered") != (m == devices.MethodPush) {
					t.Errorf("%s = %q after %s", mfa.KeyMFAMethod, m, tc.outcome)
				}
				return
			}
			shared := roundTrip(t, ctx.Shared)
			if id := shared.String(mfa.KeyMessageID); id != msgs[0].MessageID || !strings.HasPrefix(id, push.AuthenticatePrefix) {
				t.Errorf("%s = %q, delivered %q", mfa.KeyMessageID, id, msgs[0].MessageID)
			}
			var cfg mfa.PushSenderConfig
			cfg.MessageTimeout = 120000
			json.Unmarshal([]byte(tc.cfg), &cfg)
			if ms, _ := shared.Int(mfa.KeyTimeout); ms != cfg.MessageTimeout {
				t.Errorf("%s = %v, want %d", mfa.KeyTimeout, shared[mfa.KeyTimeout], cfg.MessageTimeout)
			}
			claims := jwtClaims(t, msgs[0].JWT)
			if claims["t"] != fmt.Sprint(cfg.MessageTimeout/1000) {
				t.Errorf("t claim %v, want %d s", claims["t"], cfg.MessageTimeout/1000)
			}
			num, ok := shared.Int(mfa.KeyNumber)
			if ok != tc.number {
				t.Fatalf("%s = %v, want a number: %v", mfa.KeyNumber, shared[mfa.KeyNumber], tc.number)
			}
			if tc.number {
				if num < 10 || num > 99 {
					t.Errorf("number %d out of [10, 99]", num)
				}
				if claims["k"] != "challenge" || !strings.Contains(fmt.Sprint(claims["n"]), fmt.Sprint(num)) {
					t.Errorf("k %v n %v, want challenge offering %d", claims["k"], claims["n"], num)
				}
			} else if claims["n"] != nil {
				t.Errorf("n claim %v without number matching", claims["n"])
			}
		})
	}
}

func TestPushSenderPushType(t *testing.T) {
	tests := []struct{ cfg, claim string }{
		{cfg: `{}`, claim: "challenge"},
		{cfg: `{"push_type": "challenge"}`, claim: "challenge"},
		{cfg: `{"push_type": "tap"}`, claim: "default"},
		{cfg: `{"push_type": "biometric"}`, claim: "biometric"},
	}
	for _, tc := range tests {
		t.Run(tc.cfg, func(t *testing.T) {
			f := newFixture(t, push.Config{})
			f.register(t, "alice")
			wantOutcome(t, f.mustBuild(t, "push_sender", tc.cfg), f.newCtx(), "sent")
			m, _ := f.env.Deliverer.Last()
			if k := jwtClaims(t, m.JWT)["k"]; k != tc.claim {
				t.Errorf("k claim %v, want %s", k, tc.claim)
			}
		})
	}
}

// TestPushSenderFailures covers every PushAuthFailureReason, with capture_failure (the
// failure outcome and the reason in shared state) and without (an error for the
// engine, nothing in shared state).
func TestPushSenderFailures(t *testing.T) {
	big := strings.Repeat("x", push.MaxPayload)
	tests := []struct {
		name   string
		cfg    string // more config
		rate   int
		setup  func(t *testing.T, f *fixture, ctx *nodes.Context)
		reason string
		is     error  // what the uncaptured error wraps, if anything in particular
		says   string // what the captured failure's message says, if anything in particular
	}{
		{name: "no username", reason: mfa.ReasonMissingUsername,
			setup: func(t *testing.T, f *fixture, ctx *nodes.Context) {
				f.register(t, "alice")
				delete(ctx.Shared, nodes.KeyUsername)
			}},
		{name: "second send in the flow", reason: mfa.ReasonAlreadyUsed,
			setup: func(t *testing.T, f *fixture, ctx *nodes.Context) {
				f.register(t, "alice")
				ctx.Shared[mfa.KeyMessageID] = "AUTHENTICATE:earlier"
			}},
		{name: "store down reading skip state", reason: mfa.ReasonStore, is: store.ErrUnavailable,
			setup: func(t *testing.T, f *fixture, ctx *nodes.Context) {
				f.register(t, "alice")
				f.st.Down.Store(true)
			}},
		{name: "store down sending", cfg: `, "mandatory": true`, reason: mfa.ReasonStore, is: store.ErrUnavailable,
			setup: func(t *testing.T, f *fixture, ctx *nodes.Context) {
				f.register(t, "alice")
				f.st.Down.Store(true)
			}},
		{name: "delivery fails", reason: mfa.ReasonTransmission, is: push.ErrTransmission,
			setup: func(t *testing.T, f *fixture, ctx *nodes.Context) {
				f.register(t, "alice")
				f.env.Deliverer.Fail(true)
			}},
		{name: "rate limited", rate: 1, reason: mfa.ReasonRateLimited, is: push.ErrRateLimited,
			says: "Too many push notifications were sent to this account. Pushes are allowed again in 10 minutes.",
			setup: func(t *testing.T, f *fixture, ctx *nodes.Context) {
				f.register(t, "alice")
				if _, err := f.env.Push.Send(context.Background(), push.SendRequest{Realm: "/", Username: "alice", FlowID: "another"}); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "payload too large", cfg: `, "custom_payload": ["big"]`, reason: mfa.ReasonPayload, is: push.ErrPayloadTooLarge,
			setup: func(t *testing.T, f *fixture, ctx *nodes.Context) {
				f.register(t, "alice")
				ctx.Shared["big"] = big
			}},
	}
	for _, tc := range tests {
		for _, capture := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/capture=%t", tc.name, capture), func(t *testing.T) {
				f := newFixture(t, push.Config{RateLimit: push.RateLimit{Count: tc.rate}})
				n, outs, err := f.build("push_sender", fmt.Sprintf(`{"capture_failure": %t%s}`, capture, tc.cfg))
				if err != nil {
					t.Fatal(err)
				}
				ctx := f.newCtx()
				tc.setup(t, f, ctx)
				before := len(f.env.Deliverer.Messages())
				act, err := n.Process(ctx)
				if capture {
					if err != nil {
						t.Fatalf("Process: %v", err)
					}
					if act.Outcome != "failure" || act.FailureMessage == "" || act.Callbacks != nil {
						t.Fatalf("action %+v, want the failure outcome with a message", act)
					}
					// A journey that goes on after the failure (to a recovery code) says why.
					if act.StepError != act.FailureMessage || (tc.says != "" && act.FailureMessage != tc.says) {
						t.Errorf("messages %q / %q, want %q for both", act.FailureMessage, act.StepError, tc.says)
					}
					if got := ctx.Shared.String(mfa.KeyFailureReason); got != tc.reason {
						t.Errorf("%s = %q, want %q", mfa.KeyFailureReason, got, tc.reason)
					}
					if !reflect.DeepEqual(outcomeIDs(outs)[len(outs)-1:], []string{"failure"}) {
						t.Errorf("failure is not a declared outcome: %v", outcomeIDs(outs))
					}
				} else {
					if err == nil {
						t.Fatalf("action %+v, want an error", act)
					}
					if !strings.Contains(err.Error(), tc.reason) {
						t.Errorf("error %q does not name %s", err, tc.reason)
					}
					if tc.is != nil && !errors.Is(err, tc.is) {
						t.Errorf("error %q does not wrap %v", err, tc.is)
					}
					if ctx.Shared.Has(mfa.KeyFailureReason) {
						t.Errorf("%s written without capture_failure", mfa.KeyFailureReason)
					}
				}
				if tc.reason != mfa.ReasonAlreadyUsed && ctx.Shared.Has(mfa.KeyMessageID) {
					t.Errorf("a failed send left %s", mfa.KeyMessageID)
				}
				if ctx.Shared.Has(mfa.KeyNumber) || ctx.Shared.Has(mfa.KeyTimeout) {
					t.Errorf("a failed send left state: %v", ctx.Shared)
				}
				if got := len(f.env.Deliverer.Messages()); got != before {
					t.Errorf("%d pushes delivered by a failed send", got-before)
				}
			})
		}
	}
}

// TestPushSenderContext checks what reaches the device: the localised message,
// context_info (with the location a device_profile_collector kept, across a step) and
// the custom payload, in the push JWT's m, x and p claims.
func TestPushSenderContext(t *testing.T) {
	profile := `{"metadata": {"platform": "iPhone"}, "location": {"latitude": 48.85, "longitude": 2.35}}`
	tests := []struct {
		name    string
		cfg     string
		locales []string
		profile string
		message string
		context map[string]any // nil: no x claim
		payload map[string]any // nil: no p claim
	}{
		{name: "defaults share nothing", cfg: `{}`, profile: profile, message: "Login attempt from alice at Arbor"},
		{name: "context without profile", cfg: `{"context_info": true}`,
			message: "Login attempt from alice at Arbor",
			context: map[string]any{"remoteIp": "192.0.2.7", "userAgent": "test-agent"}},
		{name: "context with location", cfg: `{"context_info": true}`, profile: profile,
			message: "Login attempt from alice at Arbor",
			context: map[string]any{"remoteIp": "192.0.2.7", "userAgent": "test-agent", "location": map[string]any{"latitude": 48.85, "longitude": 2.35}}},
		{name: "context when the device gave no location", cfg: `{"context_info": true}`,
			profile: `{"metadata": {"platform": "iPhone"}, "location": {}}`,
			message: "Login attempt from alice at Arbor",
			context: map[string]any{"remoteIp": "192.0.2.7", "userAgent": "test-agent"}},
		{name: "custom payload takes what is there", cfg: `{"custom_payload": ["colour", "missing", "count"]}`,
			message: "Login attempt from alice at Arbor",
			payload: map[string]any{"colour": "blue", "count": 3.0}},
		{name: "custom payload of missing keys only", cfg: `{"custom_payload": ["missing"]}`,
			message: "Login attempt from alice at Arbor"},
		{name: "localised message", cfg: `{"user_message": {"en": "Is it you, {{user}}? ({{issuer}})", "fr": "C'est vous, {{user}} ?"}}`,
			locales: []string{"fr-CA"}, message: "C'est vous, alice ?"},
		{name: "message falls back to en", cfg: `{"user_message": {"en": "Is it you, {{user}}? ({{issuer}})"}}`,
			locales: []string{"de"}, message: "Is it you, alice? (Arbor)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, push.Config{})
			f.register(t, "alice")
			ctx := f.newCtx()
			ctx.Shared["colour"] = "blue"
			ctx.Shared["count"] = 3
			if tc.locales != nil {
				ctx.Request.Locales = tc.locales
			}
			if tc.profile != "" {
				dp := f.mustBuild(t, "device_profile_collector", "")
				sent := wantSend(t, dp, ctx, nodes.TypeDeviceProf)
				f.next(t, ctx, sent, tc.profile)
				wantOutcome(t, dp, ctx, "outcome")
				ctx.Shared = roundTrip(t, ctx.Shared)
				ctx.Callbacks = nil
			}
			wantOutcome(t, f.mustBuild(t, "push_sender", tc.cfg), ctx, "sent")
			m, ok := f.env.Deliverer.Last()
			if !ok {
				t.Fatal("nothing delivered")
			}
			claims := jwtClaims(t, m.JWT)
			if claims["m"] != tc.message || m.Body != tc.message {
				t.Errorf("m claim %q body %q, want %q", claims["m"], m.Body, tc.message)
			}
			if claims["d"] != "alice" {
				t.Errorf("d claim %v", claims["d"])
			}
			for claim, want := range map[string]map[string]any{"x": tc.context, "p": tc.payload} {
				raw, present := claims[claim]
				if want == nil {
					if present {
						t.Errorf("%s claim %v, want none", claim, raw)
					}
					continue
				}
				s, _ := raw.(string)
				var got map[string]any
				if err := json.Unmarshal([]byte(s), &got); err != nil {
					t.Fatalf("%s claim %v is not a JSON object string: %v", claim, raw, err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s claim %v, want %v", claim, got, want)
				}
			}
		})
	}
}

func TestPushSenderConfigProblems(t *testing.T) {
	f := newFixture(t, push.Config{})
	wantProblems(t, f, "push_sender", `{"push_type": "sms"}`, "/nodes/n/config/push_type bad_config")
	wantProblems(t, f, "push_sender", `{"push_type": "CHALLENGE"}`, "/nodes/n/config/push_type bad_config")
	wantProblems(t, f, "push_sender", `{"message_timeout": 4999}`, "/nodes/n/config/message_timeout bad_config")
	wantProblems(t, f, "push_sender", `{"message_timeout": 900001}`, "/nodes/n/config/message_timeout bad_config")
	wantProblems(t, f, "push_sender", `{"message_timeout": "120000"}`, "/nodes/n/config/message_timeout bad_config")
	wantProblems(t, f, "push_sender", `{"custom_payload": "colour"}`, "/nodes/n/config/custom_payload bad_config")
	wantProblems(t, f, "push_sender", `{"user_message": "hi"}`, "/nodes/n/config/user_message bad_config")
	wantProblems(t, f, "push_sender", `{"capture_failure": "yes", "mandatory": 1}`,
		"/nodes/n/config/capture_failure bad_config", "/nodes/n/config/mandatory bad_config")
	wantProblems(t, f, "push_sender", `{"pushType": "tap"}`, "/nodes/n/config/pushType bad_config")
}

// TestPushSenderConcurrentFlows runs one built node for several flows at once, as the
// engine does: each flow gets its own push, and no state leaks between them.
func TestPushSenderConcurrentFlows(t *testing.T) {
	f := newFixture(t, push.Config{RateLimit: push.RateLimit{Count: -1}})
	f.register(t, "alice")
	n := f.mustBuild(t, "push_sender", "")
	const flows = 8
	ctxs := make([]*nodes.Context, flows)
	errs := make(chan error, flows)
	for i := range ctxs {
		ctxs[i] = f.newCtx()
		ctxs[i].FlowID = fmt.Sprintf("flow%d", i)
	}
	for _, ctx := range ctxs {
		go func() {
			act, err := n.Process(ctx)
			if err == nil && act.Outcome != "sent" {
				err = fmt.Errorf("%s: outcome %q", ctx.FlowID, act.Outcome)
			}
			errs <- err
		}()
	}
	for range flows {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for _, ctx := range ctxs {
		id := ctx.Shared.String(mfa.KeyMessageID)
		if seen[id] {
			t.Fatalf("message id %q in two flows", id)
		}
		seen[id] = true
		res, err := f.env.Push.Result(context.Background(), id, ctx.FlowID)
		if err != nil || res.Status != push.StatusWaiting {
			t.Errorf("%s: result %+v, %v", ctx.FlowID, res, err)
		}
	}
	if got := len(f.env.Deliverer.Messages()); got != flows {
		t.Errorf("%d pushes delivered, want %d", got, flows)
	}
}
