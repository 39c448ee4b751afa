package nodes_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/nodes"
)

type sub struct {
	Depth int `json:"depth" doc:"How deep."`
}

type everyTag struct {
	Name     string            `json:"name" required:"true" min:"1" max:"20" pattern:"^[a-z]+$" doc:"The name."`
	Mode     string            `json:"mode" enum:"fast|slow" default:"fast" doc:"The mode."`
	Count    int               `json:"count" min:"1" max:"9" default:"3" doc:"How many."`
	Ratio    float64           `json:"ratio" min:"0.5" doc:"A ratio."`
	On       bool              `json:"on" default:"true" doc:"Whether on."`
	Tags     []string          `json:"tags" min:"1" max:"3" enum:"a|b" doc:"Some tags."`
	Texts    map[string]string `json:"texts" default:"{\"en\":\"Hi\"}" doc:"Texts by locale."`
	Values   map[string]any    `json:"values" doc:"Any values."`
	Anything any               `json:"anything" doc:"Any JSON."`
	Sub      sub               `json:"sub" doc:"A nested object."`
	Children []json.RawMessage `json:"children" ref:"node_list" min:"1" doc:"Embedded nodes."`
	Ptr      *string           `json:"ptr" default:"p" doc:"An optional text."`
	Skipped  string            `json:"-"`
	hidden   string            //lint:ignore U1000 present to prove unexported fields stay out of the schema
}

