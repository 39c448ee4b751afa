package forgerock

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/arbor-auth/arbor/journeys"
	"github.com/arbor-auth/arbor/nodes"
)

// amTree is one tree object found in a file.
type amTree struct {
	file, ptr string
	obj       obj
	// configs are the node configs exported with the tree (nodes and innerNodes).
	configs map[string]located
}

// located is a node config object and where it was found.
type located struct {
	file, ptr string
	obj       obj
}

// reader collects trees and node configs from the files.
type reader struct {
	trees    []*amTree
	configs  map[string]located // every node config of every file, by node id
	problems []Problem
}

// Import converts the journeys in files. Files are read together: a tree may run
// another tree of another file as an inner journey, and amster node configs may come in
// files of their own.
func Import(files []File, opts Options) *Result {
	rd := &reader{configs: map[string]located{}}
	for _, f := range files {
		rd.read(f)
	}
	res := &Result{Problems: rd.problems}
	// Names first, so inner journeys can refer to trees of any file.
	byAMName := map[string]*Journey{}
	byName := map[string]*Journey{}
	var convs []*converter
	for _, t := range rd.trees {
		j := &Journey{AMName: str(t.obj["_id"]), File: t.file, Pointer: t.ptr}
		j.Name = NativeName(j.AMName)
		c := &converter{j: j, t: t, rd: rd, opts: opts, names: byAMName}
		switch {
		case j.AMName == "":
			c.problem(t.ptr+"/_id", nodes.CodeBadName, "the tree has no _id (its name)")
		case !journeys.ValidName(j.Name):
			c.problem(t.ptr+"/_id", nodes.CodeBadName, "the name %q gives no usable Arbor journey name", j.AMName)
		case byName[j.Name] != nil:
			c.problem(t.ptr+"/_id", nodes.CodeBadName, "%q and %q (%s) both become the Arbor journey %q", j.AMName, byName[j.Name].AMName, byName[j.Name].File, j.Name)
		default:
			byAMName[j.AMName] = j
			byName[j.Name] = j
		}
		convs = append(convs, c)
		res.Journeys = append(res.Journeys, j)
	}
	for _, c := range convs {
		if len(c.j.Problems) == 0 {
			c.convert()
		}
	}
	// A journey whose inner journey was refused is refused too, until nothing changes.
	for changed := true; changed; {
		changed = false
		for _, c := range convs {
			if len(c.j.Problems) > 0 {
				continue
			}
			for _, in := range c.inner {
				if ij := byAMName[in.am]; ij != nil && len(ij.Problems) > 0 {
					c.problem(in.ptr, CodeInnerRefused, "the inner journey %q could not be converted", in.am)
					changed = true
				}
			}
			if len(c.j.Problems) > 0 {
				c.j.Doc = nil
			}
		}
	}
	sortJourneys(res.Journeys)
	return res
}

func sortJourneys(js []*Journey) {
	sort.SliceStable(js, func(a, b int) bool { return js[a].Name < js[b].Name })
}

// read finds the trees and node configs of one file.
func (rd *reader) read(f File) {
	v, err := decode(f.Data)
	if err != nil {
		rd.problems = append(rd.problems, Problem{File: f.Name, Problem: nodes.Problem{Pointer: "", Code: nodes.CodeBadJSON, Message: err.Error()}})
		return
	}
	top, ok := v.(obj)
	if !ok {
		rd.problems = append(rd.problems, Problem{File: f.Name, Problem: nodes.Problem{Code: CodeUnknownFormat, Message: "an export is a JSON object"}})
		return
	}
	switch {
	case top["trees"] != nil:
		trees, ok := top["trees"].(obj)
		if !ok {
			rd.fileProblem(f.Name, "/trees", nodes.CodeBadJSON, "trees must be an object of journey exports by name")
			return
		}
		for _, name := range sortedKeys(trees) {
			one, ok := trees[name].(obj)
			if !ok {
				rd.fileProblem(f.Name, "/trees/"+escape(name), nodes.CodeBadJSON, "a journey export must be an object")
				continue
			}
			rd.single(f.Name, "/trees/"+escape(name), one)
		}
	case top["tree"] != nil:
		rd.single(f.Name, "", top)
	case top["metadata"] != nil && top["data"] != nil:
		rd.amster(f.Name, top)
	case top["entryNodeId"] != nil:
		rd.trees = append(rd.trees, &amTree{file: f.Name, ptr: "", obj: top, configs: map[string]located{}})
	default:
		rd.fileProblem(f.Name, "", CodeUnknownFormat, "not a frodo export ({tree} or {trees}), an AM tree ({entryNodeId, nodes}) or an amster file ({metadata, data})")
	}
}

