package basic

import (
	"fmt"
	"slices"
	"sort"

	"github.com/arbor-auth/arbor/nodes"
)

// ChoiceConfig configures the choice collector.
type ChoiceConfig struct {
	// Choices are the ids of the options, which are also the node's outcomes.
	Choices []string `json:"choices" required:"true" min:"1" doc:"The options, in the order shown. Each is a snake_case id and becomes one of the node's outcomes."`
	// Labels are the options' display texts.
	Labels map[string]map[string]string `json:"labels" doc:"Display text of each option, by choice id and then by locale. An option without a label shows its id."`
	// DefaultChoice is the option preselected.
	DefaultChoice string `json:"default_choice" doc:"The option preselected; one of choices. Without it the first option is preselected."`
	// Prompt is shown above the options, by locale.
	Prompt map[string]string `json:"prompt" default:"{\"en\":\"Choose one\"}" doc:"The question shown above the options, by locale."`
}

// Validate checks what the schema cannot: ids are snake_case and unique, and labels and
// the default refer to existing choices.
func (c *ChoiceConfig) Validate() error {
	ps := checkOutcomeIDs("choices", c.Choices)
	if c.DefaultChoice != "" && !slices.Contains(c.Choices, c.DefaultChoice) {
		ps = append(ps, nodes.Problem{Pointer: "/default_choice", Message: fmt.Sprintf("%q is not one of the choices", c.DefaultChoice)})
	}
	ids := make([]string, 0, len(c.Labels))
	for id := range c.Labels {
		ids = append(ids, id)
	}
	sort.Strings(ids) // one report order for one config
	for _, id := range ids {
		if !slices.Contains(c.Choices, id) {
			ps = append(ps, nodes.Problem{Pointer: "/labels/" + pointerToken(id), Message: fmt.Sprintf("%q is not one of the choices", id)})
		}
	}
	if len(ps) > 0 {
		return ps
	}
	return nil
}

// registerChoice adds the choice node type to r.
func registerChoice(r *nodes.Registry) {
	nodes.Register(r, nodes.Spec[ChoiceConfig]{
		Type:    "choice",
		Title:   "Choice Collector",
		Summary: "Asks the user to pick one of several options, one outcome per option.",
		Description: "Sends a ChoiceCallback with the options' labels and goes to the outcome " +
			"named by the chosen option. An answer out of range asks again. With a " +
			"single option the node takes it without asking. Like AM's Choice Collector.",
		Category:    categoryBasic,
		Input:       true,
		OutcomesFor: choiceOutcomes,
		New: func(c *ChoiceConfig, _ *nodes.Build) (nodes.Node, error) {
			return &choiceNode{cfg: *c}, nil
		},
		Example: `{"choices": ["password", "push"], "default_choice": "push"}`,
	})
}

func choiceOutcomes(c *ChoiceConfig) []nodes.Outcome {
	out := make([]nodes.Outcome, len(c.Choices))
	for i, id := range c.Choices {
		out[i] = nodes.Outcome{ID: id, Label: nodes.Localize(c.Labels[id], nil, id)}
	}
	return out
}

type choiceNode struct {
	cfg ChoiceConfig
}

// Process runs the node for one visit of a flow (nodes.Node).
func (n *choiceNode) Process(ctx *nodes.Context) (nodes.Action, error) {
	choices := n.cfg.Choices
	if len(choices) == 1 {
		return nodes.Goto(choices[0]), nil
	}
	if cb, ok := nodes.Find(ctx.Callbacks, nodes.TypeChoice); ok {
		if i, ok := cb.InInt(); ok && i >= 0 && i < len(choices) {
			return nodes.Goto(choices[i]), nil
		}
	}
	labels := make([]string, len(choices))
	for i, id := range choices {
		labels[i] = nodes.Localize(n.cfg.Labels[id], ctx.Request.Locales, id)
	}
	def := max(0, slices.Index(choices, n.cfg.DefaultChoice))
	return nodes.Send(nodes.ChoiceCallback(nodes.Localize(n.cfg.Prompt, ctx.Request.Locales, "Choose one"), labels, def)), nil
}
