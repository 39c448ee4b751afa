// Package journeys holds the journey model: the native JSON format, the strict parser,
// the validator that reports every problem with a JSON pointer, code and message, the
// JSON Schema of the whole format generated from the node registry, and the versioned
// repository journeys are stored in.
//
// A journey that fails validation can never run: the repository refuses to save it, and
// the engine only ever sees Compiled journeys.
package journeys

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/arbor-auth/arbor/nodes"
)

// Terminal node ids. They are reserved: no node may use them as its id.
const (
	Success = "success"
	Failure = "failure"
)

// DefaultTimeout is how long a flow may take from start to end when the journey does not
// say otherwise.
const DefaultTimeout = 5 * time.Minute

// Journey is the native journey document.
type Journey struct {
	// Name identifies the journey: lower case letters, digits, '-' and '_'.
	Name string `json:"name"`
	// Description says what the journey is for.
	Description string `json:"description,omitempty"`
	// Start is the id of the first node.
	Start string `json:"start"`
	// Timeout bounds a flow's lifetime, as a Go duration ("5m"); empty means DefaultTimeout.
	Timeout string `json:"timeout,omitempty"`
	// Nodes maps the author's node ids to nodes.
	Nodes map[string]Node `json:"nodes"`
}

// Node is one node of a journey.
type Node struct {
	// Type is the node type, for example "page" or "push_sender".
	Type string `json:"type"`
	// Title is an optional display name for viewers.
	Title string `json:"title,omitempty"`
	// Config is the type's configuration.
	Config json.RawMessage `json:"config,omitempty"`
	// Outcomes maps each outcome id of the node to a node id or a terminal.
	Outcomes map[string]string `json:"outcomes,omitempty"`
}

// TimeoutDuration returns the journey's flow timeout.
func (j *Journey) TimeoutDuration() time.Duration {
	if d, err := time.ParseDuration(j.Timeout); err == nil && d > 0 {
		return d
	}
	return DefaultTimeout
}

var (
	nameRe   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	nodeIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
)

// ValidName reports whether s can name a journey.
func ValidName(s string) bool { return nameRe.MatchString(s) }

// Parse decodes a journey document strictly. Every problem found is returned as
// nodes.Problems: a syntax error (with its line and column), a field the format does not
// have, a value of the wrong type. Parse checks the format only; Compile checks the graph
// and each node's config.
func Parse(data []byte) (*Journey, nodes.Problems) {
	j, ps := parse(data)
	if ps != nil {
		return nil, ps
	}
	return j, nil
}

// parse is Parse, but it also returns the journey when the only problems are fields the
// format does not have, so that Load can report the graph's problems in the same run.
func parse(data []byte) (*Journey, nodes.Problems) {
	if ps := checkSyntax(data); ps != nil {
		return nil, ps
	}
	ps := checkEnvelope(data)
	strict := len(ps) == 0
	var j Journey
	dec := json.NewDecoder(bytes.NewReader(data))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(&j); err != nil {
		if strict {
			return nil, nodes.Problems{{Code: nodes.CodeBadJSON, Message: err.Error()}}
		}
		return nil, ps
	}
	if dec.More() {
		return nil, append(ps, nodes.Problem{Code: nodes.CodeBadJSON, Message: "data after the journey object"})
	}
	for _, p := range ps {
		if !strings.HasPrefix(p.Message, "unknown field ") {
			return nil, ps // a value of the wrong shape: the graph cannot be trusted
		}
	}
	return &j, ps
}

func checkSyntax(data []byte) nodes.Problems {
	var v any
	err := json.Unmarshal(data, &v)
	if err == nil {
		if _, ok := v.(map[string]any); !ok {
			return nodes.Problems{{Code: nodes.CodeBadJSON, Message: "a journey is a JSON object"}}
		}
		return nil
	}
	msg := err.Error()
	var se *json.SyntaxError
	if errorsAs(err, &se) {
		line, col := position(data, se.Offset)
		msg = fmt.Sprintf("line %d, column %d: %s", line, col, se.Error())
	}
	return nodes.Problems{{Code: nodes.CodeBadJSON, Message: msg}}
}

