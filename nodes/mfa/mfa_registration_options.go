package mfa

import (
	"github.com/arbor-auth/arbor/nodes"
)

// RegistrationOptionsConfig configures mfa_registration_options.
type RegistrationOptionsConfig struct {
	Mandatory     bool              `json:"mandatory" default:"false" doc:"Registration is required: do not offer skip or opt-out."`
	GetApp        bool              `json:"get_app" default:"true" doc:"Offer a link to get the authenticator app."`
	Message       map[string]string `json:"message" default:"{\"en\":\"Protect your account with push notifications to your phone.\"}" doc:"Text shown above the options, by locale."`
	RegisterLabel map[string]string `json:"register_label" default:"{\"en\":\"Register device\"}" doc:"Label of the register option, by locale."`
	GetAppLabel   map[string]string `json:"get_app_label" default:"{\"en\":\"Get the app\"}" doc:"Label of the get-app option, by locale."`
	SkipLabel     map[string]string `json:"skip_label" default:"{\"en\":\"Skip this step\"}" doc:"Label of the skip option, by locale."`
	OptOutLabel   map[string]string `json:"opt_out_label" default:"{\"en\":\"Opt out\"}" doc:"Label of the opt-out option, by locale."`
}

func (c *RegistrationOptionsConfig) outcomes() []nodes.Outcome {
	out := []nodes.Outcome{{ID: "register", Label: "Register"}}
	if c.GetApp {
		out = append(out, nodes.Outcome{ID: "get_app", Label: "Get App"})
	}
	if !c.Mandatory {
		out = append(out, nodes.Outcome{ID: "skip", Label: "Skip"}, nodes.Outcome{ID: "opt_out", Label: "Opt-out"})
	}
	return out
}

// registerMfaRegistrationOptions adds the mfa_registration_options node type to r.
func registerMfaRegistrationOptions(r *nodes.Registry) {
	nodes.Register(r, nodes.Spec[RegistrationOptionsConfig]{
		Type:     "mfa_registration_options",
		Title:    "MFA Registration Options",
		Category: "mfa",
		Summary:  "Offers a user without a device to register one, get the app, skip, or opt out.",
		Description: "Shows a message and one button per option, in the order Register, Get App, Skip, Opt-out. " +
			"Skip and Opt-out are offered only when the node is not mandatory. Usually reached from push_sender's not_registered outcome.",
		Input:       true,
		OutcomesFor: (*RegistrationOptionsConfig).outcomes,
		New: func(c *RegistrationOptionsConfig, _ *nodes.Build) (nodes.Node, error) {
			return &registrationOptions{cfg: c, outs: c.outcomes()}, nil
		},
	})
}

type registrationOptions struct {
	cfg  *RegistrationOptionsConfig
	outs []nodes.Outcome
}

// Process runs the node for one visit of a flow (nodes.Node).
func (n *registrationOptions) Process(ctx *nodes.Context) (nodes.Action, error) {
	if _, err := requireUser(ctx); err != nil {
		return nodes.Action{}, err
	}
	if i, ok := confirmationChoice(ctx.Callbacks); ok && i >= 0 && i < len(n.outs) {
		return nodes.Goto(n.outs[i].ID), nil
	}
	labels := make([]string, len(n.outs))
	for i, o := range n.outs {
		switch o.ID {
		case "register":
			labels[i] = text(n.cfg.RegisterLabel, ctx, "Register device")
		case "get_app":
			labels[i] = text(n.cfg.GetAppLabel, ctx, "Get the app")
		case "skip":
			labels[i] = text(n.cfg.SkipLabel, ctx, "Skip this step")
		case "opt_out":
			labels[i] = text(n.cfg.OptOutLabel, ctx, "Opt out")
		}
	}
	return nodes.Send(
		nodes.TextOutputCallback(text(n.cfg.Message, ctx, "Protect your account with push notifications to your phone."), nodes.MessageInfo),
		nodes.ConfirmationCallback("", labels, 0, 0),
	), nil
}
