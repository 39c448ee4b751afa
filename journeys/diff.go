package journeys

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/aymanbagabas/go-udiff"
)

// Diff returns the unified diff from document a to document b, labelled aLabel and
// bLabel. Both are pretty-printed the same way first, keys sorted and numbers as
// written, so the diff shows what changed and not how a tool ordered or spaced the
// keys. An empty string means the documents are the same journey.
func Diff(aLabel, bLabel string, a, b []byte) string {
	return udiff.Unified(aLabel, bLabel, Pretty(a), Pretty(b))
}

// Pretty prints a JSON document indented by two spaces with its object keys sorted
// and a final newline; a document that is not JSON is returned as it is.
func Pretty(doc []byte) string {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber() // 1e400 or a 64-bit id stays as written, not through float64
	var v any
	if err := dec.Decode(&v); err != nil {
		return string(doc)
	}
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false) // "<" as written: whoever shows the text escapes it
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return string(doc)
	}
	return sb.String()
}

// DiffVersions returns the unified diff from version a to version b of a journey, each
// labelled NAME@vN, so that every place that shows a journey's history (the admin API,
// the CLI through it, the viewer) labels and prints it the same way.
func DiffVersions(a, b *Version) string {
	return Diff(versionLabel(a), versionLabel(b), a.Doc, b.Doc)
}

func versionLabel(v *Version) string {
	return v.Name + "@v" + strconv.Itoa(v.Version)
}
