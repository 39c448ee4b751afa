package basic

import (
	"github.com/arbor-auth/arbor/nodes"
)

// PasswordConfig configures the password collector.
type PasswordConfig struct {
	// Prompt is the label of the input, by locale.
	Prompt map[string]string `json:"prompt" default:"{\"en\":\"Password\"}" doc:"Label of the password input, by locale."`
}

// registerPassword adds the password node type to r.
func registerPassword(r *nodes.Registry) {
	nodes.Register(r, nodes.Spec[PasswordConfig]{
		Type:    "password",
		Title:   "Password Collector",
		Summary: "Asks for a password and keeps it for this request only.",
		Description: "Sends a PasswordCallback. A non-empty answer is kept in transient " +
			"state as \"password\", which lives for the current HTTP request only and is " +
			"never persisted or shared; an empty one is asked again. Put the nodes that " +
			"use the password (a data store decision) right after it, or in the same page. " +
			"Like AM's Password Collector.",
		Category: categoryBasic,
		Input:    true,
		Outcomes: singleOutcome,
		New: func(c *PasswordConfig, _ *nodes.Build) (nodes.Node, error) {
			return &passwordNode{prompt: c.Prompt}, nil
		},
	})
}

type passwordNode struct {
	prompt map[string]string
}

// Process runs the node for one visit of a flow (nodes.Node).
func (n *passwordNode) Process(ctx *nodes.Context) (nodes.Action, error) {
	if cb, ok := nodes.Find(ctx.Callbacks, nodes.TypePassword); ok {
		// Not trimmed: spaces may be part of a password. A string is kept as it came,
		// already boxed (storing a string in the state would box a copy); anything
		// else is formatted, as InString does.
		pw := cb.In("")
		if _, ok := pw.(string); !ok {
			pw = cb.InString()
		}
		if pw != "" {
			if ctx.Transient == nil {
				ctx.Transient = nodes.State{}
			}
			ctx.Transient[nodes.KeyPassword] = pw
			return nodes.Goto("outcome"), nil
		}
	}
	return nodes.Send(nodes.PasswordCallback(nodes.Localize(n.prompt, ctx.Request.Locales, "Password"))), nil
}
