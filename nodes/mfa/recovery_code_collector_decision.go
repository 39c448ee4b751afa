package mfa

import (
	"strings"

	"github.com/arbor-auth/arbor/nodes"
)

// ErrBadRecoveryCode is what the step after a refused recovery code says.
const ErrBadRecoveryCode = "That recovery code is not valid."

// RecoveryCollectorConfig configures recovery_code_collector_decision.
type RecoveryCollectorConfig struct {
	Prompt map[string]string `json:"prompt" default:"{\"en\":\"Recovery Code\"}" doc:"Prompt for the code, by locale."`
}

// registerRecoveryCodeCollectorDecision adds the recovery_code_collector_decision node type to r.
func registerRecoveryCodeCollectorDecision(r *nodes.Registry) {
	nodes.Register(r, nodes.Spec[RecoveryCollectorConfig]{
		Type:     "recovery_code_collector_decision",
		Title:    "Recovery Code Collector Decision",
		Category: "mfa",
		Summary:  "Asks for a recovery code: true if it is one of the user's unused codes, which is then used up.",
		Description: "Each code works once; a used code is consumed atomically, so two logins racing with the same code cannot " +
			"both succeed. Guesses are throttled per user and client address (the server's guessing defence): an attempt made " +
			"too early is answered as a wrong code without being checked. On \"true\" the flow has verified the factor " +
			"\"recovery_code\". Wrap it in a retry_limit to bound the guesses of one flow. A code typed at an " +
			"otp_or_push_collector just before (transient recoveryCodeInput) is checked without asking again.",
		Input:    true,
		Outcomes: []nodes.Outcome{{ID: "true", Label: "True"}, {ID: "false", Label: "False"}},
		New: func(c *RecoveryCollectorConfig, b *nodes.Build) (nodes.Node, error) {
			svc, au, guard := servicesOf(b), auditOf(b), nodes.GuardOf(b)
			return nodes.NodeFunc(func(ctx *nodes.Context) (nodes.Action, error) {
				if err := svc.need(false, true); err != nil {
					return nodes.Action{}, err
				}
				user, err := requireUser(ctx)
				if err != nil {
					return nodes.Action{}, err
				}
				code := ""
				switch {
				case len(ctx.Callbacks) == 1:
					code = strings.TrimSpace(ctx.Callbacks[0].InString())
				case ctx.Transient.Has(KeyRecoveryCodeInput):
					// Typed at an earlier prompt of this request (otp_or_push_collector).
					code = strings.TrimSpace(ctx.Transient.String(KeyRecoveryCodeInput))
					delete(ctx.Transient, KeyRecoveryCodeInput)
				}
				if code == "" {
					return nodes.Send(nodes.NameCallback(text(c.Prompt, ctx, "Recovery Code"))), nil
				}
				ok, err := useRecoveryCode(ctx, svc.devices, guard, au, user, code)
				if err != nil {
					return nodes.Action{}, err
				}
				if !ok {
					// A refusal looks like a wrong code, message included.
					return nodes.Action{Outcome: "false", StepError: ErrBadRecoveryCode}, nil
				}
				return nodes.Goto("true"), nil
			}), nil
		},
	})
}
