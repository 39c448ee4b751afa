package forgerock

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/journeys"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/nodes/basic"
	"github.com/arbor-auth/arbor/nodes/mfa"
)

func registry() *nodes.Registry {
	r := nodes.NewRegistry()
	basic.Register(r)
	mfa.Register(r)
	return r
}

func readFile(t *testing.T, path string) File {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return File{Name: path, Data: b}
}

// imported converts files and fails the test unless every journey converted.
func imported(t *testing.T, files ...File) map[string]*journeys.Journey {
	t.Helper()
	res := Import(files, Options{Registry: registry()})
	if !res.OK() {
		t.Fatalf("import refused: %v", problems(res))
	}
	out := map[string]*journeys.Journey{}
	for _, j := range res.Journeys {
		doc, ps := journeys.Parse(j.Doc)
		if ps != nil {
			t.Fatalf("%s: converted document does not parse: %v", j.Name, ps)
		}
		out[j.Name] = doc
	}
	return out
}

func problems(res *Result) []string {
	var out []string
	for _, p := range res.Problems {
		out = append(out, p.String())
	}
	for _, j := range res.Journeys {
		for _, p := range j.Problems {
			out = append(out, p.String())
		}
	}
	return out
}

func TestImportFixtures(t *testing.T) {
	js := imported(t, readFile(t, "testdata/login.frodo.json"), readFile(t, "testdata/push-mfa.frodo.json"))
	login := js["frodologin"]
	if login == nil {
		t.Fatalf("no frodologin among %v", js)
	}
	page := login.Nodes[login.Start]
	if page.Type != "page" || page.Title != "Sign in" {
		t.Fatalf("start node %+v, want the page", page)
	}
	var pc struct {
		Header map[string]string `json:"header"`
		Stage  string            `json:"stage"`
		Nodes  []struct{ ID, Type string }
	}
	if err := json.Unmarshal(page.Config, &pc); err != nil {
		t.Fatal(err)
	}
	if pc.Header["fr"] != "Connexion" || pc.Stage != "UsernamePassword" || len(pc.Nodes) != 2 ||
		pc.Nodes[0].Type != "username" || pc.Nodes[1].Type != "password" {
		t.Fatalf("page config %+v", pc)
	}
	check := login.Nodes[page.Outcomes["outcome"]]
	if check.Type != "data_store_decision" || check.Outcomes["true"] != "success" || check.Outcomes["false"] != "failure" {
		t.Fatalf("check %+v", check)
	}

	pm := js["frodopushmfa"]
	want := map[string]map[string]string{ // Arbor type -> its outcomes' target types
		"push_sender":          {"sent": "push_wait", "not_registered": "mfa_registration_options", "skipped": "success", "failure": "recovery_code_collector_decision"},
		"push_wait":            {"done": "push_result_verifier", "exit": "recovery_code_collector_decision"},
		"push_result_verifier": {"success": "success", "failure": "failure", "expired": "push_sender", "waiting": "push_wait"},
		"push_registration":    {"success": "recovery_code_display", "failure": "failure", "timeout": "mfa_registration_options"},
		"retry_limit":          {"retry": "recovery_code_collector_decision", "reject": "failure"},
	}
	for _, n := range pm.Nodes {
		w, ok := want[n.Type]
		if !ok {
			continue
		}
		delete(want, n.Type)
		for o, targetType := range w {
			target, ok := n.Outcomes[o]
			if !ok {
				t.Errorf("%s: outcome %s not connected", n.Type, o)
				continue
			}
			if got := typeOf(pm, target); got != targetType {
				t.Errorf("%s.%s leads to a %s, want %s", n.Type, o, got, targetType)
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("types missing from the import: %v", want)
	}
	for _, n := range pm.Nodes {
		var cfg map[string]any
		_ = json.Unmarshal(n.Config, &cfg)
		switch n.Type {
		case "push_sender":
			if cfg["push_type"] != "challenge" || cfg["capture_failure"] != true {
				t.Errorf("push_sender config %v", cfg)
			}
		case "retry_limit":
			// AM's default is to save on the user; the file says false.
			if cfg["save_on_user"] != false || cfg["retry_limit"] != float64(3) {
				t.Errorf("retry_limit config %v", cfg)
			}
		case "push_wait":
			if _, ok := cfg["waiting_message"]; ok {
				t.Errorf("an empty AM text map must leave Arbor's default: %v", cfg)
			}
		}
	}
}

func typeOf(j *journeys.Journey, id string) string {
	if id == journeys.Success || id == journeys.Failure {
		return id
	}
	return j.Nodes[id].Type
}

// frodoTree builds a one-tree frodo export around the given tree nodes and configs.
func frodoTree(name, entry string, treeNodes, configs map[string]any) File {
	b, _ := json.Marshal(map[string]any{"trees": map[string]any{name: map[string]any{
		"tree":  map[string]any{"_id": name, "entryNodeId": entry, "nodes": treeNodes},
		"nodes": configs,
	}}})
	return File{Name: name + ".json", Data: b}
}

func conf(typ string, attrs map[string]any) map[string]any {
	out := map[string]any{"_type": map[string]any{"_id": typ}}
	for k, v := range attrs {
		out[k] = v
	}
	return out
}

const (
	n1 = "11111111-1111-4111-8111-111111111111"
	n2 = "22222222-2222-4222-8222-222222222222"
)

func TestImportRefusals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files []File
		// want are "file: pointer: code" prefixes of the problems expected.
		want []string
	}{
		{"webauthn", []File{frodoTree("Passkey", n1,
			map[string]any{n1: map[string]any{"nodeType": "WebAuthnAuthenticationNode", "connections": map[string]any{"success": SuccessID}}},
			map[string]any{n1: conf("WebAuthnAuthenticationNode", nil)})},
			[]string{"Passkey.json: /trees/Passkey/tree/nodes/" + n1 + "/nodeType: unsupported_node"}},
		{"javascript decision", []File{frodoTree("Scripted", n1,
			map[string]any{n1: map[string]any{"nodeType": "ScriptedDecisionNode", "connections": map[string]any{"true": SuccessID}}},
			map[string]any{n1: conf("ScriptedDecisionNode", map[string]any{"script": "abc", "outcomes": []any{"true"}})})},
			[]string{"Scripted.json: /trees/Scripted/tree/nodes/" + n1 + "/nodeType: unsupported_node"}},
		{"outcome the type lacks, in AM's case", []File{frodoTree("Case", n1,
			map[string]any{n1: map[string]any{"nodeType": "PushResultVerifierNode", "connections": map[string]any{"true": SuccessID, "FALSE": FailureID}}},
			nil)},
			[]string{"Case.json: /trees/Case/tree/nodes/" + n1 + "/connections/true: unknown_outcome"}},
		{"attribute without equivalent", []File{frodoTree("Attr", n1,
			map[string]any{n1: map[string]any{"nodeType": "ValidatedUsernameNode", "connections": map[string]any{"outcome": SuccessID}}},
			map[string]any{n1: conf("ValidatedUsernameNode", map[string]any{"validateInput": true, "colour": "red"})})},
			[]string{
				"Attr.json: /trees/Attr/nodes/" + n1 + "/colour: unsupported_config",
				"Attr.json: /trees/Attr/nodes/" + n1 + "/validateInput: unsupported_config",
			}},
		{"bad enum", []File{frodoTree("Enum", n1,
			map[string]any{n1: map[string]any{"nodeType": "PushAuthenticationSenderNode", "connections": map[string]any{"SENT": SuccessID, "NOT_REGISTERED": FailureID, "SKIPPED": FailureID}}},
			map[string]any{n1: conf("PushAuthenticationSenderNode", map[string]any{"pushType": "LOUD"})})},
			[]string{"Enum.json: /trees/Enum/nodes/" + n1 + "/pushType: bad_config"}},
		{"missing inner journey", []File{frodoTree("Outer", n1,
			map[string]any{n1: map[string]any{"nodeType": "InnerTreeEvaluatorNode", "connections": map[string]any{"true": SuccessID, "false": FailureID}}},
			map[string]any{n1: conf("InnerTreeEvaluatorNode", map[string]any{"tree": "Elsewhere"})})},
			[]string{"Outer.json: /trees/Outer/nodes/" + n1 + "/tree: unknown_journey"}},
		{"inner journey refused", []File{
			frodoTree("Outer", n1,
				map[string]any{n1: map[string]any{"nodeType": "InnerTreeEvaluatorNode", "connections": map[string]any{"true": SuccessID, "false": FailureID}}},
				map[string]any{n1: conf("InnerTreeEvaluatorNode", map[string]any{"tree": "Inner"})}),
			frodoTree("Inner", n2,
				map[string]any{n2: map[string]any{"nodeType": "WebAuthnRegistrationNode", "connections": map[string]any{}}}, nil)},
			[]string{
				"Inner.json: /trees/Inner/tree/nodes/" + n2 + "/nodeType: unsupported_node",
				"Outer.json: /trees/Outer/nodes/" + n1 + "/tree: inner_journey_refused",
			}},
		{"dangling target", []File{frodoTree("Dangle", n1,
			map[string]any{n1: map[string]any{"nodeType": "DataStoreDecisionNode", "connections": map[string]any{"true": n2, "false": FailureID}}}, nil)},
			[]string{"Dangle.json: /trees/Dangle/tree/nodes/" + n1 + "/connections/true: dangling_target"}},
		{"locked elsewhere than false", []File{frodoTree("Locked", n1,
			map[string]any{n1: map[string]any{"nodeType": "IdentityStoreDecisionNode", "connections": map[string]any{"TRUE": SuccessID, "FALSE": FailureID, "LOCKED": SuccessID}}}, nil)},
			[]string{"Locked.json: /trees/Locked/tree/nodes/" + n1 + "/connections/LOCKED: unsupported_config"}},
		{"bad value for Arbor", []File{frodoTree("Wait", n1,
			map[string]any{n1: map[string]any{"nodeType": "PushWaitNode", "connections": map[string]any{"DONE": SuccessID, "EXITED": FailureID}}},
			map[string]any{n1: conf("PushWaitNode", map[string]any{"secondsToWait": 600})})},
			[]string{"Wait.json: /trees/Wait/tree/nodes/" + n1 + ": bad_config"}},
		{"not JSON", []File{{Name: "x.json", Data: []byte(`{"trees": `)}}, []string{"x.json: /: bad_json"}},
		{"unknown format", []File{{Name: "y.json", Data: []byte(`{"name":"native"}`)}}, []string{"y.json: /: unknown_format"}},
		{"unusable name", []File{frodoTree("%%%", n1,
			map[string]any{n1: map[string]any{"nodeType": "DataStoreDecisionNode", "connections": map[string]any{"true": SuccessID, "false": FailureID}}}, nil)},
			[]string{"%%%.json: /trees/%%%/tree/_id: bad_name"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := Import(tc.files, Options{Registry: registry()})
			got := problems(res)
			if res.OK() {
				t.Fatal("import accepted")
			}
			for _, j := range res.Journeys {
				if len(j.Problems) > 0 && j.Doc != nil {
					t.Errorf("%s refused but has a document", j.Name)
				}
			}
			if len(got) != len(tc.want) {
				t.Errorf("%d problems, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for _, w := range tc.want {
				found := false
				for _, g := range got {
					found = found || strings.HasPrefix(g, w)
				}
				if !found {
					t.Errorf("no problem %q among:\n%s", w, strings.Join(got, "\n"))
				}
			}
		})
	}
}

func TestImportPlatformLogin(t *testing.T) {
	// As AM's platform Login journeys: the identity store decision's lifecycle outcomes
	// and a login count.
	f := frodoTree("PlatformLogin", n1, map[string]any{
		n1: map[string]any{"nodeType": "IdentityStoreDecisionNode", "connections": map[string]any{
			"TRUE": n2, "FALSE": FailureID, "LOCKED": FailureID, "CANCELLED": FailureID, "EXPIRED": FailureID}},
		n2: map[string]any{"nodeType": "IncrementLoginCountNode", "connections": map[string]any{"outcome": SuccessID}},
	}, map[string]any{
		n1: conf("IdentityStoreDecisionNode", map[string]any{"useUniversalIdForUsername": true, "minimumPasswordLength": 8, "mixedCaseForPasswordChangeMessages": false}),
		n2: conf("IncrementLoginCountNode", map[string]any{"identityAttribute": "userName"}),
	})
	j := imported(t, f)["platformlogin"]
	if j == nil {
		t.Fatal("not imported")
	}
	if d := j.Nodes[n1]; d.Type != "data_store_decision" || d.Outcomes["true"] != n2 || d.Outcomes["false"] != journeys.Failure || len(d.Outcomes) != 2 {
		t.Fatalf("decision %+v", d)
	}
	if c := j.Nodes[n2]; c.Type != "increment_login_count" || c.Outcomes["outcome"] != journeys.Success {
		t.Fatalf("count %+v", c)
	}
}

func TestSetStateBothWays(t *testing.T) {
	f := frodoTree("State", n1, map[string]any{
		n1: map[string]any{"nodeType": "SetStateNode", "connections": map[string]any{"outcome": SuccessID}},
	}, map[string]any{n1: conf("SetStateNode", map[string]any{"attributes": map[string]any{"tier": "gold"}})})
	j := imported(t, f)["state"]
	if n := j.Nodes[n1]; n.Type != "set_state" || !sameJSON(json.RawMessage(n.Config), map[string]any{"values": map[string]any{"tier": "gold"}}) {
		t.Fatalf("set_state %+v %s", n, n.Config)
	}
	out, err := Export([]*journeys.Journey{j}, registry(), nil, nil)
	if err != nil || !strings.Contains(string(out), `"attributes": {`) {
		t.Fatalf("export: %v\n%s", err, out)
	}
}

func TestImportRepairsWhatAMTolerates(t *testing.T) {
	// As frodo-cli's push_registration export: a page with no connections leaves the
	// rest of the tree unreachable.
	f := frodoTree("Broken", n1, map[string]any{
		n1: map[string]any{"nodeType": "UsernameCollectorNode", "connections": map[string]any{}},
		n2: map[string]any{"nodeType": "DataStoreDecisionNode", "connections": map[string]any{"true": SuccessID}},
	}, nil)
	res := Import([]File{f}, Options{Registry: registry()})
	if !res.OK() {
		t.Fatal(problems(res))
	}
	j := res.Journeys[0]
	doc, ps := journeys.Parse(j.Doc)
	if ps != nil {
		t.Fatal(ps)
	}
	if len(doc.Nodes) != 1 || doc.Nodes[n1].Outcomes["outcome"] != journeys.Failure {
		t.Fatalf("repaired journey %s", j.Doc)
	}
	if len(j.Notes) != 2 {
		t.Fatalf("notes %v, want one for the outcome and one for the dropped node", j.Notes)
	}
}

// TestImportEnabled: a tree's "enabled" is carried over (a tree disabled in AM is not
// made live by its import), absent it says nothing, and anything but a boolean is a
// problem at its pointer.
func TestImportEnabled(t *testing.T) {
	tree := func(enabled any) File {
		f := frodoTree("Flag", n1, map[string]any{n1: map[string]any{"nodeType": "UsernameCollectorNode", "connections": map[string]any{"outcome": SuccessID}}}, nil)
		if enabled == nil {
			return f
		}
		var exp map[string]any
		_ = json.Unmarshal(f.Data, &exp)
		exp["trees"].(map[string]any)["Flag"].(map[string]any)["tree"].(map[string]any)["enabled"] = enabled
		f.Data, _ = json.Marshal(exp)
		return f
	}
	for _, tc := range []struct {
		name    string
		enabled any
		want    string // the journey's Enabled, or "problem"
	}{
		{"disabled", false, "false"},
		{"enabled", true, "true"},
		{"absent", nil, "nil"},
		{"not a boolean", "no", "problem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := Import([]File{tree(tc.enabled)}, Options{Registry: registry()})
			got := "nil"
			switch j := res.Journeys[0]; {
			case len(j.Problems) > 0:
				got = "problem"
				if !strings.Contains(j.Problems[0].String(), "/trees/Flag/tree/enabled: bad_json") {
					t.Errorf("problem %s, want one at /trees/Flag/tree/enabled", j.Problems[0])
				}
			case j.Enabled != nil:
				got = fmt.Sprint(*j.Enabled)
			}
			if got != tc.want {
				t.Fatalf("Enabled %s, want %s", got, tc.want)
			}
		})
	}
}

