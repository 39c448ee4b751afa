package basic

import (
	"fmt"
	"sort"

	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/nodes"
)

// SetStateConfig configures the set state node.
type SetStateConfig struct {
	// Values are written as they are.
	Values map[string]any `json:"values" doc:"Shared-state keys and the literal JSON values to write into them."`
	// Expressions are evaluated and their results written.
	Expressions map[string]string `json:"expressions" doctype:"map of expressions (by shared-state key)" doc:"Shared-state keys and the expressions whose results are written into them. Every expression sees the state as it was before this node. The expression (expr-lang.org syntax) sees shared (the flow's shared state, read-only), request (ClientIP, UserAgent, Locales, header(name)), user (username, realm, status, attributes; nil without a known user) and now (the step's time)."`
}

// Validate rejects keys a journey may not write, and a key given twice.
func (c *SetStateConfig) Validate() error {
	var ps nodes.Problems
	for _, k := range sortedKeys(c.Values) {
		if p := checkStateKey(k); p != nil {
			p.Pointer = "/values/" + pointerToken(k)
			ps = append(ps, *p)
		}
	}
	for _, k := range sortedKeys(c.Expressions) {
		if p := checkStateKey(k); p != nil {
			p.Pointer = "/expressions/" + pointerToken(k)
			ps = append(ps, *p)
		} else if _, dup := c.Values[k]; dup {
			ps = append(ps, nodes.Problem{Pointer: "/expressions/" + pointerToken(k), Message: fmt.Sprintf("%q is also set in values", k)})
		}
	}
	if len(ps) > 0 {
		return ps
	}
	return nil
}

// registerSetState adds the set_state node type to r.
func registerSetState(r *nodes.Registry) {
	nodes.Register(r, nodes.Spec[SetStateConfig]{
		Type:    "set_state",
		Title:   "Set State",
		Summary: "Writes values into the flow's shared state.",
		Description: "Writes literal values, then the results of expressions compiled when " +
			"the journey loads, into shared state, and continues. It cannot write " +
			"\"password\", keys starting with \"_\", nor keys starting with \"arbor.\" " +
			"(verified factors and node-local state are written only by nodes; " +
			"\"arbor.remember\" is the exception). An expression error fails the flow. " + exprDoc,
		Category: categoryUtility,
		Outcomes: singleOutcome,
		New:      newSetState,
	})
}

type setState struct {
	values map[string]any
	keys   []string // expression keys, sorted, for a deterministic order
	progs  map[string]*program
	users  *identity.Store
}

func newSetState(c *SetStateConfig, b *nodes.Build) (nodes.Node, error) {
	n := &setState{values: c.Values, progs: map[string]*program{}, users: usersOf(b)}
	var ps nodes.Problems
	for _, k := range sortedKeys(c.Expressions) {
		p, err := compileExpr(c.Expressions[k])
		if err != nil {
			ps = append(ps, nodes.Problem{Pointer: b.Pointer + "/expressions/" + pointerToken(k), Code: nodes.CodeBadConfig, Message: "expression does not compile: " + err.Error()})
			continue
		}
		n.keys = append(n.keys, k)
		n.progs[k] = p
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return n, nil
}

// Process runs the node for one visit of a flow (nodes.Node).
func (n *setState) Process(ctx *nodes.Context) (nodes.Action, error) {
	// A journey stored before a key became reserved was never validated against it:
	// refuse at run time too.
	for k := range n.values {
		if err := errReservedKey("set_state", k); err != nil {
			return nodes.Action{}, err
		}
	}
	for _, k := range n.keys {
		if err := errReservedKey("set_state", k); err != nil {
			return nodes.Action{}, err
		}
	}
	// Evaluate everything before writing anything: an error leaves the state untouched,
	// and every expression sees the same state.
	r := &exprRunner{users: n.users}
	results := make(map[string]any, len(n.keys))
	for _, k := range n.keys {
		v, err := r.run(ctx, n.progs[k])
		if err != nil {
			return nodes.Action{}, fmt.Errorf("set_state %q: %w", k, err)
		}
		if v, err = jsonValue(v); err != nil {
			return nodes.Action{}, fmt.Errorf("set_state %q: %w", k, err)
		}
		results[k] = v
	}
	for k, v := range n.values {
		// A copy per flow: the config's value is shared by every flow of the journey.
		ctx.Shared[k] = deepCopy(v)
	}
	for k, v := range results {
		ctx.Shared[k] = v
	}
	return nodes.Goto("outcome"), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
