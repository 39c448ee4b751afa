package mfa

import (
	"strings"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/nodes"
)

// RecoveryCollectorConfig configures recovery_code_collector_decision.
type RecoveryCollectorConfig struct {
	Prompt map[string]string `json:"prompt" default:"{\"en\":\"Recovery Code\"}" doc:"Prompt for the code, by locale."`
}

func init() {
	add(func(r *nodes.Registry) {
		nodes.Register(r, nodes.Spec[RecoveryCollectorConfig]{
			Type:     "recovery_code_collector_decision",
			Title:    "Recovery Code Collector Decision",
			Category: "mfa",
			Summary:  "Asks for a recovery code: true if it is one of the user's unused codes, which is then used up.",
			Description: "Each code works once; a used code is consumed atomically, so two logins racing with the same code cannot " +
				"both succeed. Wrap it in a retry_limit to bound guesses.",
			Input:    true,
			Outcomes: []nodes.Outcome{{ID: "true", Label: "True"}, {ID: "false", Label: "False"}},
			New: func(c *RecoveryCollectorConfig, b *nodes.Build) (nodes.Node, error) {
				svc, au := servicesOf(b), auditOf(b)
				return nodes.NodeFunc(func(ctx *nodes.Context) (nodes.Action, error) {
					if err := svc.need(false, true); err != nil {
						return nodes.Action{}, err
					}
					user, err := requireUser(ctx)
					if err != nil {
						return nodes.Action{}, err
					}
					code := ""
					if len(ctx.Callbacks) == 1 {
						code = strings.TrimSpace(ctx.Callbacks[0].InString())
					}
					if code == "" {
						return nodes.Send(nodes.NameCallback(text(c.Prompt, ctx, "Recovery Code"))), nil
					}
					ok, err := svc.devices.UseRecoveryCode(ctx.Ctx, ctx.Realm, user, code)
					if err != nil {
						return nodes.Action{}, err
					}
					ev := audit.Event{Type: audit.RecoveryCodeUsed, Realm: ctx.Realm, User: user, FlowID: ctx.FlowID, Node: ctx.NodeID, Client: ctx.Request.ClientIP}
					if !ok {
						ev.Type = audit.RecoveryCodeBad
						au.Emit(ctx.Ctx, ev)
						return nodes.Action{Outcome: "false", StepError: "That recovery code is not valid."}, nil
					}
					au.Emit(ctx.Ctx, ev)
					ctx.Shared.AddFactor(nodes.FactorRecoveryCode)
					return nodes.Goto("true"), nil
				}), nil
			},
		})
	})
}