func (rd *reader) fileProblem(file, ptr, code, format string, args ...any) {
	rd.problems = append(rd.problems, Problem{File: file, Problem: nodes.Problem{Pointer: ptr, Code: code, Message: fmt.Sprintf(format, args...)}})
}

// single reads frodo's single-journey export at ptr.
func (rd *reader) single(file, ptr string, e obj) {
	tree, ok := e["tree"].(obj)
	if !ok {
		rd.fileProblem(file, ptr+"/tree", nodes.CodeBadJSON, "tree must be an object")
		return
	}
	t := &amTree{file: file, ptr: ptr + "/tree", obj: tree, configs: map[string]located{}}
	for _, key := range []string{"nodes", "innerNodes", "innernodes"} {
		m, ok := e[key].(obj)
		if e[key] != nil && !ok {
			rd.fileProblem(file, ptr+"/"+key, nodes.CodeBadJSON, "%s must be an object of node configs by id", key)
			continue
		}
		for _, id := range sortedKeys(m) {
			if c, ok := m[id].(obj); ok {
				l := located{file: file, ptr: ptr + "/" + key + "/" + escape(id), obj: c}
				t.configs[id] = l
				rd.configs[id] = l
			}
		}
	}
	rd.trees = append(rd.trees, t)
}

// amster reads an amster file: a tree, or one node's config.
func (rd *reader) amster(file string, top obj) {
	meta, _ := top["metadata"].(obj)
	data, ok := top["data"].(obj)
	if !ok {
		rd.fileProblem(file, "/data", nodes.CodeBadJSON, "data must be an object")
		return
	}
	if str(meta["entityType"]) == "AuthTree" || data["entryNodeId"] != nil {
		rd.trees = append(rd.trees, &amTree{file: file, ptr: "/data", obj: data, configs: map[string]located{}})
		return
	}
	id := str(data["_id"])
	if id == "" {
		rd.fileProblem(file, "/data/_id", nodes.CodeBadJSON, "an amster node config needs its _id")
		return
	}
	rd.configs[id] = located{file: file, ptr: "/data", obj: data}
}

// innerRef is an inner journey a converted journey runs.
type innerRef struct{ am, ptr string }

// converter converts one tree.
type converter struct {
	j     *Journey
	t     *amTree
	rd    *reader
	opts  Options
	names map[string]*Journey // every tree of the files, by AM name
	inner []innerRef
}

func (c *converter) problem(ptr, code, format string, args ...any) {
	c.problemIn(c.t.file, ptr, code, format, args...)
}

func (c *converter) problemIn(file, ptr, code, format string, args ...any) {
	c.j.Problems = append(c.j.Problems, Problem{File: file, Problem: nodes.Problem{Pointer: ptr, Code: code, Message: fmt.Sprintf(format, args...)}})
}

// config returns the config of node id: the tree's own export first, then any file's.
func (c *converter) config(id string) (located, bool) {
	if l, ok := c.t.configs[id]; ok {
		return l, true
	}
	l, ok := c.rd.configs[id]
	return l, ok
}

