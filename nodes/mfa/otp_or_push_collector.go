package mfa

import (
	"strings"

	"github.com/arbor-auth/arbor/nodes"
)

// OTPOrPushCollectorConfig configures otp_or_push_collector.
type OTPOrPushCollectorConfig struct {
	Prompt    map[string]string `json:"prompt" default:"{\"en\":\"Please enter the token code. You can also submit a blank response to initiate a push notification.\"}" doc:"Prompt for the code, by locale (FortiAuthenticator's words by default)."`
	MinDigits int               `json:"min_digits" default:"6" min:"4" max:"10" doc:"Fewest digits an answer has to be taken as a one-time code."`
	MaxDigits int               `json:"max_digits" default:"8" min:"4" max:"10" doc:"Most digits an answer has to be taken as a one-time code."`
}

// HiddenPushOffered is the id of the hidden value that tells a door the step offers
// push: the RADIUS door starts its Reply-Message with "+" (FortiGate's convention).
const HiddenPushOffered = "pushOffered"

// Transient keys where otp_or_push_collector leaves what the user typed for the node
// that checks it (AM's key for one-time passwords).
const (
	KeyOneTimePassword   = "oneTimePassword"
	KeyRecoveryCodeInput = "recoveryCodeInput"
)

// registerOtpOrPushCollector adds the otp_or_push_collector node type to r.
func registerOtpOrPushCollector(r *nodes.Registry) {
	nodes.Register(r, nodes.Spec[OTPOrPushCollectorConfig]{
		Type:     "otp_or_push_collector",
		Title:    "OTP or Push Collector",
		Category: "mfa",
		Summary:  "Asks for a one-time code, or nothing (or \"push\") to get a push instead; anything else is taken as a recovery code.",
		Description: "Sends a PasswordCallback with the prompt and a HiddenValueCallback pushOffered (the RADIUS door then starts its " +
			"Reply-Message with \"+\", which FortiGate reads as push offered). Outcomes: push for a blank answer or the word push; " +
			"code for min_digits to max_digits digits, left in transient state oneTimePassword for the verifier after it; " +
			"recovery_code for anything else, left in transient state recoveryCodeInput for recovery_code_collector_decision. " +
			"Nothing typed is stored.",
		Input: true,
		Outcomes: []nodes.Outcome{
			{ID: "push", Label: "Push"}, {ID: "code", Label: "Code"}, {ID: "recovery_code", Label: "Recovery Code"},
		},
		New: func(c *OTPOrPushCollectorConfig, b *nodes.Build) (nodes.Node, error) {
			if c.MinDigits > c.MaxDigits {
				return nil, nodes.Problems{{Pointer: b.Pointer + "/min_digits", Code: nodes.CodeBadConfig, Message: "min_digits must not exceed max_digits"}}
			}
			return &otpOrPush{cfg: c}, nil
		},
	})
}

type otpOrPush struct{ cfg *OTPOrPushCollectorConfig }

// Process runs the node for one visit of a flow (nodes.Node).
func (n *otpOrPush) Process(ctx *nodes.Context) (nodes.Action, error) {
	cb, ok := nodes.Find(ctx.Callbacks, nodes.TypePassword)
	if !ok {
		return nodes.Send(
			nodes.PasswordCallback(text(n.cfg.Prompt, ctx, "Please enter the token code. You can also submit a blank response to initiate a push notification.")),
			nodes.HiddenValueCallback(HiddenPushOffered, "true"),
		), nil
	}
	answer := strings.TrimSpace(cb.InString())
	switch {
	case answer == "" || strings.EqualFold(answer, "push"):
		return nodes.Goto("push"), nil
	case n.isCode(answer):
		ctx.Transient[KeyOneTimePassword] = answer
		return nodes.Goto("code"), nil
	default:
		ctx.Transient[KeyRecoveryCodeInput] = answer
		return nodes.Goto("recovery_code"), nil
	}
}

func (n *otpOrPush) isCode(s string) bool {
	if len(s) < n.cfg.MinDigits || len(s) > n.cfg.MaxDigits {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