func TestSchemaTags(t *testing.T) {
	s, docs, err := nodes.Schema(reflect.TypeFor[everyTag]())
	if err != nil {
		t.Fatal(err)
	}
	if s["type"] != "object" || s["additionalProperties"] != false || s["$schema"] == nil {
		t.Errorf("top level %v", s)
	}
	if got := s["required"]; !reflect.DeepEqual(got, []string{"name"}) {
		t.Errorf("required %v", got)
	}
	props := s["properties"].(map[string]any)
	if _, ok := props["Skipped"]; ok || len(props) != 12 {
		t.Errorf("properties %v", keys(props))
	}
	want := map[string]map[string]any{
		"name":     {"type": "string", "minLength": int64(1), "maxLength": int64(20), "pattern": "^[a-z]+$", "description": "The name."},
		"mode":     {"type": "string", "enum": []any{"fast", "slow"}, "default": "fast", "description": "The mode."},
		"count":    {"type": "integer", "minimum": int64(1), "maximum": int64(9), "default": float64(3), "description": "How many."},
		"ratio":    {"type": "number", "minimum": 0.5, "description": "A ratio."},
		"on":       {"type": "boolean", "default": true, "description": "Whether on."},
		"tags":     {"type": "array", "minItems": int64(1), "maxItems": int64(3), "items": map[string]any{"type": "string", "enum": []any{"a", "b"}}, "description": "Some tags."},
		"texts":    {"type": "object", "additionalProperties": map[string]any{"type": "string"}, "default": map[string]any{"en": "Hi"}, "description": "Texts by locale."},
		"values":   {"type": "object", "additionalProperties": map[string]any{}, "description": "Any values."},
		"anything": {"description": "Any JSON."},
		"ptr":      {"type": "string", "default": "p", "description": "An optional text."},
	}
	for name, w := range want {
		if got := props[name]; !reflect.DeepEqual(got, w) {
			t.Errorf("%s:\n got %#v\nwant %#v", name, got, w)
		}
	}
	subS := props["sub"].(map[string]any)
	if subS["type"] != "object" || subS["additionalProperties"] != false || subS["$schema"] != nil {
		t.Errorf("sub %v", subS)
	}
	children := props["children"].(map[string]any)
	if children["type"] != "array" || children["minItems"] != 1 || children["description"] != "Embedded nodes." {
		t.Errorf("children %v", children)
	}
	if nodes.NodeListSchema["minItems"] != nil || nodes.NodeListSchema["description"] != nil {
		t.Error("a field's tags leaked into the shared NodeListSchema")
	}

	gotDocs := map[string]nodes.FieldDoc{}
	for _, d := range docs {
		gotDocs[d.Name] = d
	}
	for name, w := range map[string]nodes.FieldDoc{
		"name":     {Name: "name", Type: "string", Doc: "The name.", Required: true},
		"mode":     {Name: "mode", Type: "enum", Doc: "The mode.", Default: "fast", Enum: []string{"fast", "slow"}},
		"count":    {Name: "count", Type: "integer", Doc: "How many.", Default: float64(3)},
		"tags":     {Name: "tags", Type: "list of string", Doc: "Some tags.", Enum: []string{"a", "b"}},
		"texts":    {Name: "texts", Type: "map of text (by locale)", Doc: "Texts by locale.", Default: map[string]any{"en": "Hi"}},
		"values":   {Name: "values", Type: "map", Doc: "Any values."},
		"sub":      {Name: "sub", Type: "object", Doc: "A nested object."},
		"children": {Name: "children", Type: "list of nodes", Doc: "Embedded nodes."},
		"anything": {Name: "anything", Type: "any", Doc: "Any JSON."},
		"ptr":      {Name: "ptr", Type: "string", Doc: "An optional text.", Default: "p"},
	} {
		if got := gotDocs[name]; !reflect.DeepEqual(got, w) {
			t.Errorf("doc %s:\n got %#v\nwant %#v", name, got, w)
		}
	}
	if docs[0].Name != "name" || docs[len(docs)-1].Name != "ptr" {
		t.Errorf("docs not in declaration order: %v", docs)
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestSchemaErrors(t *testing.T) {
	tests := []struct {
		name string
		typ  reflect.Type
		want string
	}{
		{"not a struct", reflect.TypeFor[string](), "must be a struct"},
		{"no doc", reflect.TypeFor[struct {
			A int `json:"a"`
		}](), "no doc tag"},
		{"no json name", reflect.TypeFor[struct {
			A int `doc:"x"`
		}](), "no json name"},
		{"bad default", reflect.TypeFor[struct {
			A int `json:"a" default:"three" doc:"x"`
		}](), "default"},
		{"bad min", reflect.TypeFor[struct {
			A int `json:"a" min:"one" doc:"x"`
		}](), "min tag"},
		{"unsupported type", reflect.TypeFor[struct {
			A chan int `json:"a" doc:"x"`
		}](), "unsupported"},
		{"int map keys", reflect.TypeFor[struct {
			A map[int]string `json:"a" doc:"x"`
		}](), "map keys"},
		{"nested without doc", reflect.TypeFor[struct {
			A struct {
				B int `json:"b"`
			} `json:"a" doc:"x"`
		}](), "no doc tag"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := nodes.Schema(tc.typ)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	b, err := nodes.Defaults(reflect.TypeFor[everyTag]())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"mode": "fast", "count": float64(3), "on": true, "texts": map[string]any{"en": "Hi"}, "ptr": "p"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults %v, want %v", got, want)
	}
	var c everyTag
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("defaults do not decode into the config: %v", err)
	}
	if c.Count != 3 || c.Mode != "fast" || !c.On || c.Ptr == nil || *c.Ptr != "p" {
		t.Errorf("decoded defaults %+v", c)
	}
}

func TestLocalize(t *testing.T) {
	texts := map[string]string{"en": "Hello", "fr": "Bonjour", "pt-BR": "Olá", "de_AT": "Servus"}
	tests := []struct {
		name     string
		texts    map[string]string
		locales  []string
		fallback string
		want     string
	}{
		{"exact", texts, []string{"fr"}, "x", "Bonjour"},
		{"first preference wins", texts, []string{"de", "fr", "en"}, "x", "Bonjour"},
		{"region falls back to language", texts, []string{"fr-CA"}, "x", "Bonjour"},
		{"region exact", texts, []string{"pt-br"}, "x", "Olá"},
		{"underscore keys", texts, []string{"de-AT"}, "x", "Servus"},
		{"underscore locales", texts, []string{"pt_BR"}, "x", "Olá"},
		{"case", texts, []string{"FR"}, "x", "Bonjour"},
		{"no match falls back to en", texts, []string{"ja"}, "x", "Hello"},
		{"no locales", texts, nil, "x", "Hello"},
		{"star", map[string]string{"*": "Any", "fr": "Fr"}, []string{"ja"}, "x", "Any"},
		{"nothing matches", map[string]string{"fr": "Fr"}, []string{"ja"}, "fallback", "fallback"},
		{"empty", nil, []string{"fr"}, "fallback", "fallback"},
		{"upper-case keys", map[string]string{"EN_gb": "Cheerio", "EN": "Hi"}, []string{"en-GB"}, "x", "Cheerio"},
		{"upper-case key for en", map[string]string{"EN": "Hi", "fr": "Fr"}, []string{"ja"}, "x", "Hi"},
		{"prefix of a key is no match", map[string]string{"english": "No", "en-us": "Yes"}, []string{"en-US"}, "x", "Yes"},
		{"base of an underscore locale", texts, []string{"fr_CA"}, "x", "Bonjour"},
		{"non-ASCII key", map[string]string{"ÉN": "Accent", "fr": "Fr"}, []string{"én"}, "x", "Accent"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := nodes.Localize(tc.texts, tc.locales, tc.fallback); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
