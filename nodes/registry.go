package nodes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// Spec declares a node type. C is its config struct; the struct's fields and tags are
// the one declaration from which the type's JSON Schema, its palette docs and its
// decoder all come (see Schema for the tags).
type Spec[C any] struct {
	// Type is the snake_case name journeys use, for example "push_sender".
	Type string
	// Title is the display name, Summary one sentence for the palette, Description more.
	Title, Summary, Description string
	// Category groups the palette ("basic", "decision", "mfa", ...).
	Category string
	// Input says whether the node may ask the client for input.
	Input bool
	// Outcomes are the type's fixed outcomes. OutcomesFor, when set, computes them from
	// the config instead (a choice node's choices, a push sender's optional skip).
	Outcomes    []Outcome
	OutcomesFor func(c *C) []Outcome
	// New builds the node from its decoded, validated config.
	New func(c *C, b *Build) (Node, error)
	// Example is a config, as JSON a journey author writes, for types whose defaults
	// alone do not build (a choice needs choices); empty means the defaults. The palette
	// shows it, and the node conformance suite (nodes/nodetest.Conformance) builds every
	// type from it, so a new type is checked without being listed anywhere.
	Example string
}

// Validator is implemented by config structs that check more than the schema can say.
// A plain error becomes one bad_config problem at the config's pointer. Validate may
// instead return Problems whose pointers are relative to the config ("/choices/2"; ""
// for the config itself), because it cannot know where the config sits in the journey:
// the registry prefixes them with the config's pointer and fills in an empty Code with
// bad_config.
type Validator interface {
	Validate() error
}

// OutcomeLister is implemented by built nodes whose outcomes depend on more than their
// own config (a page takes its last child's outcomes).
type OutcomeLister interface {
	Outcomes() []Outcome
}

// TypeInfo describes a registered node type, for docs, the palette and validation.
type TypeInfo struct {
	Type        string         `json:"type"`
	Title       string         `json:"title"`
	Summary     string         `json:"summary"`
	Description string         `json:"description,omitempty"`
	Category    string         `json:"category"`
	Input       bool           `json:"input"`
	Outcomes    []Outcome      `json:"outcomes,omitempty"`
	Dynamic     bool           `json:"dynamic_outcomes,omitempty"`
	Fields      []FieldDoc     `json:"fields"`
	Schema      map[string]any `json:"schema"`
	// Example is a config that builds: Spec.Example, or the defaults.
	Example json.RawMessage `json:"example"`

	build    func(raw json.RawMessage, b *Build) (Node, []Outcome, error)
	compiled *jsonschema.Schema
}

// Problem is one thing wrong with a journey or a node config.
type Problem struct {
	// Pointer is the JSON pointer of the offending value in the journey document.
	Pointer string `json:"pointer"`
	// Code is a stable id: unknown_type, bad_config, missing_start, ...
	Code string `json:"code"`
	// Message says what is wrong in a sentence.
	Message string `json:"message"`
}

// String formats the problem as "pointer: code: message".
func (p Problem) String() string {
	ptr := p.Pointer
	if ptr == "" {
		ptr = "/"
	}
	return fmt.Sprintf("%s: %s: %s", ptr, p.Code, p.Message)
}

// Problems is an error holding every problem found.
type Problems []Problem

// Error describes the error in a sentence.
func (ps Problems) Error() string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Problem codes.
const (
	CodeUnknownType      = "unknown_type"
	CodeBadConfig        = "bad_config"
	CodeBadJSON          = "bad_json"
	CodeMissingStart     = "missing_start"
	CodeDanglingTarget   = "dangling_target"
	CodeUnconnected      = "unconnected_outcome"
	CodeUnknownOutcome   = "unknown_outcome"
	CodeUnreachable      = "unreachable_node"
	CodeBadName          = "bad_name"
	CodeReservedID       = "reserved_id"
	CodeUnknownJourney   = "unknown_journey"
	CodeRecursiveJourney = "recursive_journey"
	CodeNotAllowedHere   = "not_allowed_here"
	// CodeReservedKey is a shared-state key a journey may not write (the password, "_"
	// keys, the reserved "arbor." namespace).
	CodeReservedKey = "reserved_key"
)

