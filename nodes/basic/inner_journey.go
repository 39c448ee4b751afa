package basic

import (
	"errors"
	"fmt"

	"github.com/arbor-auth/arbor/nodes"
)

// InnerJourneyConfig configures the inner journey node.
type InnerJourneyConfig struct {
	// Journey names the journey to run.
	Journey string `json:"journey" required:"true" min:"1" doc:"Name of the journey to run inside this one. It sees this flow's shared state, and what it writes there stays after it ends."`
}

// registerInnerJourney adds the inner_journey node type to r.
func registerInnerJourney(r *nodes.Registry) {
	nodes.Register(r, nodes.Spec[InnerJourneyConfig]{
		Type:    "inner_journey",
		Title:   "Inner Journey",
		Summary: "Runs another journey as one step of this one.",
		Description: "Runs the named journey inside this flow, passing on its callbacks, and " +
			"goes to \"true\" when it reaches success and \"false\" when it reaches failure. " +
			"A journey cannot run itself, directly or through other inner journeys. Like " +
			"AM's Inner Tree Evaluator.",
		Category: categoryUtility,
		Input:    true,
		Outcomes: decisionOutcome,
		New:      newInnerJourney,
		Example:  `{"journey": "login"}`,
	})
}

type innerJourney struct {
	journey string
	runner  nodes.InnerRunner
}

func newInnerJourney(c *InnerJourneyConfig, b *nodes.Build) (nodes.Node, error) {
	ptr := b.Pointer + "/journey"
	if c.Journey == b.Journey {
		return nil, nodes.Problems{{Pointer: ptr, Code: nodes.CodeRecursiveJourney, Message: fmt.Sprintf("journey %q cannot run itself", c.Journey)}}
	}
	if b.Lookup != nil && !b.Lookup(c.Journey) {
		return nil, nodes.Problems{{Pointer: ptr, Code: nodes.CodeUnknownJourney, Message: fmt.Sprintf("there is no journey named %q", c.Journey)}}
	}
	return &innerJourney{journey: c.Journey, runner: innerOf(b)}, nil
}

// Process runs the node for one visit of a flow (nodes.Node).
func (n *innerJourney) Process(ctx *nodes.Context) (nodes.Action, error) {
	if n.runner == nil {
		return nodes.Action{}, errors.New("inner_journey: no journey runner configured")
	}
	return n.runner.RunInner(ctx, n.journey, ctx.LocalKey("inner"))
}
