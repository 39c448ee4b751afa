// Package forgerock converts ForgeRock AM journeys ("authentication trees") to Arbor's
// native journey documents and back.
//
// Import reads every shape AM and frodo write: frodo's single-journey export
// ({meta, tree, nodes, innerNodes, ...}), its multi-journey and "all-separate" files
// ({meta, trees: {<name>: {...}}}), older exports with a lowercase "innernodes", AM's
// REST tree object ({_id, entryNodeId, nodes}) and amster files ({metadata, data}, one
// for the tree and one per node config). Node configs may sit in another of the files
// given, as amster writes them.
//
// Each AM node type Arbor has is converted with its config and its case-sensitive
// outcome ids (SENT becomes sent, Retry becomes retry, successOutcome becomes success;
// see kinds.go). A journey is converted whole or not at all: a node type Arbor does not
// have (WebAuthn, a JavaScript scripted decision, ...), an attribute whose behaviour
// Arbor lacks, an outcome the type does not have, or an inner journey that is neither in
// the files nor already known is reported as a Problem with the file, a JSON pointer
// into it and a code, and that journey (and any journey running it as an inner journey)
// yields no document. What AM tolerates and Arbor does not is repaired and noted
// instead: an unconnected outcome leads to failure (in AM it fails the flow), and nodes
// that cannot be reached from the start are left out.
//
// Export writes frodo's format, which frodo-cli imports. Node ids that are not UUIDs
// get stable name-based UUIDs. A config value AM cannot express (a prompt in another
// language, say) is a Problem rather than a silent change.
package forgerock

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/arbor-auth/arbor/nodes"
)

// AM's reserved node ids of the two terminals.
const (
	SuccessID = "70e691a5-1e33-4ac3-a356-e7b6d60d92e0"
	FailureID = "e301438c-0bd0-429c-ab0c-66126501069a"
)

// Problem codes of the conversion, beside the journeys package's (unknown_journey,
// unknown_outcome, dangling_target, bad_config, bad_json, bad_name, ...).
const (
	// CodeUnsupportedNode is an AM node type Arbor has no equivalent of.
	CodeUnsupportedNode = "unsupported_node"
	// CodeUnsupportedConfig is an attribute value whose behaviour Arbor does not have.
	CodeUnsupportedConfig = "unsupported_config"
	// CodeMissingConfig is a node whose config object is in none of the files.
	CodeMissingConfig = "missing_node_config"
	// CodeUnknownFormat is a file that is none of the formats Import reads.
	CodeUnknownFormat = "unknown_format"
	// CodeInnerRefused is a journey whose inner journey could not be converted.
	CodeInnerRefused = "inner_journey_refused"
)

// Problem is one thing that stops a journey from converting: the file, a JSON pointer
// into it, a code and a message.
type Problem struct {
	File string `json:"file"`
	nodes.Problem
}

// String formats the problem as "file: pointer: code: message".
func (p Problem) String() string { return p.File + ": " + p.Problem.String() }

// File is one input file.
type File struct {
	// Name is how problems name the file (its path).
	Name string
	// Data is its content.
	Data []byte
}

// Options configure Import.
type Options struct {
	// Registry says which Arbor node types exist; a kind whose Arbor type is missing
	// is unsupported.
	Registry *nodes.Registry
	// Known reports whether an Arbor journey of that name already exists, for inner
	// journeys not in the files. Nil: none does.
	Known func(name string) bool
}

// Journey is one AM journey found in the files.
type Journey struct {
	// AMName is the tree's AM id; Name the Arbor name it converts to.
	AMName, Name string
	// File and Pointer locate the tree object.
	File, Pointer string
	// Doc is the native journey document, or nil when Problems is not empty.
	Doc json.RawMessage
	// Problems stop the journey from converting.
	Problems []Problem
	// Notes are repairs made (an unconnected outcome sent to failure, an unreachable
	// node left out), for the admin to read.
	Notes []string
	// Enabled is the tree's "enabled" in AM, nil when the export does not say. A tree
	// disabled in AM is imported disabled (journeys.SaveOptions.Enable), not made live.
	Enabled *bool
}

// Result is what Import found.
type Result struct {
	// Journeys are in name order.
	Journeys []*Journey
	// Problems are about whole files (unreadable JSON, an unknown format).
	Problems []Problem
}

// OK reports whether every journey converted and every file was read.
func (r *Result) OK() bool {
	if len(r.Problems) > 0 {
		return false
	}
	for _, j := range r.Journeys {
		if len(j.Problems) > 0 {
			return false
		}
	}
	return true
}

var (
	nameUnsafe = regexp.MustCompile(`[^a-z0-9_-]+`)
	idUnsafe   = regexp.MustCompile(`[^a-z0-9]+`)
)

// NativeName returns the Arbor name of an AM journey name: lower case, with each run of
// characters Arbor names do not allow replaced by "-" ("Push Login" becomes
// "push-login"). It returns "" when nothing usable is left.
func NativeName(am string) string {
	s := nameUnsafe.ReplaceAllString(strings.ToLower(am), "-")
	s = strings.TrimLeft(s, "-_")
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

// snakeID returns a snake_case id for a display text ("Email me" becomes "email_me").
func snakeID(s string) string {
	s = strings.Trim(idUnsafe.ReplaceAllString(strings.ToLower(s), "_"), "_")
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		s = "c_" + s
	}
	return s
}

// escape escapes one JSON pointer token.
func escape(tok string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
}

// obj is a decoded JSON object.
type obj = map[string]any

// decode reads a JSON value keeping numbers exact.
func decode(data []byte) (any, error) {
	var v any
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("data after the JSON value")
	}
	return v, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
