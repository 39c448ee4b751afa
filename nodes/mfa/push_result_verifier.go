package mfa

import (
	"fmt"

	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/push"
)

// registerPushResultVerifier adds the push_result_verifier node type to r.
func registerPushResultVerifier(r *nodes.Registry) {
	nodes.Register(r, nodes.Spec[none]{
		Type:     "push_result_verifier",
		Title:    "Push Result Verifier",
		Category: "mfa",
		Summary:  "Checks the answer to the push this flow sent: success, failure (denied or wrong number), expired, or waiting.",
		Description: "An approval counts only for the flow the push was sent for, only once, and, with number matching, only with the " +
			"number the login showed. On success, failure and expired it clears the push from shared state, so push_sender may send " +
			"a new one (the expired loop of the push-mfa journey). On success the flow has verified the factor \"push\".",
		Outcomes: []nodes.Outcome{
			{ID: "success", Label: "Success"}, {ID: "failure", Label: "Failure"}, {ID: "expired", Label: "Expired"}, {ID: "waiting", Label: "Waiting"},
		},
		New: func(_ *none, b *nodes.Build) (nodes.Node, error) {
			svc := servicesOf(b)
			return nodes.NodeFunc(func(ctx *nodes.Context) (nodes.Action, error) {
				if err := svc.need(true, false); err != nil {
					return nodes.Action{}, err
				}
				id := ctx.Shared.String(KeyMessageID)
				if id == "" {
					return nodes.Action{}, fmt.Errorf("push result verifier: no push was sent in this flow (%s missing); put a push_sender before it", KeyMessageID)
				}
				res, err := svc.push.Result(ctx.Ctx, id, ctx.FlowID)
				if err != nil {
					return nodes.Action{}, err
				}
				clear := func() {
					delete(ctx.Shared, KeyMessageID)
					delete(ctx.Shared, KeyNumber)
					delete(ctx.Shared, KeyTimeout)
				}
				switch res.Status {
				case push.StatusWaiting:
					return nodes.Goto("waiting"), nil
				case push.StatusApproved:
					clear()
					ctx.Shared.AddFactor(nodes.FactorPush)
					return nodes.Goto("success"), nil
				case push.StatusDenied:
					clear()
					return nodes.Action{Outcome: "failure", FailureMessage: "The push notification was denied."}, nil
				default:
					clear()
					return nodes.Goto("expired"), nil
				}
			}), nil
		},
	})
}
