package forgerock

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/google/uuid"

	"github.com/arbor-auth/arbor/journeys"
	"github.com/arbor-auth/arbor/nodes"
)

// idSpace is the namespace of the name-based UUIDs export gives node ids that are not
// UUIDs, so that exporting a journey twice gives the same ids.
var idSpace = uuid.MustParse("5b0e2f6a-8f7e-4c38-9d0c-3c1a8f0b7a21")

// ExportMeta is frodo's "meta" block.
type ExportMeta struct {
	Origin            string `json:"origin"`
	OriginAmVersion   string `json:"originAmVersion"`
	ExportedBy        string `json:"exportedBy"`
	ExportDate        string `json:"exportDate"`
	ExportTool        string `json:"exportTool"`
	ExportToolVersion string `json:"exportToolVersion"`
}

// ExportError lists, by journey name, what stops journeys from being exported.
type ExportError map[string]nodes.Problems

// Error lists every journey's problems.
func (e ExportError) Error() string {
	s := fmt.Sprintf("%d journey(s) cannot be exported", len(e))
	for _, name := range sortedKeys(e) {
		s += "\n" + name + ": " + e[name].Error()
	}
	return s
}

// Export writes journeys in frodo's format: one journey as a single-journey export,
// several as {meta, trees: {<name>: ...}}. Every journey must compile with reg. A node
// type or config value AM cannot express is an ExportError naming the journey, with
// pointers into its native document; nothing is written then. disabled, when not nil,
// reports the journeys no flow may start on: their trees say "enabled": false, so an
// import (AM's, or Arbor's) keeps them disabled.
func Export(js []*journeys.Journey, reg *nodes.Registry, meta *ExportMeta, disabled func(name string) bool) ([]byte, error) {
	trees := obj{}
	bad := ExportError{}
	for _, j := range js {
		t, ps := exportOne(j, reg)
		if len(ps) > 0 {
			bad[j.Name] = ps
			continue
		}
		if disabled != nil && disabled(j.Name) {
			t["tree"].(obj)["enabled"] = false
		}
		trees[j.Name] = t
	}
	if len(bad) > 0 {
		return nil, bad
	}
	var out obj
	if len(js) == 1 {
		out = trees[js[0].Name].(obj)
	} else {
		out = obj{"trees": trees}
	}
	if meta != nil {
		out["meta"] = meta
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return append(b, '\n'), nil
}

// exporter exports one journey.
type exporter struct {
	j        *journeys.Journey
	reg      *nodes.Registry
	ps       nodes.Problems
	nodes    obj // node configs, by AM id
	inner    obj // page children's configs, by AM id
	compiled *journeys.Compiled
}

func exportOne(j *journeys.Journey, reg *nodes.Registry) (obj, nodes.Problems) {
	opts := journeys.CompileOptions{Registry: reg, Deps: &nodes.Deps{}, Lookup: func(string) bool { return true }}
	c, ps := journeys.Compile(j, opts)
	if ps != nil {
		return nil, ps
	}
	e := &exporter{j: j, reg: reg, nodes: obj{}, inner: obj{}, compiled: c}
	treeNodes := obj{}
	for _, id := range sortedKeys(j.Nodes) {
		n := j.Nodes[id]
		ptr := "/nodes/" + escape(id)
		k := byArbor[n.Type]
		if k == nil {
			e.problem(ptr+"/type", CodeUnsupportedNode, "AM has no node like Arbor's %s", n.Type)
			continue
		}
		amID := e.amID(id)
		cfg, pairs := e.config(k, n.Type, n.Config, ptr+"/config", id)
		if cfg == nil {
			continue
		}
		outs := e.outcomes(c.Steps[id].Outcomes, pairs, ptr)
		cfg["_id"] = amID
		cfg["_type"] = obj{"_id": k.am, "name": k.title, "collection": true}
		cfg["_outcomes"] = outs
		e.nodes[amID] = cfg
		conns := obj{}
		for _, o := range sortedKeys(n.Outcomes) {
			am, ok := reverse(pairs, o)
			if !ok {
				e.problem(ptr+"/outcomes/"+escape(o), nodes.CodeUnknownOutcome, "outcome %q has no AM id", o)
				continue
			}
			conns[am] = e.target(n.Outcomes[o])
		}
		title := n.Title
		if title == "" {
			title = k.title
		}
		treeNodes[amID] = obj{"nodeType": k.am, "displayName": title, "connections": conns}
	}
	if len(e.ps) > 0 {
		return nil, e.ps
	}
	tree := obj{
		"_id": j.Name, "enabled": true, "entryNodeId": e.amID(j.Start), "nodes": treeNodes,
		"innerTreeOnly": false, "mustRun": false, "noSession": false, "uiConfig": obj{},
	}
	if j.Description != "" {
		tree["description"] = j.Description
	}
	return obj{
		"tree": tree, "nodes": e.nodes, "innerNodes": e.inner,
		"scripts": obj{}, "emailTemplates": obj{}, "socialIdentityProviders": obj{}, "themes": []any{},
		"saml2Entities": obj{}, "circlesOfTrust": obj{},
	}, nil
}

func (e *exporter) problem(ptr, code, format string, args ...any) {
	e.ps = append(e.ps, nodes.Problem{Pointer: ptr, Code: code, Message: fmt.Sprintf(format, args...)})
}

// amID returns the AM id of a node: its own id when that is a UUID, a stable
// name-based UUID otherwise.
func (e *exporter) amID(id string) string {
	if u, err := uuid.Parse(id); err == nil && len(id) == 36 {
		return u.String()
	}
	return uuid.NewSHA1(idSpace, []byte(e.j.Name+"/"+id)).String()
}

func (e *exporter) target(t string) string {
	switch t {
	case journeys.Success:
		return SuccessID
	case journeys.Failure:
		return FailureID
	}
	return e.amID(t)
}

// outcomes lists a node's outcomes as AM's _outcomes.
func (e *exporter) outcomes(outs []nodes.Outcome, pairs [][2]string, ptr string) []any {
	list := []any{}
	for _, o := range outs {
		am, ok := reverse(pairs, o.ID)
		if !ok {
			e.problem(ptr, nodes.CodeUnknownOutcome, "outcome %q has no AM id", o.ID)
			continue
		}
		list = append(list, obj{"id": am, "displayName": o.Label})
	}
	return list
}

// config converts a node's config to AM attributes; it returns nil after reporting a
// problem. pairs are the node's outcome pairs.
func (e *exporter) config(k *kind, typ string, raw json.RawMessage, ptr, nodeID string) (obj, [][2]string) {
	before := len(e.ps)
	cfg := e.withDefaults(typ, raw)
	out := obj{}
	pairs := k.outcomes
	handled := map[string]bool{}
	switch k.arbor {
	case "page":
		pairs = e.page(cfg, out, ptr, nodeID, handled)
	case "choice":
		pairs = e.choice(cfg, out, ptr, handled)
	case "inner_journey":
		out["tree"] = cfg["journey"]
		handled["journey"] = true
	}
	for _, f := range k.fields {
		if f.arbor == "" {
			continue // AM's default is the one value Arbor honours
		}
		handled[f.arbor] = true
		v := cfg[f.arbor]
		if f.enum != nil {
			am, ok := f.toAM(fmt.Sprint(v))
			if !ok {
				e.problem(ptr+"/"+f.arbor, CodeUnsupportedConfig, "AM's %s has no %s %v", k.am, f.am, v)
				continue
			}
			v = am
		}
		out[f.am] = v
	}
	// Whatever Arbor field AM has no attribute for must be at its default, or the
	// export would change what the journey does.
	info, _ := e.reg.Lookup(typ)
	for _, fd := range info.Fields {
		if handled[fd.Name] {
			continue
		}
		if v, set := cfg[fd.Name]; set && !sameJSON(v, fd.Default) {
			e.problem(ptr+"/"+fd.Name, CodeUnsupportedConfig, "AM's %s has no equivalent of %s other than its default", k.am, fd.Name)
		}
	}
	if len(e.ps) > before {
		return nil, nil
	}
	return out, pairs
}

// withDefaults decodes a node's config over its type's defaults.
func (e *exporter) withDefaults(typ string, raw json.RawMessage) obj {
	cfg := obj{}
	if info, ok := e.reg.Lookup(typ); ok {
		for _, fd := range info.Fields {
			if fd.Default != nil {
				cfg[fd.Name] = fd.Default
			}
		}
	}
	var set obj
	_ = json.Unmarshal(raw, &set)
	for k, v := range set {
		cfg[k] = v
	}
	return cfg
}

// page exports a page's children as innerNodes.
func (e *exporter) page(cfg, out obj, ptr, pageID string, handled map[string]bool) [][2]string {
	for _, f := range []string{"nodes", "header", "description", "stage"} {
		handled[f] = true
	}
	out["pageHeader"] = orEmpty(cfg["header"])
	out["pageDescription"] = orEmpty(cfg["description"])
	if s := str(cfg["stage"]); s != "" {
		out["stage"] = s
	}
	var pc struct {
		Nodes []struct {
			ID     string          `json:"id"`
			Type   string          `json:"type"`
			Config json.RawMessage `json:"config"`
		} `json:"nodes"`
	}
	b, _ := json.Marshal(cfg)
	_ = json.Unmarshal(b, &pc)
	var refs []any
	var pairs [][2]string
	for i, ch := range pc.Nodes {
		cptr := ptr + "/nodes/" + strconv.Itoa(i)
		k := byArbor[ch.Type]
		if k == nil {
			e.problem(cptr+"/type", CodeUnsupportedNode, "AM has no node like Arbor's %s", ch.Type)
			continue
		}
		key := ch.ID
		if key == "" {
			key = strconv.Itoa(i)
		}
		// Based on the page's AM id, so a page exported, imported and exported again
		// keeps its children's ids.
		id := uuid.NewSHA1(idSpace, []byte(e.j.Name+"/"+e.amID(pageID)+"."+key)).String()
		ccfg, cpairs := e.config(k, ch.Type, ch.Config, cptr+"/config", pageID+"."+key)
		if ccfg == nil {
			continue
		}
		info, _ := e.reg.Lookup(ch.Type)
		var outs []nodes.Outcome
		if !info.Dynamic {
			outs = info.Outcomes
		}
		ccfg["_id"] = id
		ccfg["_type"] = obj{"_id": k.am, "name": k.title, "collection": true}
		ccfg["_outcomes"] = e.outcomes(outs, cpairs, cptr)
		e.inner[id] = ccfg
		refs = append(refs, obj{"_id": id, "nodeType": k.am, "displayName": k.title})
		pairs = cpairs
	}
	out["nodes"] = refs
	return pairs
}

// choice exports a choice node: AM's choices are both the outcome ids and the texts
// shown, so each becomes its English label (or its id).
func (e *exporter) choice(cfg, out obj, ptr string, handled map[string]bool) [][2]string {
	for _, f := range []string{"choices", "labels", "default_choice", "prompt"} {
		handled[f] = true
	}
	labels, _ := cfg["labels"].(obj)
	var pairs [][2]string
	var texts []any
	for _, v := range asList(cfg["choices"]) {
		id := str(v)
		text := id
		if l, ok := labels[id].(obj); ok {
			if len(l) > 1 || (len(l) == 1 && l["en"] == nil) {
				e.problem(ptr+"/labels/"+escape(id), CodeUnsupportedConfig, "AM's choices are not translated: give only an \"en\" label")
			}
			if en := str(l["en"]); en != "" {
				text = en
			}
		}
		pairs = append(pairs, [2]string{text, id})
		texts = append(texts, text)
	}
	out["choices"] = texts
	if d := str(cfg["default_choice"]); d != "" {
		am, _ := reverse(pairs, d)
		out["defaultChoice"] = am
	} else if len(texts) > 0 {
		out["defaultChoice"] = texts[0]
	}
	if p, ok := cfg["prompt"].(obj); ok {
		if len(p) > 1 || (len(p) == 1 && p["en"] == nil) {
			e.problem(ptr+"/prompt", CodeUnsupportedConfig, "AM's choice prompt is not translated: give only \"en\"")
		}
		out["prompt"] = str(p["en"])
	}
	return pairs
}

func reverse(pairs [][2]string, arbor string) (string, bool) {
	for _, p := range pairs {
		if p[1] == arbor {
			return p[0], true
		}
	}
	return "", false
}

func orEmpty(v any) any {
	if v == nil {
		return obj{}
	}
	return v
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}
