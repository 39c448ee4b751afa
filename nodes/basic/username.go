package basic

import (
	"strings"

	"github.com/arbor-auth/arbor/nodes"
)

// UsernameConfig configures the username collector.
type UsernameConfig struct {
	// Prompt is the label of the input, by locale.
	Prompt map[string]string `json:"prompt" default:"{\"en\":\"User Name\"}" doc:"Label of the user name input, by locale (\"en\", \"fr\", ...)."`
}

// registerUsername adds the username node type to r.
func registerUsername(r *nodes.Registry) {
	nodes.Register(r, nodes.Spec[UsernameConfig]{
		Type:    "username",
		Title:   "Username Collector",
		Summary: "Asks for a user name and keeps it in shared state.",
		Description: "Sends a NameCallback. A non-empty answer (surrounding spaces removed) " +
			"is stored in shared state as \"username\"; an empty one is asked again. When the " +
			"flow already has a user name (a retry), the input is preset to it. " +
			"Like AM's Username Collector.",
		Category: categoryBasic,
		Input:    true,
		Outcomes: singleOutcome,
		New: func(c *UsernameConfig, _ *nodes.Build) (nodes.Node, error) {
			return &usernameNode{prompt: c.Prompt}, nil
		},
	})
}

type usernameNode struct {
	prompt map[string]string
}

// Process runs the node for one visit of a flow (nodes.Node).
func (n *usernameNode) Process(ctx *nodes.Context) (nodes.Action, error) {
	if cb, ok := nodes.Find(ctx.Callbacks, nodes.TypeName); ok {
		// Spaces around a name are typing accidents, never part of an account name.
		if name := strings.TrimSpace(cb.InString()); name != "" {
			// The boxed string as it came when trimming left it whole: boxing name
			// again would copy it.
			v := cb.In("")
			if in, ok := v.(string); !ok || in != name {
				v = name
			}
			ctx.Shared[nodes.KeyUsername] = v
			return nodes.Goto("outcome"), nil
		}
	}
	cb := nodes.NameCallback(nodes.Localize(n.prompt, ctx.Request.Locales, "User Name"))
	// Asked again after a failed attempt, the name the user typed is kept.
	cb.Input[0].Value = ctx.Username()
	return nodes.Send(cb), nil
}