func position(data []byte, off int64) (line, col int) {
	line, col = 1, 1
	for i := int64(0); i < off && i < int64(len(data)); i++ {
		if data[i] == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// Step is a node of a compiled journey: the built node and where its outcomes lead.
type Step struct {
	ID       string
	Type     string
	Title    string
	Node     nodes.Node
	Outcomes []nodes.Outcome
	Next     map[string]string
}

// Compiled is a validated journey with every node built, ready to run. It is immutable
// and shared by every flow pinned to its version.
type Compiled struct {
	Journey *Journey
	// Version is the repository version (0 when compiled outside a repository).
	Version int
	// Raw is the document as stored.
	Raw   json.RawMessage
	Steps map[string]*Step
	// Timeout is the flow lifetime.
	Timeout time.Duration
}

// CompileOptions carry what building nodes needs.
type CompileOptions struct {
	Registry *nodes.Registry
	Deps     *nodes.Deps
	// Lookup reports whether another journey exists (for inner_journey); nil skips the check.
	Lookup func(name string) bool
}

// Compile validates j completely and builds its nodes. It returns every problem found:
// a bad name or start, reserved ids, unknown node types, bad configs, unconnected
// outcomes, outcomes the type does not have, dangling targets and unreachable nodes.
func Compile(j *Journey, opts CompileOptions) (*Compiled, nodes.Problems) {
	var ps nodes.Problems
	add := func(ptr, code, format string, args ...any) {
		ps = append(ps, nodes.Problem{Pointer: ptr, Code: code, Message: fmt.Sprintf(format, args...)})
	}
	if !ValidName(j.Name) {
		add("/name", nodes.CodeBadName, "journey name %q must be 1-64 lower case letters, digits, '-' or '_', starting with a letter or digit", j.Name)
	}
	if j.Timeout != "" {
		if d, err := time.ParseDuration(j.Timeout); err != nil || d <= 0 {
			add("/timeout", nodes.CodeBadConfig, "timeout %q is not a positive duration like \"5m\"", j.Timeout)
		}
	}
	if len(j.Nodes) == 0 {
		add("/nodes", nodes.CodeMissingStart, "a journey needs at least one node")
	}
	switch {
	case j.Start == "":
		add("/start", nodes.CodeMissingStart, "start is missing")
	case j.Start == Success || j.Start == Failure:
		add("/start", nodes.CodeMissingStart, "start must be a node, not the terminal %q", j.Start)
	default:
		if _, ok := j.Nodes[j.Start]; !ok && len(j.Nodes) > 0 {
			add("/start", nodes.CodeMissingStart, "start node %q does not exist", j.Start)
		}
	}
	c := &Compiled{Journey: j, Steps: map[string]*Step{}, Timeout: j.TimeoutDuration()}
	for _, id := range sortedKeys(j.Nodes) {
		n := j.Nodes[id]
		ptr := "/nodes/" + escape(id)
		if id == Success || id == Failure {
			add(ptr, nodes.CodeReservedID, "%q is a reserved terminal and cannot be a node id", id)
			continue
		}
		if !nodeIDRe.MatchString(id) {
			add(ptr, nodes.CodeBadName, "node id %q must be 1-64 letters, digits, '-' or '_'", id)
		}
		b := &nodes.Build{Deps: opts.Deps, Registry: opts.Registry, Journey: j.Name, NodeID: id, Pointer: ptr + "/config", Lookup: opts.Lookup}
		built, outs, err := opts.Registry.Build(n.Type, n.Config, b)
		if err != nil {
			var bps nodes.Problems
			if errorsAs(err, &bps) {
				for _, p := range bps {
					if p.Code == nodes.CodeUnknownType && p.Pointer == ptr+"/config" {
						p.Pointer = ptr + "/type"
					}
					ps = append(ps, p)
				}
			} else {
				add(ptr+"/config", nodes.CodeBadConfig, "%v", err)
			}
			// The node cannot be built, but its connections are still checked, so fixing
			// the config does not reveal a second round of problems: fully when the type's
			// outcomes are fixed, and for dangling targets in any case.
			var static []nodes.Outcome
			complete := false
			if info, known := opts.Registry.Lookup(n.Type); known && !info.Dynamic {
				static, complete = info.Outcomes, true
			}
			checkOutcomes(j, id, n, ptr, static, complete, add)
			continue
		}
		st := &Step{ID: id, Type: n.Type, Title: n.Title, Node: built, Outcomes: outs, Next: map[string]string{}}
		for _, o := range outs {
			if target, ok := n.Outcomes[o.ID]; ok {
				st.Next[o.ID] = target
			}
		}
		checkOutcomes(j, id, n, ptr, outs, true, add)
		c.Steps[id] = st
	}
	// Reachability from start, over declared connections.
	if _, ok := j.Nodes[j.Start]; ok {
		seen := map[string]bool{j.Start: true}
		queue := []string{j.Start}
		for len(queue) > 0 {
			id := queue[0]
			queue = queue[1:]
			for _, t := range j.Nodes[id].Outcomes {
				if _, isNode := j.Nodes[t]; isNode && !seen[t] {
					seen[t] = true
					queue = append(queue, t)
				}
			}
		}
		for _, id := range sortedKeys(j.Nodes) {
			if !seen[id] && id != Success && id != Failure {
				add("/nodes/"+escape(id), nodes.CodeUnreachable, "node %q cannot be reached from start %q", id, j.Start)
			}
		}
	}
	if len(ps) > 0 {
		sortProblems(ps)
		return nil, ps
	}
	return c, nil
}

// sortProblems orders problems by pointer, then code, then message, so that one
// document always yields the same list.
func sortProblems(ps nodes.Problems) {
	sort.SliceStable(ps, func(a, b int) bool {
		if ps[a].Pointer != ps[b].Pointer {
			return ps[a].Pointer < ps[b].Pointer
		}
		if ps[a].Code != ps[b].Code {
			return ps[a].Code < ps[b].Code
		}
		return ps[a].Message < ps[b].Message
	})
}

// checkOutcomes reports a node's unconnected outcomes, connections the type does not
// have and targets that do not exist. With complete false only the outcomes' targets
// are checked, because the node's outcome list is not known.
func checkOutcomes(j *Journey, id string, n Node, ptr string, outs []nodes.Outcome, complete bool, add func(ptr, code, format string, args ...any)) {
	have := map[string]bool{}
	for _, o := range outs {
		have[o.ID] = true
		if _, ok := n.Outcomes[o.ID]; !ok && complete {
			add(ptr+"/outcomes", nodes.CodeUnconnected, "outcome %q of node %q is not connected", o.ID, id)
		}
	}
	for _, o := range sortedKeys(n.Outcomes) {
		target := n.Outcomes[o]
		optr := ptr + "/outcomes/" + escape(o)
		if complete && !have[o] {
			add(optr, nodes.CodeUnknownOutcome, "node type %q has no outcome %q (it has %s)", n.Type, o, outcomeList(outs))
			continue
		}
		if target != Success && target != Failure {
			if _, ok := j.Nodes[target]; !ok {
				add(optr, nodes.CodeDanglingTarget, "outcome %q leads to %q, which is neither a node nor success/failure", o, target)
			}
		}
	}
}

// Load parses and compiles data in one call, reporting every problem of both: fields the
// format does not have do not hide the problems of the graph.
func Load(data []byte, opts CompileOptions) (*Compiled, nodes.Problems) {
	j, ps := parse(data)
	if j == nil {
		return nil, ps
	}
	c, cps := Compile(j, opts)
	if ps = append(ps, cps...); len(ps) > 0 {
		sortProblems(ps)
		return nil, ps
	}
	c.Raw = append(json.RawMessage(nil), data...)
	return c, nil
}

// InnerJourneys returns the names of the journeys j runs through inner_journey nodes.
func (j *Journey) InnerJourneys() []string {
	var out []string
	for _, id := range sortedKeys(j.Nodes) {
		n := j.Nodes[id]
		if n.Type != "inner_journey" {
			continue
		}
		var cfg struct {
			Journey string `json:"journey"`
		}
		if json.Unmarshal(n.Config, &cfg) == nil && cfg.Journey != "" {
			out = append(out, cfg.Journey)
		}
	}
	return out
}

func outcomeList(outs []nodes.Outcome) string {
	if len(outs) == 0 {
		return "none"
	}
	ids := make([]string, len(outs))
	for i, o := range outs {
		ids[i] = strconv.Quote(o.ID)
	}
	return strings.Join(ids, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func escape(tok string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
}
