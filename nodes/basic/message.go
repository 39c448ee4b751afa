package basic

import (
	"github.com/arbor-auth/arbor/nodes"
)

// MessageConfig configures the message node.
type MessageConfig struct {
	// Message is the text shown, by locale.
	Message map[string]string `json:"message" default:"{\"en\":\"Continue?\"}" doc:"The message shown, by locale."`
	// Yes and No label the two buttons, by locale.
	Yes map[string]string `json:"yes" default:"{\"en\":\"Yes\"}" doc:"Label of the button that goes to \"true\", by locale."`
	No  map[string]string `json:"no" default:"{\"en\":\"No\"}" doc:"Label of the button that goes to \"false\", by locale."`
	// StateField, when set, names the shared-state key that receives the answer.
	StateField string `json:"state_field" doc:"Optional shared-state key that receives the chosen button's index (0 for yes, 1 for no)."`
	// TextOnly shows the message with one button that goes on, for messages that ask
	// nothing ("Your password expires in 3 days.").
	TextOnly bool `json:"text_only" default:"false" doc:"Show the message with a single Continue button instead of yes and no; the node then has one outcome, \"outcome\"."`
	// Continue labels the single button of a text-only message, by locale.
	Continue map[string]string `json:"continue" default:"{\"en\":\"Continue\"}" doc:"Label of the button of a text_only message, by locale."`
}

func (c *MessageConfig) outcomes() []nodes.Outcome {
	if c.TextOnly {
		return singleOutcome
	}
	return decisionOutcome
}

// Validate rejects state keys a journey may not write.
func (c *MessageConfig) Validate() error {
	if c.StateField == "" {
		return nil
	}
	if p := checkStateKey(c.StateField); p != nil {
		p.Pointer = "/state_field"
		return nodes.Problems{*p}
	}
	return nil
}

// registerMessage adds the message node type to r.
func registerMessage(r *nodes.Registry) {
	nodes.Register(r, nodes.Spec[MessageConfig]{
		Type:    "message",
		Title:   "Message",
		Summary: "Shows a message with a yes and a no button, or (text_only) with one Continue button.",
		Description: "Sends a TextOutputCallback with the message and a ConfirmationCallback " +
			"with the two buttons (\"no\" preselected). Yes goes to \"true\", no to \"false\"; " +
			"any other answer shows the message again. With state_field the chosen index " +
			"is also stored in shared state. Like AM's Message Node. With text_only the " +
			"message has a single button and the node one outcome, \"outcome\".",
		Category:    categoryBasic,
		Input:       true,
		OutcomesFor: (*MessageConfig).outcomes,
		New: func(c *MessageConfig, _ *nodes.Build) (nodes.Node, error) {
			return &messageNode{cfg: *c}, nil
		},
	})
}

type messageNode struct {
	cfg MessageConfig
}

// Process runs the node for one visit of a flow (nodes.Node).
func (n *messageNode) Process(ctx *nodes.Context) (nodes.Action, error) {
	loc := ctx.Request.Locales
	msg := nodes.TextOutputCallback(nodes.Localize(n.cfg.Message, loc, "Continue?"), nodes.MessageInfo)
	if n.cfg.TextOnly {
		if cb, ok := nodes.Find(ctx.Callbacks, nodes.TypeConfirmation); ok {
			if i, ok := cb.InInt(); ok && i == 0 {
				return nodes.Goto("outcome"), nil
			}
		}
		return nodes.Send(msg, nodes.ConfirmationCallback("", []string{nodes.Localize(n.cfg.Continue, loc, "Continue")}, 0, 0)), nil
	}
	if cb, ok := nodes.Find(ctx.Callbacks, nodes.TypeConfirmation); ok {
		if i, ok := cb.InInt(); ok && (i == 0 || i == 1) {
			if n.cfg.StateField != "" {
				if err := errReservedKey("message", n.cfg.StateField); err != nil {
					return nodes.Action{}, err
				}
				ctx.Shared[n.cfg.StateField] = i
			}
			if i == 0 {
				return nodes.Goto("true"), nil
			}
			return nodes.Goto("false"), nil
		}
	}
	return nodes.Send(
		msg,
		nodes.ConfirmationCallback("", []string{
			nodes.Localize(n.cfg.Yes, loc, "Yes"),
			nodes.Localize(n.cfg.No, loc, "No"),
		}, 1, 1),
	), nil
}
