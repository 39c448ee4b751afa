package viewer

import (
	"bytes"
	"encoding/json"
	"errors"
	"sort"
	"strings"

	"github.com/arbor-auth/arbor/journeys"
	"github.com/arbor-auth/arbor/nodes"
)

// Vertex kinds. A journey node is drawn as a box, the terminals as their own shapes, and
// a target that names no node (a dangling outcome) as a dashed placeholder so that the
// broken edge still has somewhere to point.
const (
	KindNode    = "node"
	KindSuccess = "success"
	KindFailure = "failure"
	KindMissing = "missing"
)

// Graph is what the viewer draws, and the body of graph.json and of the validate
// endpoint: the journey's vertices and edges, every validation problem, and the docs of
// the node types it uses.
type Graph struct {
	// Name and Description are the journey's, as written in the document.
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Version is the repository version drawn; 0 for a document that is not stored.
	Version int `json:"version"`
	// Start is the id of the start node as written.
	Start string `json:"start"`
	// Valid reports that the document parsed and compiled against this server's node
	// types with no problem.
	Valid bool `json:"valid"`
	// Nodes are the vertices: journey nodes first (breadth first from start, so the
	// layout reads in walking order), then the terminals, then placeholders.
	Nodes []Vertex `json:"nodes"`
	// Edges are the connected outcomes, one per outcome.
	Edges []Edge `json:"edges"`
	// Problems are every problem found, node-bound or not, in pointer order.
	Problems []Problem `json:"problems"`
	// Types documents each node type the journey uses that this server knows.
	Types map[string]TypeDoc `json:"types"`
}

// Vertex is one shape of the graph.
type Vertex struct {
	// Key identifies the vertex within the graph: "node:<id>", "terminal:success",
	// "terminal:failure" or "missing:<id>". Ids alone are not enough: an invalid
	// document may name a node "success", and that node is not the terminal.
	Key string `json:"key"`
	// ID is the node id (or the terminal's name, or the missing target).
	ID string `json:"id"`
	// Kind is one of KindNode, KindSuccess, KindFailure and KindMissing.
	Kind string `json:"kind"`
	// Type and Title are the node's, for journey nodes.
	Type  string `json:"type,omitempty"`
	Title string `json:"title,omitempty"`
	// Start marks the journey's start node.
	Start bool `json:"start,omitempty"`
	// Config is the node's configuration as written (null when it has none).
	Config json.RawMessage `json:"config,omitempty"`
	// Outcomes lists the node's outcomes: those its type declares, in declaration
	// order, then any the document connects that the type does not have.
	Outcomes []OutcomeRef `json:"outcomes,omitempty"`
	// Problems are the problems whose pointer lies inside this node.
	Problems []Problem `json:"problems,omitempty"`
}

// OutcomeRef is one outcome of a node and where it leads.
type OutcomeRef struct {
	// ID is the outcome id journeys connect.
	ID string `json:"id"`
	// Label is the type's display name for it, when the type declares it.
	Label string `json:"label,omitempty"`
	// To is the node id or terminal it leads to; empty when not connected.
	To string `json:"to,omitempty"`
	// Declared reports that the node's type has this outcome.
	Declared bool `json:"declared"`
}

// Edge is a connected outcome.
type Edge struct {
	// From and To are vertex keys.
	From string `json:"from"`
	To   string `json:"to"`
	// Label is the outcome id, as the journey author wrote it.
	Label string `json:"label"`
	// Problem marks an edge a problem points at (an outcome the type does not have, a
	// target that does not exist).
	Problem bool `json:"problem,omitempty"`
}

// Problem is a validation problem placed on the graph.
type Problem struct {
	nodes.Problem
	// Node is the id of the journey node the pointer lies in, if any.
	Node string `json:"node,omitempty"`
	// Outcome is the outcome id, when the pointer names one of the node's outcomes.
	Outcome string `json:"outcome,omitempty"`
}

// TypeDoc is the documentation of a node type shown in the side panel: the palette
// docs from the type's single declaration, without its schema.
type TypeDoc struct {
	Type        string           `json:"type"`
	Title       string           `json:"title"`
	Summary     string           `json:"summary"`
	Description string           `json:"description,omitempty"`
	Category    string           `json:"category"`
	Input       bool             `json:"input"`
	Outcomes    []nodes.Outcome  `json:"outcomes,omitempty"`
	Dynamic     bool             `json:"dynamic_outcomes,omitempty"`
	Fields      []nodes.FieldDoc `json:"fields"`
}

