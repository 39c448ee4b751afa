package journeys

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/arbor-auth/arbor/nodes"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// envelope returns the schema of the journey format with node configs left open: Parse
// checks the format with it, and Compile checks each config with its type's schema.
func envelope(configFor func(ref string) map[string]any, typeNames []string) map[string]any {
	nodeProps := map[string]any{
		"type":     map[string]any{"type": "string", "description": "The node type."},
		"title":    map[string]any{"type": "string", "description": "A display name for viewers."},
		"config":   map[string]any{"type": "object", "description": "The node type's configuration."},
		"outcomes": map[string]any{"type": "object", "description": "Each outcome id of the node, mapped to the id of the next node or to success / failure.", "additionalProperties": map[string]any{"type": "string"}},
	}
	node := map[string]any{
		"type":                 "object",
		"required":             []any{"type"},
		"additionalProperties": false,
		"properties":           nodeProps,
	}
	defs := map[string]any{"node": node}
	if typeNames != nil {
		var enum []any
		var allOf []any
		for _, t := range typeNames {
			enum = append(enum, t)
			defs["config_"+t] = configFor(t)
			allOf = append(allOf, map[string]any{
				"if":   map[string]any{"properties": map[string]any{"type": map[string]any{"const": t}}},
				"then": map[string]any{"properties": map[string]any{"config": map[string]any{"$ref": "#/$defs/config_" + t}}},
			})
		}
		nodeProps["type"] = map[string]any{"type": "string", "enum": enum, "description": "The node type."}
		node["allOf"] = allOf
	}
	return map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"$id":                  "https://arbor.dev/schemas/journey.json",
		"title":                "Arbor journey",
		"type":                 "object",
		"required":             []any{"name", "start", "nodes"},
		"additionalProperties": false,
		"properties": map[string]any{
			"name":        map[string]any{"type": "string", "description": "The journey's name: lower case letters, digits, '-' and '_'."},
			"description": map[string]any{"type": "string", "description": "What the journey is for."},
			"start":       map[string]any{"type": "string", "description": "The id of the first node."},
			"timeout":     map[string]any{"type": "string", "description": "How long a flow may take, as a Go duration such as \"5m\"."},
			"nodes":       map[string]any{"type": "object", "description": "The nodes, by id.", "additionalProperties": map[string]any{"$ref": "#/$defs/node"}},
		},
		"$defs": defs,
	}
}

var envelopeSchema = func() *jsonschema.Schema {
	c := jsonschema.NewCompiler()
	if err := c.AddResource("urn:arbor:journey", envelope(nil, nil)); err != nil {
		panic(err)
	}
	s, err := c.Compile("urn:arbor:journey")
	if err != nil {
		panic(err)
	}
	return s
}()

var printer = message.NewPrinter(language.English)

func checkEnvelope(data []byte) nodes.Problems {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nodes.Problems{{Code: nodes.CodeBadJSON, Message: err.Error()}}
	}
	err = envelopeSchema.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return nodes.Problems{{Code: nodes.CodeBadJSON, Message: err.Error()}}
	}
	var ps nodes.Problems
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		ptr := ""
		for _, tok := range e.InstanceLocation {
			ptr += "/" + escape(tok)
		}
		// One problem per unknown field, each at its own pointer: the library lists them
		// in map order, which changes from run to run.
		if ap, ok := e.ErrorKind.(*kind.AdditionalProperties); ok {
			for _, name := range ap.Properties {
				ps = append(ps, nodes.Problem{Pointer: ptr + "/" + escape(name), Code: nodes.CodeBadJSON, Message: fmt.Sprintf("unknown field %q", name)})
			}
			return
		}
		code := nodes.CodeBadJSON
		if len(e.InstanceLocation) == 0 && strings.Contains(e.ErrorKind.LocalizedString(printer), "start") {
			code = nodes.CodeMissingStart
		}
		ps = append(ps, nodes.Problem{Pointer: ptr, Code: code, Message: e.ErrorKind.LocalizedString(printer)})
	}
	walk(ve)
	sortProblems(ps)
	return ps
}

// Schema returns the JSON Schema of the whole journey format for the types in reg: the
// envelope plus, per node type, its config schema. Editors use it for completion and
// checking; `arbor journeys schema` prints it.
func Schema(reg *nodes.Registry) map[string]any {
	types := reg.Types()
	names := make([]string, len(types))
	byName := map[string]*nodes.TypeInfo{}
	for i, t := range types {
		names[i] = t.Type
		byName[t.Type] = t
	}
	return envelope(func(t string) map[string]any {
		s := map[string]any{}
		for k, v := range byName[t].Schema {
			if k != "$schema" {
				s[k] = v
			}
		}
		if d := byName[t].Summary; d != "" {
			s["description"] = d
		}
		return s
	}, names)
}
