package forgerock

import (
	"strconv"

	"github.com/arbor-auth/arbor/nodes"
)

// The node types whose config is more than renamed attributes: a page's children, a
// choice collector's choices (its outcomes) and an inner tree's journey name.

// page converts a PageNode's config into out and returns the page's outcome pairs: its
// last child's.
func (c *converter) page(cfg located, out obj, special map[string]bool) [][2]string {
	for _, a := range []string{"nodes", "pageHeader", "pageDescription", "stage"} {
		special[a] = true
	}
	for _, pair := range [][2]string{{"pageHeader", "header"}, {"pageDescription", "description"}} {
		if v, ok := cfg.obj[pair[0]]; ok && !isEmptyMap(v) {
			out[pair[1]] = v
		}
	}
	if s := str(cfg.obj["stage"]); s != "" {
		out["stage"] = s
	}
	list, ok := cfg.obj["nodes"].([]any)
	if !ok || len(list) == 0 {
		c.problemIn(cfg.file, cfg.ptr+"/nodes", nodes.CodeBadConfig, "a page needs a list of nodes")
		return nil
	}
	var children []obj
	var pairs [][2]string
	seen := map[string]int{}
	for i, item := range list {
		ptr := cfg.ptr + "/nodes/" + strconv.Itoa(i)
		ref, _ := item.(obj)
		childID, typ := str(ref["_id"]), str(ref["nodeType"])
		if childID == "" || typ == "" {
			c.problemIn(cfg.file, ptr, nodes.CodeBadConfig, "a page's node needs _id and nodeType")
			continue
		}
		k, ok := c.kind(cfg.file, typ, ptr+"/nodeType")
		if !ok {
			continue
		}
		childCfg, found := c.config(childID)
		if !found {
			childCfg = located{file: cfg.file, ptr: ptr, obj: obj{}}
			if k.am == "PageNode" || k.am == "ChoiceCollectorNode" || k.am == "InnerTreeEvaluatorNode" {
				c.problemIn(cfg.file, ptr, CodeMissingConfig, "the config of this %s (%s) is in none of the files", typ, childID)
				continue
			}
		}
		conf, childPairs, ok := c.configOf(k, typ, childCfg)
		if !ok {
			continue
		}
		// Children are named after their type ("username", "password"), numbered when
		// a type repeats: the name is part of the child's node id in Arbor.
		key := k.arbor
		if n := seen[key]; n > 0 {
			key += "_" + strconv.Itoa(n+1)
		}
		seen[k.arbor]++
		child := obj{"id": key, "type": k.arbor}
		if len(conf) > 0 {
			child["config"] = conf
		}
		children = append(children, child)
		pairs = childPairs
	}
	out["nodes"] = children
	return pairs
}

// choice converts a ChoiceCollectorNode: each choice text becomes a snake_case id (an
// outcome) labelled with the text.
func (c *converter) choice(cfg located, out obj, special map[string]bool) [][2]string {
	for _, a := range []string{"choices", "defaultChoice", "prompt"} {
		special[a] = true
	}
	list, ok := cfg.obj["choices"].([]any)
	if !ok || len(list) == 0 {
		c.problemIn(cfg.file, cfg.ptr+"/choices", nodes.CodeBadConfig, "a choice collector needs a list of choices")
		return nil
	}
	var pairs [][2]string
	var ids []string
	labels := obj{}
	used := map[string]bool{}
	for i, v := range list {
		text, ok := v.(string)
		id := snakeID(text)
		if !ok || id == "" {
			c.problemIn(cfg.file, cfg.ptr+"/choices/"+strconv.Itoa(i), nodes.CodeBadConfig, "choice %v gives no usable outcome id", v)
			continue
		}
		for n := 2; used[id]; n++ {
			id = snakeID(text) + "_" + strconv.Itoa(n)
		}
		used[id] = true
		pairs = append(pairs, [2]string{text, id})
		ids = append(ids, id)
		labels[id] = obj{"en": text}
	}
	out["choices"] = ids
	out["labels"] = labels
	if d := str(cfg.obj["defaultChoice"]); d != "" {
		id, ok := mapOutcome(pairs, d)
		if !ok {
			c.problemIn(cfg.file, cfg.ptr+"/defaultChoice", nodes.CodeBadConfig, "defaultChoice %q is not one of the choices", d)
		}
		out["default_choice"] = id
	}
	if p := str(cfg.obj["prompt"]); p != "" {
		out["prompt"] = obj{"en": p}
	}
	return pairs
}

// innerTree converts an InnerTreeEvaluatorNode's tree to the Arbor name of that
// journey, which must be in the files or already known.
func (c *converter) innerTree(cfg located, out obj, special map[string]bool) {
	special["tree"] = true
	ptr := cfg.ptr + "/tree"
	am := str(cfg.obj["tree"])
	if am == "" {
		c.problemIn(cfg.file, ptr, nodes.CodeBadConfig, "an inner tree evaluator needs a tree")
		return
	}
	if j := c.names[am]; j != nil {
		out["journey"] = j.Name
		c.inner = append(c.inner, innerRef{am: am, ptr: ptr})
		return
	}
	name := NativeName(am)
	if c.opts.Known != nil && c.opts.Known(name) {
		out["journey"] = name
		return
	}
	c.problemIn(cfg.file, ptr, nodes.CodeUnknownJourney, "the inner journey %q is in none of the files and Arbor has no journey %q", am, name)
}
