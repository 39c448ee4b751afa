package nodes

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

var printer = message.NewPrinter(language.English)

// FieldDoc documents one config field for the palette and the generated docs.
type FieldDoc struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Doc      string   `json:"doc"`
	Default  any      `json:"default,omitempty"`
	Enum     []string `json:"enum,omitempty"`
	Required bool     `json:"required,omitempty"`
}

// Schema reflects a config struct into a JSON Schema (draft 2020-12) and field docs.
// These struct tags are read, beside `json`:
//
//	doc:"..."        the field's documentation (required on every field: docs are data)
//	default:"..."    the default; the literal text for strings, JSON otherwise
//	enum:"a|b|c"     allowed values
//	min:"1" max:"9"  numeric bounds; for strings and arrays, length bounds
//	pattern:"..."    a regular expression strings must match
//	required:"true"  the field must be present
//	ref:"node_list"  a list of embedded nodes ({type, config}), checked by the node itself
//
// Unknown fields are rejected (additionalProperties false), as the decoder does.
func Schema(t reflect.Type) (map[string]any, []FieldDoc, error) {
	if t.Kind() != reflect.Struct {
		return nil, nil, fmt.Errorf("config must be a struct, not %s", t)
	}
	props := map[string]any{}
	var required []string
	var docs []FieldDoc
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			return nil, nil, fmt.Errorf("field %s has no json name", f.Name)
		}
		doc := f.Tag.Get("doc")
		if doc == "" {
			return nil, nil, fmt.Errorf("field %s has no doc tag", f.Name)
		}
		fs, err := fieldSchema(f.Type, f.Tag)
		if err != nil {
			return nil, nil, fmt.Errorf("field %s: %w", f.Name, err)
		}
		fs["description"] = doc
		fd := FieldDoc{Name: name, Type: typeName(f.Type, f.Tag), Doc: doc}
		if d, ok := f.Tag.Lookup("default"); ok {
			v, err := parseDefault(f.Type, d)
			if err != nil {
				return nil, nil, fmt.Errorf("field %s: default: %w", f.Name, err)
			}
			fs["default"] = v
			fd.Default = v
		}
		if e := f.Tag.Get("enum"); e != "" {
			fd.Enum = strings.Split(e, "|")
		}
		if f.Tag.Get("required") == "true" {
			required = append(required, name)
			fd.Required = true
		}
		props[name] = fs
		docs = append(docs, fd)
	}
	s := map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"type":                 "object",
		"properties":           props,
		"additionalProperties": false,
	}
	if len(required) > 0 {
		s["required"] = required
	}
	return s, docs, nil
}

// NodeListSchema is the schema of an embedded node ({type, config}) in a ref:"node_list"
// field. Its config is checked by the registry when the parent builds the child.
var NodeListSchema = map[string]any{
	"type": "array",
	"items": map[string]any{
		"type":                 "object",
		"required":             []any{"type"},
		"additionalProperties": false,
		"properties": map[string]any{
			"id":     map[string]any{"type": "string", "pattern": snake.String()},
			"type":   map[string]any{"type": "string"},
			"config": map[string]any{"type": "object"},
		},
	},
}

func fieldSchema(t reflect.Type, tag reflect.StructTag) (map[string]any, error) {
	if tag.Get("ref") == "node_list" {
		cp := map[string]any{}
		for k, v := range NodeListSchema {
			cp[k] = v
		}
		if m := tag.Get("min"); m != "" {
			n, _ := strconv.Atoi(m)
			cp["minItems"] = n
		}
		return cp, nil
	}
	s := map[string]any{}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		s["type"] = "string"
		if e := tag.Get("enum"); e != "" {
			var vals []any
			for _, v := range strings.Split(e, "|") {
				vals = append(vals, v)
			}
			s["enum"] = vals
		}
		if p := tag.Get("pattern"); p != "" {
			s["pattern"] = p
		}
		if err := bounds(s, tag, "minLength", "maxLength"); err != nil {
			return nil, err
		}
	case reflect.Bool:
		s["type"] = "boolean"
	case reflect.Int, reflect.Int32, reflect.Int64:
		s["type"] = "integer"
		if err := bounds(s, tag, "minimum", "maximum"); err != nil {
			return nil, err
		}
	case reflect.Float64:
		s["type"] = "number"
		if err := bounds(s, tag, "minimum", "maximum"); err != nil {
			return nil, err
		}
	case reflect.Slice:
		s["type"] = "array"
		items, err := fieldSchema(t.Elem(), reflect.StructTag(elemTags(tag)))
		if err != nil {
			return nil, err
		}
		s["items"] = items
		if err := bounds(s, tag, "minItems", "maxItems"); err != nil {
			return nil, err
		}
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("map keys must be strings")
		}
		s["type"] = "object"
		vs, err := fieldSchema(t.Elem(), "")
		if err != nil {
			return nil, err
		}
		s["additionalProperties"] = vs
	case reflect.Struct:
		sub, _, err := Schema(t)
		if err != nil {
			return nil, err
		}
		delete(sub, "$schema")
		return sub, nil
	case reflect.Interface:
		// any JSON value
	default:
		return nil, fmt.Errorf("unsupported config type %s", t)
	}
	return s, nil
}