// Terminal vertex keys.
const (
	keySuccess = "terminal:" + journeys.Success
	keyFailure = "terminal:" + journeys.Failure
)

func nodeKey(id string) string    { return "node:" + id }
func missingKey(id string) string { return "missing:" + id }

// BuildGraph parses and compiles doc against opts (the server's node registry) and
// returns the graph to draw with every problem placed on it. It never fails: a document
// that cannot be read at all yields a graph with only the terminals and its problems.
//
// The strict parser refuses a document with any format problem, yet the author still
// wants to see the rest of it, so the graph is then drawn from a lenient decode and the
// strict parser's problems are shown on it.
func BuildGraph(doc []byte, version int, opts journeys.CompileOptions) *Graph {
	g := &Graph{Version: version, Types: map[string]TypeDoc{}}
	j, ps := journeys.Parse(doc)
	var compiled *journeys.Compiled
	if ps == nil {
		compiled, ps = journeys.Compile(j, opts)
	} else {
		j = lenientDecode(doc)
	}
	g.Valid = len(ps) == 0
	if j == nil {
		j = &journeys.Journey{}
	}
	g.Name, g.Description, g.Start = j.Name, j.Description, j.Start

	for _, id := range walkOrder(j) {
		n := j.Nodes[id]
		v := Vertex{Key: nodeKey(id), ID: id, Kind: KindNode, Type: n.Type, Title: n.Title, Start: id == j.Start}
		if len(bytes.TrimSpace(n.Config)) > 0 {
			v.Config = n.Config
		}
		info, known := opts.Registry.Lookup(n.Type)
		if known {
			g.Types[n.Type] = typeDoc(info)
		}
		v.Outcomes = outcomesOf(j, id, compiled, info, opts)
		g.Nodes = append(g.Nodes, v)
	}
	g.Nodes = append(g.Nodes,
		Vertex{Key: keySuccess, ID: journeys.Success, Kind: KindSuccess},
		Vertex{Key: keyFailure, ID: journeys.Failure, Kind: KindFailure})

	index := map[string]int{}
	for i, v := range g.Nodes {
		index[v.Key] = i
	}
	edgeAt := map[[2]string]int{} // (node id, outcome) -> index in g.Edges
	for _, v := range g.Nodes {
		if v.Kind != KindNode {
			continue
		}
		for _, o := range v.Outcomes {
			if o.To == "" {
				continue
			}
			to := targetKey(j, o.To)
			if _, ok := index[to]; !ok {
				index[to] = len(g.Nodes)
				g.Nodes = append(g.Nodes, Vertex{Key: to, ID: o.To, Kind: KindMissing})
			}
			edgeAt[[2]string{v.ID, o.ID}] = len(g.Edges)
			g.Edges = append(g.Edges, Edge{From: v.Key, To: to, Label: o.ID})
		}
	}

	g.Problems = make([]Problem, 0, len(ps))
	for _, p := range ps {
		pp := placeProblem(p, j)
		if pp.Node != "" {
			vi := index[nodeKey(pp.Node)]
			g.Nodes[vi].Problems = append(g.Nodes[vi].Problems, pp)
			if ei, ok := edgeAt[[2]string{pp.Node, pp.Outcome}]; ok && pp.Outcome != "" {
				g.Edges[ei].Problem = true
			}
		}
		g.Problems = append(g.Problems, pp)
	}
	if g.Edges == nil {
		g.Edges = []Edge{}
	}
	return g
}

// lenientDecode reads as much of a document as plain encoding/json can, ignoring
// unknown fields and skipping values of the wrong type, so a graph can be drawn of a
// document the strict parser refused. It returns nil if the text is not a JSON object.
func lenientDecode(doc []byte) *journeys.Journey {
	var j journeys.Journey
	err := json.Unmarshal(doc, &j)
	var te *json.UnmarshalTypeError
	if err != nil && !errors.As(err, &te) {
		return nil
	}
	// A node decoded from a value of the wrong type is left zero; keep it, so that the
	// problem reported at its pointer still has a vertex to land on.
	return &j
}

