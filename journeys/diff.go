package journeys

import (
	"bytes"
	"encoding/json"
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
