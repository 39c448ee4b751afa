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

func init() {
	add(func(r *nodes.Registry) {
		nodes.Register(r, nodes.Spec[MessageConfig]{
			Type:    "message",
			Title:   "Message",
			Summary: "Shows a message with a yes and a no button.",
			Description: "Sends a TextOutputCallback with the message and a ConfirmationCallback " +
				"with the two buttons (\"no\" preselected). Yes goes to \"true\", no to \"false\"; " +
				"any other answer shows the message again. With state_field the chosen index " +
				"is also stored in shared state. Like AM's Message Node.",
			Category: categoryBasic,
			Input:    true,
			Outcomes: decisionOutcome,
			New: func(c *MessageConfig, _ *nodes.Build) (nodes.Node, error) {
				return &messageNode{cfg: *c}, nil
			},
		})
	})
}

type messageNode struct {
	cfg MessageConfig
}

// Process runs the node for one visit of a flow (nodes.Node).
func (n *messageNode) Process(ctx *nodes.Context) (nodes.Action, error) {
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
	loc := ctx.Request.Locales
	return nodes.Send(
		nodes.TextOutputCallback(nodes.Localize(n.cfg.Message, loc, "Continue?"), nodes.MessageInfo),
		nodes.ConfirmationCallback("", []string{
			nodes.Localize(n.cfg.Yes, loc, "Yes"),
			nodes.Localize(n.cfg.No, loc, "No"),
		}, 1, 1),
	), nil
}