func TestImportFormats(t *testing.T) {
	single := readFile(t, "testdata/login.frodo.json")
	// AM's REST tree with amster node configs beside it, and a lowercase innernodes.
	var e map[string]any
	_ = json.Unmarshal(single.Data, &e)
	tree, _ := json.Marshal(e["tree"])
	var files []File
	files = append(files, File{Name: "tree.json", Data: tree})
	for _, key := range []string{"nodes", "innerNodes"} {
		for id, c := range e[key].(map[string]any) {
			typ := c.(map[string]any)["_type"].(map[string]any)["_id"]
			b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"entityType": typ, "entityId": id}, "data": c})
			files = append(files, File{Name: id + ".json", Data: b})
		}
	}
	amster, _ := json.Marshal(map[string]any{"metadata": map[string]any{"entityType": "AuthTree", "entityId": "FrodoLogin"}, "data": e["tree"]})
	lower := strings.Replace(string(single.Data), `"innerNodes"`, `"innernodes"`, 1)
	want := imported(t, single)["frodologin"]
	for name, set := range map[string][]File{
		"rest tree + amster nodes":   files,
		"amster tree + amster nodes": append([]File{{Name: "tree.json", Data: amster}}, files[1:]...),
		"lowercase innernodes":       {{Name: "old.json", Data: []byte(lower)}},
	} {
		t.Run(name, func(t *testing.T) {
			got := imported(t, set...)["frodologin"]
			a, _ := json.Marshal(got)
			b, _ := json.Marshal(want)
			if string(a) != string(b) {
				t.Fatalf("got\n%s\nwant\n%s", a, b)
			}
		})
	}
}

