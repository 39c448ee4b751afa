package basic

import (
	"github.com/arbor-auth/arbor/nodes"
)

// Stages a disclaimer's step carries, so that a door can tell a banner shown before the
// password from one shown after it (the FortiGate-style door answers -2 or 3).
const (
	StagePreDisclaimer  = "PreLoginDisclaimer"
	StagePostDisclaimer = "PostLoginDisclaimer"
)

// Disclaimer positions.
const (
	DisclaimerPre  = "pre"
	DisclaimerPost = "post"
)

// DisclaimerConfig configures the disclaimer node.
type DisclaimerConfig struct {
	// Text is the banner, by locale.
	Text map[string]string `json:"text" default:"{\"en\":\"This system is for authorised use only.\"}" doc:"The banner the user must acknowledge, by locale."`
	// Position says whether the banner comes before the password or after it.
	Position string `json:"position" default:"pre" enum:"pre|post" doc:"Where the banner stands in the login: \"pre\" (before the password) or \"post\" (after it). Doors that show banners differently read it from the step's stage, PreLoginDisclaimer or PostLoginDisclaimer."`
	// Accept and Decline label the two buttons, by locale.
	Accept  map[string]string `json:"accept" default:"{\"en\":\"Accept\"}" doc:"Label of the button that acknowledges the banner, by locale."`
	Decline map[string]string `json:"decline" default:"{\"en\":\"Decline\"}" doc:"Label of the button that refuses it, by locale."`
}

func registerDisclaimer(r *nodes.Registry) {
	nodes.Register(r, nodes.Spec[DisclaimerConfig]{
		Type:    "disclaimer",
		Title:   "Disclaimer",
		Summary: "Shows a banner the user must acknowledge before going on.",
		Description: "Sends a TextOutputCallback with the banner and a ConfirmationCallback " +
			"with Accept and Decline (Decline preselected, so nothing acknowledges by " +
			"default), on a step whose stage is " + StagePreDisclaimer + " or " +
			StagePostDisclaimer + " as position says. Accept goes to \"accepted\", " +
			"decline to \"declined\"; any other answer shows the banner again. Like " +
			"FortiGate's pre- and post-login disclaimers.",
		Category: categoryBasic,
		Input:    true,
		Outcomes: []nodes.Outcome{{ID: "accepted", Label: "Accepted"}, {ID: "declined", Label: "Declined"}},
		New: func(c *DisclaimerConfig, _ *nodes.Build) (nodes.Node, error) {
			stage := StagePreDisclaimer
			if c.Position == DisclaimerPost {
				stage = StagePostDisclaimer
			}
			return &disclaimerNode{cfg: *c, stage: stage}, nil
		},
	})
}

type disclaimerNode struct {
	cfg   DisclaimerConfig
	stage string
}

// Process runs the node for one visit of a flow (nodes.Node).
func (n *disclaimerNode) Process(ctx *nodes.Context) (nodes.Action, error) {
	if cb, ok := nodes.Find(ctx.Callbacks, nodes.TypeConfirmation); ok {
		switch i, ok := cb.InInt(); {
		case ok && i == 0:
			return nodes.Goto("accepted"), nil
		case ok && i == 1:
			return nodes.Goto("declined"), nil
		}
	}
	loc := ctx.Request.Locales
	return nodes.Action{Stage: n.stage, Callbacks: []nodes.Callback{
		nodes.TextOutputCallback(nodes.Localize(n.cfg.Text, loc, ""), nodes.MessageInfo),
		nodes.ConfirmationCallback("", []string{nodes.Localize(n.cfg.Accept, loc, "Accept"), nodes.Localize(n.cfg.Decline, loc, "Decline")}, 1, 1),
	}}, nil
}
