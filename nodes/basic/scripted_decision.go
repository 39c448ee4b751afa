package basic

import (
	"fmt"
	"reflect"
	"slices"

	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/nodes"
)

// ScriptedDecisionConfig configures the scripted decision.
type ScriptedDecisionConfig struct {
	// Expression decides the outcome.
	Expression string `json:"expression" required:"true" min:"1" doc:"An expression that yields the outcome id, as text, or true/false when the outcomes include \"true\" and \"false\". The expression (expr-lang.org syntax) sees shared (the flow's shared state, read-only), request (ClientIP, UserAgent, Locales, header(name)), user (username, realm, status, attributes; nil without a known user) and now (the step's time)."`
	// Outcomes are the node's outcome ids.
	Outcomes []string `json:"outcomes" required:"true" min:"1" doc:"The outcome ids the expression may yield, snake_case."`
}

// Validate checks the outcome ids.
func (c *ScriptedDecisionConfig) Validate() error {
	if ps := checkOutcomeIDs("outcomes", c.Outcomes); len(ps) > 0 {
		return ps
	}
	return nil
}

// registerScriptedDecision adds the scripted_decision node type to r.
func registerScriptedDecision(r *nodes.Registry) {
	nodes.Register(r, nodes.Spec[ScriptedDecisionConfig]{
		Type:    "scripted_decision",
		Title:   "Scripted Decision",
		Summary: "Picks an outcome with an expression over the flow's state, request and user.",
		Description: "Evaluates an expression, compiled when the journey loads, and goes to " +
			"the outcome it names. The expression reads shared state, the request and the " +
			"user, and changes nothing. An error, or an outcome not in the list, fails the " +
			"flow. Like AM's Scripted Decision, with expressions instead of scripts. " + exprDoc,
		Category: categoryDecision,
		OutcomesFor: func(c *ScriptedDecisionConfig) []nodes.Outcome {
			out := make([]nodes.Outcome, len(c.Outcomes))
			for i, id := range c.Outcomes {
				out[i] = nodes.Outcome{ID: id, Label: id}
			}
			return out
		},
		New:     newScriptedDecision,
		Example: `{"expression": "user != nil && user.status == \"active\"", "outcomes": ["true", "false"]}`,
	})
}

type scriptedDecision struct {
	prog     *program
	outcomes []string
	users    *identity.Store
}

func newScriptedDecision(c *ScriptedDecisionConfig, b *nodes.Build) (nodes.Node, error) {
	prog, err := compileExpr(c.Expression)
	if err != nil {
		return nil, nodes.Problems{{Pointer: b.Pointer + "/expression", Code: nodes.CodeBadConfig, Message: "expression does not compile: " + err.Error()}}
	}
	switch k := prog.resultKind(); k {
	case reflect.Interface, reflect.String:
	case reflect.Bool:
		if !slices.Contains(c.Outcomes, "true") || !slices.Contains(c.Outcomes, "false") {
			return nil, nodes.Problems{{Pointer: b.Pointer + "/outcomes", Code: nodes.CodeBadConfig, Message: "the expression yields true or false, so the outcomes must include \"true\" and \"false\""}}
		}
	default:
		return nil, nodes.Problems{{Pointer: b.Pointer + "/expression", Code: nodes.CodeBadConfig, Message: fmt.Sprintf("the expression yields a %s; it must yield an outcome id (text) or true/false", k)}}
	}
	return &scriptedDecision{prog: prog, outcomes: c.Outcomes, users: usersOf(b)}, nil
}

// Process runs the node for one visit of a flow (nodes.Node).
func (n *scriptedDecision) Process(ctx *nodes.Context) (nodes.Action, error) {
	r := &exprRunner{users: n.users}
	v, err := r.run(ctx, n.prog)
	if err != nil {
		return nodes.Action{}, fmt.Errorf("scripted_decision: %w", err)
	}
	var outcome string
	switch t := v.(type) {
	case string:
		outcome = t
	case bool:
		outcome = fmt.Sprint(t)
	default:
		return nodes.Action{}, fmt.Errorf("scripted_decision: the expression yielded %T, not an outcome id", v)
	}
	if !slices.Contains(n.outcomes, outcome) {
		return nodes.Action{}, fmt.Errorf("scripted_decision: the expression yielded %q, which is not one of the outcomes", outcome)
	}
	return nodes.Goto(outcome), nil
}