func (c *converter) convert() {
	t := c.t
	doc := journeys.Journey{Name: c.j.Name, Nodes: map[string]journeys.Node{}}
	if d := str(t.obj["description"]); d != "" {
		doc.Description = d
	}
	if v, ok := t.obj["enabled"]; ok {
		if en, isBool := v.(bool); isBool {
			c.j.Enabled = &en
		} else {
			c.problem(t.ptr+"/enabled", nodes.CodeBadJSON, "enabled must be true or false")
		}
	}
	doc.Start = str(t.obj["entryNodeId"])
	if doc.Start == "" {
		c.problem(t.ptr+"/entryNodeId", nodes.CodeMissingStart, "the tree has no entryNodeId")
	}
	amNodes, ok := t.obj["nodes"].(obj)
	if !ok {
		c.problem(t.ptr+"/nodes", nodes.CodeBadJSON, "the tree has no nodes object")
		return
	}
	if _, ok := amNodes[doc.Start]; doc.Start != "" && !ok {
		c.problem(t.ptr+"/entryNodeId", nodes.CodeMissingStart, "entryNodeId %q is not one of the tree's nodes", doc.Start)
	}
	for _, id := range sortedKeys(amNodes) {
		ptr := t.ptr + "/nodes/" + escape(id)
		n, ok := amNodes[id].(obj)
		if !ok {
			c.problem(ptr, nodes.CodeBadJSON, "a tree node must be an object")
			continue
		}
		if id == SuccessID || id == FailureID {
			c.problem(ptr, nodes.CodeReservedID, "%q is AM's reserved id of a terminal, not a node", id)
			continue
		}
		node, pairs, ok := c.node(id, ptr, n)
		if !ok {
			continue
		}
		node.Outcomes = c.connections(ptr, n, pairs, amNodes)
		doc.Nodes[id] = node
	}
	if len(c.j.Problems) > 0 {
		return
	}
	c.finish(&doc)
}

// node converts one tree node and its config; it returns the outcome pairs of the node
// (AM id, Arbor id).
func (c *converter) node(id, ptr string, n obj) (journeys.Node, [][2]string, bool) {
	typ := str(n["nodeType"])
	k, ok := c.kind(c.t.file, typ, ptr+"/nodeType")
	if !ok {
		return journeys.Node{}, nil, false
	}
	node := journeys.Node{Type: k.arbor, Title: str(n["displayName"])}
	cfg, found := c.config(id)
	if !found {
		if k.am == "PageNode" || k.am == "ChoiceCollectorNode" || k.am == "InnerTreeEvaluatorNode" {
			c.problem(ptr, CodeMissingConfig, "the config of this %s is in none of the files", typ)
			return journeys.Node{}, nil, false
		}
		cfg = located{file: c.t.file, ptr: ptr, obj: obj{}}
	}
	if got := str(nested(cfg.obj, "_type", "_id")); got != "" && got != typ {
		c.problemIn(cfg.file, cfg.ptr+"/_type/_id", nodes.CodeBadConfig, "the config is of a %s, the tree says %s", got, typ)
		return journeys.Node{}, nil, false
	}
	conf, pairs, ok := c.configOf(k, typ, cfg)
	if !ok {
		return journeys.Node{}, nil, false
	}
	if len(conf) > 0 {
		node.Config, _ = json.Marshal(conf)
	}
	return node, pairs, true
}

// kind finds the converter of an AM node type.
func (c *converter) kind(file, typ, ptr string) (*kind, bool) {
	k := byAM[typ]
	if k == nil {
		c.problemIn(file, ptr, CodeUnsupportedNode, "Arbor has no node like AM's %s", orMissing(typ))
		return nil, false
	}
	if c.opts.Registry != nil {
		if _, ok := c.opts.Registry.Lookup(k.arbor); !ok {
			c.problemIn(file, ptr, CodeUnsupportedNode, "AM's %s would be Arbor's %s, which this Arbor does not have", typ, k.arbor)
			return nil, false
		}
	}
	return k, true
}

func orMissing(s string) string {
	if s == "" {
		return "(missing nodeType)"
	}
	return s
}