// Build is handed to Spec.New: the services to build with and the way to build children.
type Build struct {
	*Deps
	// Registry is the registry the node is being built from.
	Registry *Registry
	// Journey is the name of the journey being built, NodeID the node's id, and Pointer
	// the JSON pointer of the node's config in the journey document.
	Journey, NodeID, Pointer string
	// Parent is the type of the enclosing node when building a child (a page's child).
	Parent string
	// Journeys looks up other journeys by name when building (inner_journey checks its
	// target exists); nil when not available.
	Lookup func(name string) bool
}

// Child builds a child node (for example a page's) of type typ from raw at pointer. The
// child's problems are reported with their own pointers.
func (b *Build) Child(nodeID, pointer, parent, typ string, raw json.RawMessage) (Node, []Outcome, error) {
	cb := *b
	cb.NodeID = nodeID
	cb.Pointer = pointer
	cb.Parent = parent
	return b.Registry.Build(typ, raw, &cb)
}

// Registry holds node types. Families register into it with their Register functions;
// tests may build isolated registries with only the types they need.
type Registry struct {
	mu    sync.RWMutex
	types map[string]*TypeInfo
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{types: map[string]*TypeInfo{}} }

var snake = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// IsSnake reports whether s is a snake_case id.
func IsSnake(s string) bool { return snake.MatchString(s) }

// Register adds a node type to r. It panics on a programming error in the declaration
// (bad type name, duplicate, config that is not a struct, bad tag), as database/sql's
// Register does: these are caught by any test that imports the family.
func Register[C any](r *Registry, s Spec[C]) {
	if !IsSnake(s.Type) {
		panic(fmt.Sprintf("nodes: type %q is not snake_case", s.Type))
	}
	if s.New == nil {
		panic(fmt.Sprintf("nodes: type %q has no New", s.Type))
	}
	for _, o := range s.Outcomes {
		if !IsSnake(o.ID) {
			panic(fmt.Sprintf("nodes: type %q outcome %q is not snake_case", s.Type, o.ID))
		}
	}
	ct := reflect.TypeFor[C]()
	schema, fields, err := Schema(ct)
	if err != nil {
		panic(fmt.Sprintf("nodes: type %q: %v", s.Type, err))
	}
	defaults, err := Defaults(ct)
	if err != nil {
		panic(fmt.Sprintf("nodes: type %q: %v", s.Type, err))
	}
	compiled, err := compileSchema(s.Type, schema)
	if err != nil {
		panic(fmt.Sprintf("nodes: type %q: schema: %v", s.Type, err))
	}
	example := json.RawMessage(defaults)
	if s.Example != "" {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal([]byte(s.Example), &obj); err != nil {
			panic(fmt.Sprintf("nodes: type %q: example is not a JSON object: %v", s.Type, err))
		}
		example = json.RawMessage(s.Example)
	}
	info := &TypeInfo{
		Type: s.Type, Title: s.Title, Summary: s.Summary, Description: s.Description,
		Category: s.Category, Input: s.Input, Outcomes: s.Outcomes, Dynamic: s.OutcomesFor != nil,
		Fields: fields, Schema: schema, Example: example, compiled: compiled,
	}
	spec := s
	info.build = func(raw json.RawMessage, b *Build) (Node, []Outcome, error) {
		c := new(C)
		if err := json.Unmarshal(defaults, c); err != nil {
			return nil, nil, err
		}
		if len(bytes.TrimSpace(raw)) > 0 && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(c); err != nil {
				return nil, nil, Problems{{Pointer: b.Pointer, Code: CodeBadConfig, Message: err.Error()}}
			}
		}
		if v, ok := any(c).(Validator); ok {
			if err := v.Validate(); err != nil {
				var ps Problems
				if errors.As(err, &ps) {
					out := make(Problems, len(ps))
					for i, p := range ps {
						p.Pointer = b.Pointer + p.Pointer
						if p.Code == "" {
							p.Code = CodeBadConfig
						}
						out[i] = p
					}
					return nil, nil, out
				}
				return nil, nil, Problems{{Pointer: b.Pointer, Code: CodeBadConfig, Message: err.Error()}}
			}
		}
		n, err := spec.New(c, b)
		if err != nil {
			var ps Problems
			if errors.As(err, &ps) {
				return nil, nil, ps
			}
			return nil, nil, Problems{{Pointer: b.Pointer, Code: CodeBadConfig, Message: err.Error()}}
		}
		outs := spec.Outcomes
		if spec.OutcomesFor != nil {
			outs = spec.OutcomesFor(c)
		}
		if ol, ok := n.(OutcomeLister); ok {
			outs = ol.Outcomes()
		}
		return n, outs, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.types[s.Type]; dup {
		panic(fmt.Sprintf("nodes: type %q registered twice", s.Type))
	}
	r.types[s.Type] = info
}