// walkOrder returns the node ids breadth first from start, following outcomes in
// sorted order, then any node not reached, sorted. Laying out in this order keeps the
// drawing stable from one load to the next and reads top-down in walking order.
func walkOrder(j *journeys.Journey) []string {
	out := make([]string, 0, len(j.Nodes))
	seen := map[string]bool{}
	if _, ok := j.Nodes[j.Start]; ok {
		seen[j.Start] = true
		queue := []string{j.Start}
		for len(queue) > 0 {
			id := queue[0]
			queue = queue[1:]
			out = append(out, id)
			for _, o := range sortedKeys(j.Nodes[id].Outcomes) {
				t := j.Nodes[id].Outcomes[o]
				if _, isNode := j.Nodes[t]; isNode && !seen[t] {
					seen[t] = true
					queue = append(queue, t)
				}
			}
		}
	}
	for _, id := range sortedKeys(j.Nodes) {
		if !seen[id] {
			out = append(out, id)
		}
	}
	return out
}

// outcomesOf lists node id's outcomes: the ones its type declares (from the compiled
// journey when it compiled; otherwise by building the node alone, which gives outcomes
// that depend on config; otherwise the type's fixed list), then the document's others.
func outcomesOf(j *journeys.Journey, id string, c *journeys.Compiled, info *nodes.TypeInfo, opts journeys.CompileOptions) []OutcomeRef {
	n := j.Nodes[id]
	var declared []nodes.Outcome
	switch {
	case c != nil && c.Steps[id] != nil:
		declared = c.Steps[id].Outcomes
	case info != nil:
		b := &nodes.Build{Deps: opts.Deps, Registry: opts.Registry, Journey: j.Name, NodeID: id,
			Pointer: "/nodes/" + escapePointer(id) + "/config", Lookup: opts.Lookup}
		if _, outs, err := opts.Registry.Build(n.Type, n.Config, b); err == nil {
			declared = outs
		} else {
			declared = info.Outcomes
		}
	}
	out := make([]OutcomeRef, 0, len(declared)+len(n.Outcomes))
	have := map[string]bool{}
	for _, o := range declared {
		have[o.ID] = true
		out = append(out, OutcomeRef{ID: o.ID, Label: o.Label, To: n.Outcomes[o.ID], Declared: true})
	}
	for _, o := range sortedKeys(n.Outcomes) {
		if !have[o] {
			out = append(out, OutcomeRef{ID: o, To: n.Outcomes[o]})
		}
	}
	return out
}

// targetKey is the vertex key of an outcome's target. The terminals win over a node of
// the same name, as they do in the engine.
func targetKey(j *journeys.Journey, target string) string {
	switch target {
	case journeys.Success:
		return keySuccess
	case journeys.Failure:
		return keyFailure
	}
	if _, ok := j.Nodes[target]; ok {
		return nodeKey(target)
	}
	return missingKey(target)
}

// placeProblem ties a problem to the node its pointer lies in (/nodes/<id>/...) and, for
// /nodes/<id>/outcomes/<outcome>, to that outcome's edge. Pointers elsewhere (/start,
// /name, /nodes itself) stay journey-wide.
func placeProblem(p nodes.Problem, j *journeys.Journey) Problem {
	out := Problem{Problem: p}
	toks := splitPointer(p.Pointer)
	if len(toks) < 2 || toks[0] != "nodes" {
		return out
	}
	if _, ok := j.Nodes[toks[1]]; !ok {
		return out
	}
	out.Node = toks[1]
	if len(toks) >= 4 && toks[2] == "outcomes" {
		out.Outcome = toks[3]
	}
	return out
}

// splitPointer splits an RFC 6901 JSON pointer into unescaped tokens.
func splitPointer(ptr string) []string {
	if !strings.HasPrefix(ptr, "/") {
		return nil
	}
	toks := strings.Split(ptr[1:], "/")
	for i, t := range toks {
		toks[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return toks
}

func escapePointer(tok string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
}

func typeDoc(t *nodes.TypeInfo) TypeDoc {
	return TypeDoc{Type: t.Type, Title: t.Title, Summary: t.Summary, Description: t.Description,
		Category: t.Category, Input: t.Input, Outcomes: t.Outcomes, Dynamic: t.Dynamic, Fields: t.Fields}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
