package mfa

import (
	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/nodes"
)

type none struct{}

// registerOptOutMfa adds the opt_out_mfa node type to r.
func registerOptOutMfa(r *nodes.Registry) {
	nodes.Register(r, nodes.Spec[none]{
		Type:     "opt_out_mfa",
		Title:    "Opt-out Multi-Factor Authentication",
		Category: "mfa",
		Summary:  "Records that the user opted out of push MFA, so push_sender skips it from now on.",
		Description: "Sets the user's skip state for the flow's mfaMethod (default push) to skippable, unless MFA was " +
			"made mandatory for the user by a registration. push_sender then takes its skipped outcome unless it is mandatory.",
		Outcomes: []nodes.Outcome{{ID: "outcome", Label: "Outcome"}},
		New: func(_ *none, b *nodes.Build) (nodes.Node, error) {
			svc := servicesOf(b)
			au := auditOf(b)
			return nodes.NodeFunc(func(ctx *nodes.Context) (nodes.Action, error) {
				if err := svc.need(false, true); err != nil {
					return nodes.Action{}, err
				}
				user, err := requireUser(ctx)
				if err != nil {
					return nodes.Action{}, err
				}
				m := method(ctx)
				cur, err := svc.devices.SkipState(ctx.Ctx, ctx.Realm, user, m)
				if err != nil {
					return nodes.Action{}, err
				}
				devs, err := svc.devices.Devices(ctx.Ctx, ctx.Realm, user)
				if err != nil {
					return nodes.Action{}, err
				}
				// As AM: a user bound to MFA by a registration, who still has a device,
				// cannot opt out through a journey.
				if cur == devices.SkipNotSkippable && len(devs) > 0 {
					return nodes.Goto("outcome"), nil
				}
				if err := svc.devices.SetSkip(ctx.Ctx, ctx.Realm, user, m, devices.SkipSkippable); err != nil {
					return nodes.Action{}, err
				}
				au.Emit(ctx.Ctx, audit.Event{Type: audit.MFAOptOut, Realm: ctx.Realm, User: user, FlowID: ctx.FlowID, Node: ctx.NodeID, Client: ctx.Request.ClientIP})
				if cur != devices.SkipSkippable {
					// The account's sessions were earned under a rule that no longer
					// holds; end them rather than let them carry a stale level.
					if err := nodes.EndUserSessions(ctx, svc.sessions, user, "opted out of MFA"); err != nil {
						return nodes.Action{}, err
					}
				}
				return nodes.Goto("outcome"), nil
			}), nil
		},
	})
}

func auditOf(b *nodes.Build) *audit.Logger {
	if b == nil || b.Deps == nil {
		return nil
	}
	return b.Deps.Audit
}
