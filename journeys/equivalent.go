package journeys

import (
	"encoding/json"

	"github.com/arbor-auth/arbor/nodes"
)

// Equivalent reports whether two journey documents describe the same journey once every
// node's config is read over its type's defaults (reg's field docs): they differ at
// most in fields spelled out at their default values, or in formatting. A ForgeRock
// export writes every attribute, defaults included, so a journey exported and imported
// again (frodo's enable and disable PUT the tree that way) is equivalent to its stored
// document without being equal to it. Documents that do not parse are not equivalent.
func Equivalent(a, b []byte, reg *nodes.Registry) bool {
	if reg == nil {
		return canonicalEqual(a, b)
	}
	na, ok := withConfigDefaults(a, reg)
	if !ok {
		return false
	}
	nb, ok := withConfigDefaults(b, reg)
	return ok && canonicalEqual(na, nb)
}

// withConfigDefaults returns doc with each node's config filled in with its type's
// defaults where it leaves a field out. A node of a type reg does not know is left as
// it is.
func withConfigDefaults(doc []byte, reg *nodes.Registry) ([]byte, bool) {
	var d map[string]any
	if json.Unmarshal(doc, &d) != nil {
		return nil, false
	}
	ns, _ := d["nodes"].(map[string]any)
	for _, n := range ns {
		node, ok := n.(map[string]any)
		if !ok {
			return nil, false
		}
		typ, _ := node["type"].(string)
		info, ok := reg.Lookup(typ)
		if !ok {
			continue
		}
		cfg, _ := node["config"].(map[string]any)
		if cfg == nil {
			cfg = map[string]any{}
		}
		for _, f := range info.Fields {
			if _, set := cfg[f.Name]; !set && f.Default != nil {
				cfg[f.Name] = f.Default
			}
		}
		node["config"] = cfg
	}
	b, err := json.Marshal(d)
	return b, err == nil
}
