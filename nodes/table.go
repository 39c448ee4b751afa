package nodes

import (
	"fmt"
	"strings"
)

// Table returns the registry's node types as a Markdown table: type, category,
// outcomes and summary. It is the README's node table, printed by `arbor journeys nodes
// table`, so that the README cannot drift from the registered types. Outcomes that
// depend on the config are shown as those of the type's example, marked as such.
func (r *Registry) Table() string {
	var b strings.Builder
	b.WriteString("| node type | category | outcomes | what it does |\n|---|---|---|---|\n")
	for _, ti := range r.Types() {
		outs := ti.Outcomes
		note := ""
		if ti.Dynamic {
			note = "set by its config"
			// Built as offline validation builds: no services, any journey name known.
			if _, built, err := r.Build(ti.Type, ti.Example, &Build{Registry: r, Journey: "table", NodeID: "n",
				Lookup: func(string) bool { return true }}); err == nil && len(built) > 0 {
				outs, note = built, "set by its config, for example "
			}
		}
		ids := make([]string, len(outs))
		for i, o := range outs {
			ids[i] = "`" + o.ID + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s%s | %s |\n", ti.Type, ti.Category, note, strings.Join(ids, " "), ti.Summary)
	}
	return b.String()
}