// configOf converts a node's config object.
func (c *converter) configOf(k *kind, typ string, cfg located) (obj, [][2]string, bool) {
	before := len(c.j.Problems)
	special := map[string]bool{}
	out := obj{}
	pairs := k.outcomes
	if typ == "IdentityStoreDecisionNode" {
		pairs = identityStoreOutcomes
	}
	switch k.am {
	case "PageNode":
		pairs = c.page(cfg, out, special)
	case "ChoiceCollectorNode":
		pairs = c.choice(cfg, out, special)
	case "InnerTreeEvaluatorNode":
		c.innerTree(cfg, out, special)
	}
	for _, attr := range sortedKeys(cfg.obj) {
		if strings.HasPrefix(attr, "_") || special[attr] || contains(k.ignored, attr) {
			continue
		}
		f := k.field(attr)
		aptr := cfg.ptr + "/" + escape(attr)
		v := cfg.obj[attr]
		switch {
		case f == nil:
			c.problemIn(cfg.file, aptr, CodeUnsupportedConfig, "%s's attribute %q has no Arbor equivalent", typ, attr)
		case f.arbor == "" && f.atMost != 0:
			if n, ok := v.(json.Number); !ok || mustFloat(n) > f.atMost {
				c.problemIn(cfg.file, aptr, CodeUnsupportedConfig, "Arbor's %s only behaves as %s with %s at most %v", k.arbor, typ, attr, f.atMost)
			}
		case f.arbor == "":
			if !sameJSON(v, f.fixed) {
				c.problemIn(cfg.file, aptr, CodeUnsupportedConfig, "Arbor's %s only behaves as %s with %s %v", k.arbor, typ, attr, f.fixed)
			}
		case f.locale && isEmptyMap(v):
			// AM's default text; the amDefault loop below fills it in if AM's differs.
		case f.enum != nil:
			s, ok := v.(string)
			mapped, known := f.toArbor(s)
			if !ok || !known {
				c.problemIn(cfg.file, aptr, nodes.CodeBadConfig, "%s %v is not one of %s", attr, v, f.amValues())
				continue
			}
			out[f.arbor] = f.arborValue(mapped)
		default:
			out[f.arbor] = v
		}
	}
	for _, f := range k.fields {
		if f.arbor == "" || f.amDefault == nil {
			continue
		}
		if v, ok := cfg.obj[f.am]; ok && !(f.locale && isEmptyMap(v)) {
			continue
		}
		if f.enum != nil {
			mapped, _ := f.toArbor(f.amDefault.(string))
			out[f.arbor] = f.arborValue(mapped)
		} else {
			out[f.arbor] = f.amDefault
		}
	}
	return out, pairs, len(c.j.Problems) == before
}

// connections converts a node's connections to Arbor outcomes.
func (c *converter) connections(ptr string, n obj, pairs [][2]string, amNodes obj) map[string]string {
	conns, ok := n["connections"].(obj)
	if n["connections"] != nil && !ok {
		c.problem(ptr+"/connections", nodes.CodeBadJSON, "connections must be an object of targets by outcome id")
		return nil
	}
	typ := str(n["nodeType"])
	out := map[string]string{}
	for _, amID := range sortedKeys(conns) {
		cptr := ptr + "/connections/" + escape(amID)
		target, _ := conns[amID].(string)
		switch target {
		case SuccessID:
			target = journeys.Success
		case FailureID:
			target = journeys.Failure
		default:
			if _, ok := amNodes[target]; !ok {
				c.problem(cptr, nodes.CodeDanglingTarget, "outcome %q leads to %q, which is not a node of the tree", amID, conns[amID])
				continue
			}
		}
		if typ == "IdentityStoreDecisionNode" && contains(identityStoreFalseLike, amID) {
			if f, _ := conns["FALSE"].(string); f != conns[amID] {
				c.problem(cptr, CodeUnsupportedConfig, "Arbor's data_store_decision answers false for a %s account, so %s must lead where FALSE leads", strings.ToLower(amID), amID)
			}
			continue
		}
		arborID, ok := mapOutcome(pairs, amID)
		if !ok {
			c.problem(cptr, nodes.CodeUnknownOutcome, "%s has no outcome %q (it has %s)", typ, amID, amIDs(pairs))
			continue
		}
		out[arborID] = target
	}
	return out
}