// Lookup returns the type named typ.
func (r *Registry) Lookup(typ string) (*TypeInfo, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.types[typ]
	return t, ok
}

// Types returns every registered type, sorted by name (deterministic listings).
func (r *Registry) Types() []*TypeInfo {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*TypeInfo, 0, len(r.types))
	for _, t := range r.types {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}

// Build validates raw against type typ's schema, decodes it and builds the node. Every
// problem found is returned as Problems, with pointers under b.Pointer.
func (r *Registry) Build(typ string, raw json.RawMessage, b *Build) (Node, []Outcome, error) {
	info, ok := r.Lookup(typ)
	if !ok {
		return nil, nil, Problems{{Pointer: b.Pointer, Code: CodeUnknownType, Message: fmt.Sprintf("unknown node type %q", typ)}}
	}
	if ps := info.Check(raw, b.Pointer); len(ps) > 0 {
		return nil, nil, ps
	}
	if b.Registry == nil {
		b.Registry = r
	}
	return info.build(raw, b)
}

// Check validates raw against the type's JSON Schema and returns one problem per schema
// violation, with pointers under base.
func (t *TypeInfo) Check(raw json.RawMessage, base string) Problems {
	var v any = map[string]any{}
	if len(bytes.TrimSpace(raw)) > 0 {
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return Problems{{Pointer: base, Code: CodeBadJSON, Message: err.Error()}}
		}
		if inst != nil {
			v = inst
		}
	}
	err := t.compiled.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return Problems{{Pointer: base, Code: CodeBadConfig, Message: err.Error()}}
	}
	var ps Problems
	for _, leaf := range leaves(ve) {
		ptr := base
		for _, tok := range leaf.InstanceLocation {
			ptr += "/" + escapePointer(tok)
		}
		// An unknown field is reported at the field itself, not at the object holding
		// it, so that an editor can point at the offending line.
		if ap, ok := leaf.ErrorKind.(*kind.AdditionalProperties); ok {
			for _, name := range ap.Properties {
				ps = append(ps, Problem{Pointer: ptr + "/" + escapePointer(name), Code: CodeBadConfig, Message: fmt.Sprintf("unknown field %q", name)})
			}
			continue
		}
		ps = append(ps, Problem{Pointer: ptr, Code: CodeBadConfig, Message: leaf.ErrorKind.LocalizedString(printer)})
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Pointer < ps[j].Pointer })
	return ps
}

// escapePointer escapes one JSON pointer token (RFC 6901).
func escapePointer(tok string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
}

func leaves(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return []*jsonschema.ValidationError{e}
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}

// compileSchema compiles a reflected schema. The compiler accepts only the values
// encoding/json decodes to ([]any, float64, ...), not the []string and int64 that
// Schema builds, so the schema goes through its JSON form first.
func compileSchema(name string, schema map[string]any) (*jsonschema.Schema, error) {
	raw, err := json.Marshal(schema)
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	url := "urn:arbor:node:" + name
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	return c.Compile(url)
}
