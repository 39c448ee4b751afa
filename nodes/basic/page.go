package basic

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/arbor-auth/arbor/nodes"
)

// PageConfig configures a page: several nodes shown to the client as one step.
type PageConfig struct {
	// Nodes are the page's children, run in order.
	Nodes []PageChild `json:"nodes" ref:"node_list" required:"true" min:"1" doc:"The nodes on the page, run in order in one step. Every node but the last must have exactly one outcome; the page takes the last node's outcomes. A page cannot contain a page or an inner journey."`
	// Header is the page's heading, by locale.
	Header map[string]string `json:"header" doc:"Heading shown above the page's inputs, by locale."`
	// Description is the page's explanatory text, by locale.
	Description map[string]string `json:"description" doc:"Text shown under the heading, by locale."`
	// Stage is an opaque name the client may use to choose how to render the page.
	Stage string `json:"stage" doc:"Name of the page for clients that render pages themselves (AM's stage)."`
}

// PageChild is one node on a page.
type PageChild struct {
	// ID names the child inside the page; its node id is "<page id>.<id>". Without
	// one, the child's index is used.
	ID string `json:"id,omitempty"`
	// Type is the child's node type.
	Type string `json:"type"`
	// Config is the child's config, checked against the child type's schema.
	Config json.RawMessage `json:"config,omitempty"`
}

// Types a page refuses as children: a page in a page has no meaning, and an inner
// journey may route through any number of steps, which a single page step cannot hold.
var notOnPage = map[string]bool{"page": true, "inner_journey": true}

// registerPage adds the page node type to r.
func registerPage(r *nodes.Registry) {
	nodes.Register(r, nodes.Spec[PageConfig]{
		Type:    "page",
		Title:   "Page",
		Summary: "Shows several nodes to the client as one step.",
		Description: "Runs its nodes in order within one request and sends the callbacks " +
			"of all that ask for input together, with the page's header, description and " +
			"stage. On submit each node gets back its own answers. When none asks again, " +
			"the page follows the last node's outcome; the other nodes must have a single " +
			"outcome. Like AM's Page Node, except that nodes which never ask for input " +
			"(decisions, set state) and come after one that asks run only once the " +
			"page's answers are all in, never on a state still missing them.",
		Category: categoryBasic,
		Input:    true,
		// A page's outcomes are its last child's, known only once the children are
		// built: the built page reports them (nodes.OutcomeLister). Declaring
		// OutcomesFor marks the type's outcomes as dynamic in the palette.
		OutcomesFor: func(*PageConfig) []nodes.Outcome { return nil },
		New:         newPage,
		Example:     `{"nodes": [{"type": "username"}, {"type": "password"}]}`,
	})
}

type pageChild struct {
	key   string // the child's id within the page
	id    string // its node id, "<page id>.<key>", for the page id it was built with
	node  nodes.Node
	input bool // whether the child's type may ask for input
}

type pageNode struct {
	// id is the node id the page was built with, and layoutKey its private layout key:
	// the ids a step runs with are these, so the children's ids and the key are made
	// once instead of on every step (a step under another id makes its own).
	id, layoutKey string
	children      []pageChild
	outcomes      []nodes.Outcome
	header        map[string]string
	description   map[string]string
	stage         string
}

// completingPage is a page with a child that acts on the end of the flow
// (nodes.Completer). Only such a page is a Completer itself: the engine builds a node
// context (two allocations) for each Completer of a journey at every flow's end, and a
// login page's children do not act on it.
type completingPage struct{ *pageNode }

// Complete passes the end of the flow on to the page's children that act on it.
func (p completingPage) Complete(ctx *nodes.Context, success bool) error {
	var errs []error
	for _, ch := range p.children {
		if c, ok := ch.node.(nodes.Completer); ok {
			cctx := *ctx
			cctx.NodeID = ctx.NodeID + "." + ch.key
			errs = append(errs, c.Complete(&cctx, success))
		}
	}
	return errors.Join(errs...)
}