// elemTags passes the constraints that apply to elements (enum, pattern) down to a
// slice's items.
func elemTags(tag reflect.StructTag) string {
	var parts []string
	for _, k := range []string{"enum", "pattern"} {
		if v, ok := tag.Lookup(k); ok {
			parts = append(parts, fmt.Sprintf("%s:%q", k, v))
		}
	}
	return strings.Join(parts, " ")
}

func bounds(s map[string]any, tag reflect.StructTag, minKey, maxKey string) error {
	for tagKey, key := range map[string]string{"min": minKey, "max": maxKey} {
		v, ok := tag.Lookup(tagKey)
		if !ok {
			continue
		}
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("%s tag %q: %w", tagKey, v, err)
		}
		if n == float64(int64(n)) {
			s[key] = int64(n)
		} else {
			s[key] = n
		}
	}
	return nil
}

func parseDefault(t reflect.Type, d string) (any, error) {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.String {
		return d, nil
	}
	var v any
	if err := json.Unmarshal([]byte(d), &v); err != nil {
		return nil, err
	}
	return v, nil
}

// typeName is a field's type as the palette shows it; a "doctype" tag overrides it
// where the Go type says too little (a map of strings is text by locale unless told).
func typeName(t reflect.Type, tag reflect.StructTag) string {
	if d := tag.Get("doctype"); d != "" {
		return d
	}
	if tag.Get("ref") == "node_list" {
		return "list of nodes"
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		if tag.Get("enum") != "" {
			return "enum"
		}
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "integer"
	case reflect.Float64:
		return "number"
	case reflect.Slice:
		return "list of " + typeName(t.Elem(), "")
	case reflect.Map:
		if t.Elem().Kind() == reflect.String {
			return "map of text (by locale)"
		}
		return "map"
	case reflect.Struct:
		return "object"
	}
	return "any"
}

// Defaults returns the JSON object of a config struct's default tags; decoding it into
// a fresh config before the author's JSON gives every field its default.
func Defaults(t reflect.Type) ([]byte, error) {
	m := map[string]any{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		d, ok := f.Tag.Lookup("default")
		if !ok || name == "" || name == "-" {
			continue
		}
		v, err := parseDefault(f.Type, d)
		if err != nil {
			return nil, fmt.Errorf("field %s: default: %w", f.Name, err)
		}
		m[name] = v
	}
	return json.Marshal(m)
}

// Localize picks the text for the best of locales from texts (keys like "en", "en-US",
// "fr"), falling back to the language without region, then "en", then fallback. Keys
// and locales match whatever their case and whether they separate the region with "-"
// or "_".
func Localize(texts map[string]string, locales []string, fallback string) string {
	if len(texts) == 0 {
		return fallback
	}
	for _, l := range locales {
		if v, ok := localized(texts, l); ok {
			return v
		}
		if i := strings.IndexAny(l, "-_"); i >= 0 {
			if v, ok := localized(texts, l[:i]); ok {
				return v
			}
		}
	}
	if v, ok := localized(texts, "en"); ok {
		return v
	}
	if v, ok := localized(texts, "*"); ok {
		return v
	}
	return fallback
}

// localized returns the text of texts whose key is the language tag tag. It compares
// each key with tag rather than building a normalised copy of texts: pages and prompts
// are localized on every step, and a node's texts are a handful.
func localized(texts map[string]string, tag string) (string, bool) {
	if v, ok := texts[tag]; ok {
		return v, true
	}
	for k, v := range texts {
		if sameTag(k, tag) {
			return v, true
		}
	}
	return "", false
}

// sameTag reports whether a and b are the same language tag once lower-cased and with
// "_" read as "-".
func sameTag(a, b string) bool {
	if !ascii(a) || !ascii(b) {
		return normalTag(a) == normalTag(b)
	}
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if tagByte(a[i]) != tagByte(b[i]) {
			return false
		}
	}
	return true
}

func normalTag(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "-")) }

func tagByte(c byte) byte {
	switch {
	case c == '_':
		return '-'
	case 'A' <= c && c <= 'Z':
		return c + 'a' - 'A'
	}
	return c
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