// finish validates the document, repairs what AM tolerates and Arbor does not, and maps
// the problems left to the tree in the file.
func (c *converter) finish(doc *journeys.Journey) {
	opts := journeys.CompileOptions{Registry: c.opts.Registry, Deps: &nodes.Deps{}, Lookup: func(string) bool { return true }}
	for round := 0; ; round++ {
		_, ps := journeys.Compile(doc, opts)
		if len(ps) == 0 {
			break
		}
		var left nodes.Problems
		for _, p := range ps {
			id := nodeOf(p.Pointer)
			var outcome string
			switch {
			case p.Code == nodes.CodeUnconnected && id != "" && scanOutcome(p.Message, &outcome):
				n, ok := doc.Nodes[id]
				if !ok {
					continue // left out as unreachable
				}
				if n.Outcomes == nil {
					n.Outcomes = map[string]string{}
				}
				n.Outcomes[outcome] = journeys.Failure
				doc.Nodes[id] = n
				c.j.Notes = append(c.j.Notes, fmt.Sprintf("node %s: outcome %q was not connected; it leads to failure, as it fails the flow in AM", id, outcome))
			case p.Code == nodes.CodeUnreachable && id != "":
				delete(doc.Nodes, id)
				c.j.Notes = append(c.j.Notes, fmt.Sprintf("node %s (%s) cannot be reached from the start and is left out", id, c.displayName(id)))
			default:
				left = append(left, p)
			}
		}
		// Repairs take a few rounds at most (leaving out a node may leave the nodes
		// only it led to unreachable); any other problem is the file's.
		if len(left) == 0 && round == 8 {
			c.problem(c.t.ptr, nodes.CodeBadConfig, "the tree could not be repaired into a valid journey")
			return
		}
		if len(left) > 0 {
			for _, p := range left {
				ptr := c.t.ptr
				if id := nodeOf(p.Pointer); id != "" {
					ptr += "/nodes/" + escape(id)
				}
				c.problem(ptr, p.Code, "%s (at %s of the converted journey)", p.Message, p.Pointer)
			}
			return
		}
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		c.problem(c.t.ptr, nodes.CodeBadJSON, "%v", err)
		return
	}
	c.j.Doc = append(b, '\n')
}

// scanOutcome reads the outcome id from an unconnected_outcome message.
func scanOutcome(msg string, outcome *string) bool {
	_, err := fmt.Sscanf(msg, "outcome %q", outcome)
	return err == nil
}

func (c *converter) displayName(nodeID string) string {
	if n, ok := c.t.obj["nodes"].(obj)[nodeID].(obj); ok {
		return str(n["displayName"])
	}
	return ""
}

// nodeOf returns the node id of a native pointer "/nodes/<id>/...".
func nodeOf(ptr string) string {
	rest, ok := strings.CutPrefix(ptr, "/nodes/")
	if !ok {
		return ""
	}
	tok, _, _ := strings.Cut(rest, "/")
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
}

func (k *kind) field(am string) *field {
	for i := range k.fields {
		if k.fields[i].am == am {
			return &k.fields[i]
		}
	}
	return nil
}

func (f *field) toArbor(am string) (string, bool) {
	for _, p := range f.enum {
		if p[0] == am {
			return p[1], true
		}
	}
	return "", false
}

// arborValue is an Arbor enum value as the config holds it: a number for a numeric
// field.
func (f *field) arborValue(v string) any {
	if f.numeric {
		return json.Number(v)
	}
	return v
}

func mustFloat(n json.Number) float64 {
	x, _ := n.Float64()
	return x
}

func (f *field) toAM(arbor string) (string, bool) {
	for _, p := range f.enum {
		if p[1] == arbor {
			return p[0], true
		}
	}
	return "", false
}

func (f *field) amValues() string {
	vs := make([]string, len(f.enum))
	for i, p := range f.enum {
		vs[i] = p[0]
	}
	return strings.Join(vs, ", ")
}

func mapOutcome(pairs [][2]string, am string) (string, bool) {
	for _, p := range pairs {
		if p[0] == am {
			return p[1], true
		}
	}
	return "", false
}

func amIDs(pairs [][2]string) string {
	ids := make([]string, len(pairs))
	for i, p := range pairs {
		ids[i] = fmt.Sprintf("%q", p[0])
	}
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ", ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func isEmptyMap(v any) bool {
	m, ok := v.(obj)
	return ok && len(m) == 0
}

// sameJSON compares two values as JSON.
func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	var xa, ya any
	_ = json.Unmarshal(x, &xa)
	_ = json.Unmarshal(y, &ya)
	return reflect.DeepEqual(xa, ya)
}

func nested(o obj, keys ...string) any {
	var v any = o
	for _, k := range keys {
		m, ok := v.(obj)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