func newPage(c *PageConfig, b *nodes.Build) (nodes.Node, error) {
	p := &pageNode{header: c.Header, description: c.Description, stage: c.Stage,
		id: b.NodeID, layoutKey: (&nodes.Context{NodeID: b.NodeID}).LocalKey("layout")}
	var ps nodes.Problems
	seen := map[string]bool{}
	last := len(c.Nodes) - 1
	for i, ch := range c.Nodes {
		ptr := b.Pointer + "/nodes/" + strconv.Itoa(i)
		key := ch.ID
		if key == "" {
			key = strconv.Itoa(i)
		}
		if seen[key] {
			ps = append(ps, nodes.Problem{Pointer: ptr + "/id", Code: nodes.CodeBadConfig, Message: fmt.Sprintf("the id %q is used by another node on this page", key)})
			continue
		}
		seen[key] = true
		info, ok := b.Registry.Lookup(ch.Type)
		if !ok {
			ps = append(ps, nodes.Problem{Pointer: ptr + "/type", Code: nodes.CodeUnknownType, Message: fmt.Sprintf("unknown node type %q", ch.Type)})
			continue
		}
		if notOnPage[ch.Type] {
			ps = append(ps, nodes.Problem{Pointer: ptr + "/type", Code: nodes.CodeNotAllowedHere, Message: fmt.Sprintf("a page cannot contain a %s node", ch.Type)})
			continue
		}
		n, outs, err := b.Child(b.NodeID+"."+key, ptr+"/config", "page", ch.Type, ch.Config)
		if err != nil {
			var cps nodes.Problems
			if asProblems(err, &cps) {
				ps = append(ps, cps...)
			} else {
				ps = append(ps, nodes.Problem{Pointer: ptr, Code: nodes.CodeBadConfig, Message: err.Error()})
			}
			continue
		}
		if i != last && len(outs) != 1 {
			ps = append(ps, nodes.Problem{Pointer: ptr, Code: nodes.CodeNotAllowedHere,
				Message: fmt.Sprintf("only the last node on a page may have several outcomes; this %s node has %d", ch.Type, len(outs))})
			continue
		}
		if i == last {
			p.outcomes = outs
		}
		p.children = append(p.children, pageChild{key: key, id: b.NodeID + "." + key, node: n, input: info.Input})
	}
	if len(ps) > 0 {
		return nil, ps
	}
	for _, ch := range p.children {
		if _, ok := ch.node.(nodes.Completer); ok {
			return completingPage{p}, nil
		}
	}
	return p, nil
}

// Outcomes returns the last child's outcomes.
func (p *pageNode) Outcomes() []nodes.Outcome { return p.outcomes }