func TestExportRoundTrip(t *testing.T) {
	reg := registry()
	builtin, err := journeys.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"login", "push-mfa"} {
		t.Run(name, func(t *testing.T) {
			native, ps := journeys.Parse(builtin[name])
			if ps != nil {
				t.Fatal(ps)
			}
			first, err := Export([]*journeys.Journey{native}, reg, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			back := imported(t, File{Name: name + ".frodo.json", Data: first})[name]
			if back == nil {
				t.Fatalf("%s not imported back", name)
			}
			if len(back.Nodes) != len(native.Nodes) {
				t.Fatalf("%d nodes back, want %d", len(back.Nodes), len(native.Nodes))
			}
			sameJourneyOfRoundTrip(t, reg, builtin[name], back)
			second, err := Export([]*journeys.Journey{back}, reg, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if string(first) != string(second) {
				t.Fatalf("export of the import differs:\n%s\n---\n%s", first, second)
			}
			// frodo's single-journey shape.
			var e map[string]any
			_ = json.Unmarshal(first, &e)
			for _, k := range []string{"tree", "nodes", "innerNodes", "scripts", "themes"} {
				if _, ok := e[k]; !ok {
					t.Errorf("export lacks %q", k)
				}
			}
		})
	}
}

// sameJourneyOfRoundTrip checks SameJourney on a built-in journey and its round trip
// through AM's form, back: the same journey as the stored document though its node ids
// and spelled-out defaults differ; with another start, not.
func sameJourneyOfRoundTrip(t *testing.T, reg *nodes.Registry, stored []byte, back *journeys.Journey) {
	t.Helper()
	doc, err := json.Marshal(back)
	if err != nil {
		t.Fatal(err)
	}
	if string(doc) == string(stored) {
		t.Fatal("the round trip changed nothing, so SameJourney is not shown anything")
	}
	if !SameJourney(stored, doc, reg) {
		t.Error("its own round trip is not the same journey")
	}
	var d map[string]any
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	d["start"] = "failure"
	changed, _ := json.Marshal(d)
	if SameJourney(stored, changed, reg) {
		t.Error("a journey with another start is the same journey")
	}
	if SameJourney([]byte(`{"name":`), doc, reg) {
		t.Error("a stored document that does not parse is the same journey")
	}
}

func TestExportRefusals(t *testing.T) {
	reg := registry()
	for _, tc := range []struct {
		name, doc string
		want      string
	}{
		{"expression decision", `{"name":"x","start":"a","nodes":{"a":{"type":"scripted_decision","config":{"expression":"true","outcomes":["true","false"]},"outcomes":{"true":"success","false":"failure"}}}}`,
			"/nodes/a/type: unsupported_node"},
		{"state from expressions", `{"name":"x","start":"a","nodes":{"a":{"type":"set_state","config":{"expressions":{"k":"1+1"}},"outcomes":{"outcome":"success"}}}}`,
			"/nodes/a/config/expressions: unsupported_config"},
		{"translated prompt", `{"name":"x","start":"a","nodes":{"a":{"type":"username","config":{"prompt":{"fr":"Nom"}},"outcomes":{"outcome":"success"}}}}`,
			"/nodes/a/config/prompt: unsupported_config"},
		{"account name AM lacks", `{"name":"x","start":"a","nodes":{"a":{"type":"push_registration","config":{"account_name":"phone"},"outcomes":{"success":"success","failure":"failure","timeout":"failure"}}}}`,
			"/nodes/a/config/account_name: unsupported_config"},
		{"page child", `{"name":"x","start":"p","nodes":{"p":{"type":"page","config":{"nodes":[{"type":"username","config":{"prompt":{"en":"Who?"}}}]},"outcomes":{"outcome":"success"}}}}`,
			"/nodes/p/config/nodes/0/config/prompt: unsupported_config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, ps := journeys.Parse([]byte(tc.doc))
			if ps != nil {
				t.Fatal(ps)
			}
			_, err := Export([]*journeys.Journey{j}, reg, nil, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestNativeName(t *testing.T) {
	for in, want := range map[string]string{
		"Login": "login", "FrodoTestJourney1": "frodotestjourney1", "Push Login": "push-login",
		"push_registration": "push_registration", "--x": "x", "%%%": "",
	} {
		if got := NativeName(in); got != want {
			t.Errorf("NativeName(%q) = %q, want %q", in, got, want)
		}
	}
}

// Until the OATH nodes are in this registry, stand-ins with their configs let the
// conversion be tested; with the real ones the real schemas check it.
type oathRegStandIn struct {
	Issuer                string            `json:"issuer" default:"Arbor" doc:"Issuer."`
	AccountName           string            `json:"account_name" default:"username" doc:"Account name."`
	Kind                  string            `json:"kind" default:"totp" enum:"totp|hotp" doc:"Kind."`
	Algorithm             string            `json:"algorithm" default:"SHA1" enum:"SHA1|SHA256|SHA512" doc:"Hash."`
	Digits                int               `json:"digits" default:"6" min:"6" max:"8" doc:"Digits."`
	Period                int               `json:"period" default:"30" doc:"Period."`
	GenerateRecoveryCodes bool              `json:"generate_recovery_codes" default:"true" doc:"Codes."`
	ScanMessage           map[string]string `json:"scan_message" doc:"Scan message."`
}

type oathVerifierStandIn struct {
	TOTPWindow    int `json:"totp_window" default:"1" doc:"Window."`
	MaxClockDrift int `json:"max_clock_drift" default:"5" doc:"Drift."`
	HOTPLookAhead int `json:"hotp_look_ahead" default:"10" doc:"Look ahead."`
}

func withOATH(r *nodes.Registry) *nodes.Registry {
	noop := func() (nodes.Node, error) {
		return nodes.NodeFunc(func(*nodes.Context) (nodes.Action, error) { return nodes.Goto("success"), nil }), nil
	}
	if _, ok := r.Lookup("oath_registration"); !ok {
		nodes.Register(r, nodes.Spec[oathRegStandIn]{Type: "oath_registration", Outcomes: []nodes.Outcome{{ID: "success"}, {ID: "failure"}},
			New: func(*oathRegStandIn, *nodes.Build) (nodes.Node, error) { return noop() }})
	}
	if _, ok := r.Lookup("oath_token_verifier"); !ok {
		nodes.Register(r, nodes.Spec[oathVerifierStandIn]{Type: "oath_token_verifier", Outcomes: []nodes.Outcome{{ID: "success"}, {ID: "failure"}, {ID: "not_registered"}},
			New: func(*oathVerifierStandIn, *nodes.Build) (nodes.Node, error) { return noop() }})
	}
	return r
}

func TestImportOATH(t *testing.T) {
	reg := withOATH(registry())
	// As frodo-cli's oath_registration export: a verifier, registration when the user
	// has no device.
	f := frodoTree("oath_registration", n1, map[string]any{
		n1: map[string]any{"nodeType": "OathTokenVerifierNode", "connections": map[string]any{
			"successOutcome": SuccessID, "failureOutcome": FailureID, "notRegisteredOutcome": n2}},
		n2: map[string]any{"nodeType": "OathRegistrationNode", "connections": map[string]any{"successOutcome": n1, "failureOutcome": FailureID}},
	}, map[string]any{
		n1: conf("OathTokenVerifierNode", map[string]any{"algorithm": "TOTP", "hotpWindowSize": 100, "isRecoveryCodeAllowed": false,
			"maximumAllowedClockDrift": 5, "totpHashAlgorithm": "HMAC_SHA1", "totpTimeInterval": 30, "totpTimeSteps": 2}),
		n2: conf("OathRegistrationNode", map[string]any{"accountName": "USERNAME", "addChecksum": false, "algorithm": "TOTP",
			"bgColor": "032b75", "generateRecoveryCodes": true, "imgUrl": "", "issuer": "ForgeRock", "minSharedSecretLength": 32,
			"passwordLength": "EIGHT_DIGITS", "postponeDeviceProfileStorage": false, "scanQRCodeMessage": map[string]any{},
			"totpHashAlgorithm": "HMAC_SHA256", "totpTimeInterval": 30, "truncationOffset": -1}),
	})
	res := Import([]File{f}, Options{Registry: reg})
	if !res.OK() {
		t.Fatal(problems(res))
	}
	j, ps := journeys.Parse(res.Journeys[0].Doc)
	if ps != nil {
		t.Fatal(ps)
	}
	var reg2, ver map[string]any
	_ = json.Unmarshal(j.Nodes[n2].Config, &reg2)
	_ = json.Unmarshal(j.Nodes[n1].Config, &ver)
	if reg2["digits"] != float64(8) || reg2["algorithm"] != "SHA256" || reg2["kind"] != "totp" || reg2["issuer"] != "ForgeRock" {
		t.Errorf("registration config %v", reg2)
	}
	if ver["totp_window"] != float64(2) || ver["hotp_look_ahead"] != float64(100) {
		t.Errorf("verifier config %v", ver)
	}
	if j.Nodes[n1].Outcomes["not_registered"] != n2 {
		t.Errorf("verifier outcomes %v", j.Nodes[n1].Outcomes)
	}
	// And back: AM's enum names and outcome ids.
	out, err := Export([]*journeys.Journey{j}, reg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"passwordLength": "EIGHT_DIGITS"`, `"totpHashAlgorithm": "HMAC_SHA256"`, `"notRegisteredOutcome"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("export lacks %s", want)
		}
	}
	// A longer secret than Arbor makes, and recovery codes on the verifier, are refused.
	bad := frodoTree("bad", n2, map[string]any{
		n2: map[string]any{"nodeType": "OathRegistrationNode", "connections": map[string]any{"successOutcome": SuccessID, "failureOutcome": FailureID}},
	}, map[string]any{n2: conf("OathRegistrationNode", map[string]any{"minSharedSecretLength": 64})})
	if res := Import([]File{bad}, Options{Registry: reg}); res.OK() || !strings.Contains(strings.Join(problems(res), "\n"), "minSharedSecretLength: unsupported_config") {
		t.Errorf("long secret: %v", problems(res))
	}
}

// TestSupports: the AM node types Import converts, aliases included, and none other;
// Types lists exactly those.
func TestSupports(t *testing.T) {
	reg := registry()
	for _, tc := range []struct {
		typ  string
		want bool
	}{
		{"PageNode", true},
		{"ValidatedUsernameNode", true},
		{"IdentityStoreDecisionNode", true},
		{"PushRegistrationNode", true},
		{"WebAuthnAuthenticationNode", false},
		{"ScriptedDecisionNode", false},
		{"", false},
	} {
		if got := Supports(tc.typ, reg); got != tc.want {
			t.Errorf("Supports(%q) = %v, want %v", tc.typ, got, tc.want)
		}
	}
	types := Types(reg)
	seen := map[string]bool{}
	for _, ty := range types {
		if !Supports(ty.ID, reg) || ty.Name == "" || seen[ty.ID] {
			t.Errorf("Types lists %+v", ty)
		}
		seen[ty.ID] = true
	}
	if !seen["PageNode"] || !seen["ValidatedPasswordNode"] || len(types) < 20 {
		t.Errorf("Types: %v", types)
	}
}