// Process runs the children. The layout saved in shared state while the page waits
// records how many callbacks each child sent, so that on submit each child gets exactly
// its own answers back, in order.
//
// Unlike AM, once a child has asked for input the page does not run the children after
// it that can never ask (decisions, state writers): they would act on a state that is
// not complete yet (no password), and they run on the submit that completes it.
func (p *pageNode) Process(ctx *nodes.Context) (nodes.Action, error) {
	// Children write into the page's state maps through copies of ctx, so the maps must
	// exist before the copies are made.
	if ctx.Shared == nil {
		ctx.Shared = nodes.State{}
	}
	if ctx.Transient == nil {
		ctx.Transient = nodes.State{}
	}
	layoutKey := p.layoutKey
	if ctx.NodeID != p.id {
		layoutKey = ctx.LocalKey("layout")
	}
	var answers [][]nodes.Callback
	if ctx.Callbacks != nil {
		answers = p.split(ctx.Shared[layoutKey], ctx.Callbacks)
	}

	// Each child's run (its context, what it sent, whether it routed) in one allocation
	// for the whole page: a page runs on every step of a login.
	runs := make([]childRun, len(p.children))
	asked := false
	var outcome, failure string
	for i, ch := range p.children {
		if asked && !ch.input {
			continue
		}
		var mine []nodes.Callback
		if answers != nil {
			mine = answers[i]
		}
		act, err := ch.node.Process(runs[i].context(ctx, p, &p.children[i], mine))
		if err != nil {
			return nodes.Action{}, fmt.Errorf("page child %q: %w", ch.key, err)
		}
		if act.FailureMessage != "" {
			failure = act.FailureMessage
		}
		if len(act.Callbacks) > 0 {
			asked = true
			runs[i].sent = act.Callbacks
			continue
		}
		if act.Outcome == "" {
			return nodes.Action{}, fmt.Errorf("page child %q neither routed nor asked for input", ch.key)
		}
		runs[i].routed = mine != nil
		outcome = act.Outcome
	}

	if !asked {
		delete(ctx.Shared, layoutKey)
		return nodes.Action{Outcome: outcome, FailureMessage: failure}, nil
	}

	// Someone asks again: the page is sent whole once more, so the children that took
	// their answers this time are asked afresh for their callbacks.
	for i, ch := range p.children {
		if !runs[i].routed || !ch.input {
			continue
		}
		// A context of its own, not runs[i]'s again: the child saw that one.
		act, err := ch.node.Process(new(childRun).context(ctx, p, &p.children[i], nil))
		if err != nil {
			return nodes.Action{}, fmt.Errorf("page child %q: %w", ch.key, err)
		}
		if act.FailureMessage != "" {
			failure = act.FailureMessage
		}
		runs[i].sent = act.Callbacks
	}

	// The layout (how many callbacks each child sent) is made only for a page that asks:
	// a page whose children all routed needs none.
	counts := make([]int, len(p.children))
	n := 0
	for i := range runs {
		counts[i] = len(runs[i].sent)
		n += counts[i]
	}
	all := make([]nodes.Callback, 0, n)
	for i := range runs {
		all = append(all, runs[i].sent...)
	}
	ctx.Shared[layoutKey] = counts
	return nodes.Action{
		Callbacks:      all,
		Header:         nodes.Localize(p.header, ctx.Request.Locales, ""),
		Description:    nodes.Localize(p.description, ctx.Request.Locales, ""),
		Stage:          p.stage,
		FailureMessage: failure,
	}, nil
}

// childRun is one child's run within a step of the page: the context it runs with
// (with its logger and the logger's attribute, so that they take no allocations of their
// own), the callbacks it sent and whether it routed after consuming its answers.
type childRun struct {
	ctx    nodes.Context
	log    slog.Logger
	attr   [1]slog.Attr
	sent   []nodes.Callback
	routed bool
}

// context fills r's context for child ch of page p and returns it: the page's flow and
// state, the child's own node id and answers, and the page's logger with the child's
// key.
func (r *childRun) context(ctx *nodes.Context, p *pageNode, ch *pageChild, cbs []nodes.Callback) *nodes.Context {
	r.ctx = *ctx
	if ctx.NodeID == p.id {
		r.ctx.NodeID = ch.id
	} else {
		r.ctx.NodeID = ctx.NodeID + "." + ch.key
	}
	r.ctx.Callbacks = cbs
	if ctx.Log != nil {
		r.attr[0] = slog.String("page_child", ch.key)
		r.log = *slog.New(ctx.Log.Handler().WithAttrs(r.attr[:]))
		r.ctx.Log = &r.log
	}
	return &r.ctx
}

// split cuts the submitted callbacks into each child's share by the saved layout. It
// returns nil when the layout is missing or does not match what came back (the page
// changed, or state from an older step): the page then starts over and asks again,
// which is always safe because no child has consumed an answer.
func (p *pageNode) split(saved any, cbs []nodes.Callback) [][]nodes.Callback {
	counts, ok := layoutCounts(saved)
	if !ok || len(counts) != len(p.children) {
		return nil
	}
	total := 0
	for _, n := range counts {
		if n < 0 {
			return nil
		}
		total += n
	}
	if total != len(cbs) {
		return nil
	}
	out := make([][]nodes.Callback, len(counts))
	off := 0
	for i, n := range counts {
		if n > 0 {
			out[i] = cbs[off : off+n : off+n]
		}
		off += n
	}
	return out
}

// layoutCounts reads a saved layout, as written ([]int) or after a JSON round trip
// through the flow store ([]any of float64).
func layoutCounts(v any) ([]int, bool) {
	switch t := v.(type) {
	case []int:
		return t, true
	case []any:
		out := make([]int, len(t))
		for i, e := range t {
			n, ok := number(e)
			if !ok {
				return nil, false
			}
			out[i] = n
		}
		return out, true
	}
	return nil, false
}
