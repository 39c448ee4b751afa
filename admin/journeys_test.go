package admin_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/journeys"
)

// hello is a one-node journey whose message names its version, so a flow shows which
// version it runs.
func hello(text string) string {
	return fmt.Sprintf(`{"name":"hello","start":"m","nodes":{"m":{"type":"message","config":{"message":{"en":%q}},"outcomes":{"true":"success","false":"failure"}}}}`, text)
}

// TestJourneyDiffIsJourneysDiff checks that the API's diff is journeys.DiffVersions'
// text, byte for byte, for versions whose text an ad hoc printer would change: "<", ">"
// and "&", which encoding/json escapes by default.
func TestJourneyDiffIsJourneysDiff(t *testing.T) {
	e := start(t)
	root := e.root(t)
	v1, v2 := hello("a < b & c"), hello("a > b & c")
	want(t, "create", e.call(t, root, http.MethodPost, "/journeys", v1), http.StatusCreated, "")
	want(t, "update", e.call(t, root, http.MethodPut, "/journeys/hello", v2, "If-Match", `"1"`), http.StatusOK, "")
	r := e.call(t, root, http.MethodGet, "/journeys/hello/diff?from=1&to=2", "")
	want(t, "diff", r, http.StatusOK, "")
	got, _ := r.obj(t)["diff"].(string)
	wantDiff := journeys.DiffVersions(
		&journeys.Version{Name: "hello", Version: 1, Doc: []byte(v1)},
		&journeys.Version{Name: "hello", Version: 2, Doc: []byte(v2)})
	if got != wantDiff {
		t.Fatalf("API diff:\n%s\njourneys.DiffVersions:\n%s", got, wantDiff)
	}
	if !strings.Contains(got, `-          "en": "a < b & c"`) || !strings.Contains(got, `+          "en": "a > b & c"`) {
		t.Fatalf("diff does not show the text as written:\n%s", got)
	}
}

// TestJourneyEndpoints walks every journeys endpoint through its happy path and its
// refusals, on both stores: each refusal changes nothing.
func TestJourneyEndpoints(t *testing.T) {
	onEveryStore(t, func(t *testing.T, e *env) {
		root := e.root(t)
		// Create.
		r := e.call(t, root, http.MethodPost, "/journeys", hello("one"))
		want(t, "create", r, http.StatusCreated, "")
		if m := r.obj(t); m["name"] != "hello" || m["version"] != 1.0 {
			t.Fatalf("create answered %s", r.raw)
		}
		want(t, "create again", e.call(t, root, http.MethodPost, "/journeys", hello("two")), http.StatusConflict, "journey.exists")

		// Invalid documents, with pointers; nothing saved.
		bad := `{"name":"hello","start":"m","nodes":{"m":{"type":"no_such_type","outcomes":{"true":"success"}}}}`
		r = e.call(t, root, http.MethodPut, "/journeys/hello", bad, "If-Match", `"1"`)
		want(t, "unknown node type", r, http.StatusUnprocessableEntity, "journey.invalid")
		if !strings.Contains(r.raw, `"pointer":"/nodes/m/type"`) || !strings.Contains(r.raw, `"code":"unknown_type"`) {
			t.Fatalf("unknown type problems: %s", r.raw)
		}
		dangling := strings.Replace(hello("x"), `"false":"failure"`, `"false":"nowhere"`, 1)
		r = e.call(t, root, http.MethodPut, "/journeys/hello", dangling, "If-Match", `"1"`)
		want(t, "dangling target", r, http.StatusUnprocessableEntity, "journey.invalid")
		if !strings.Contains(r.raw, `"pointer":"/nodes/m/outcomes/false"`) {
			t.Fatalf("dangling problems: %s", r.raw)
		}
		want(t, "syntax error", e.call(t, root, http.MethodPost, "/journeys", `{"name":`), http.StatusUnprocessableEntity, "journey.invalid")
		r = e.call(t, root, http.MethodPut, "/journeys/hello", strings.Replace(hello("x"), `"hello"`, `"other"`, 1), "If-Match", `"1"`)
		want(t, "name mismatch", r, http.StatusUnprocessableEntity, "journey.invalid")
		if !strings.Contains(r.raw, `"pointer":"/name"`) {
			t.Fatalf("name mismatch problems: %s", r.raw)
		}

		// Update with optimistic concurrency.
		want(t, "no If-Match", e.call(t, root, http.MethodPut, "/journeys/hello", hello("two")), http.StatusPreconditionRequired, "journey.if_match_required")
		want(t, "PUT v2", e.call(t, root, http.MethodPut, "/journeys/hello", hello("two"), "If-Match", `"1"`), http.StatusOK, "")
		want(t, "stale If-Match", e.call(t, root, http.MethodPut, "/journeys/hello", hello("three"), "If-Match", `"1"`), http.StatusPreconditionFailed, "journey.stale_version")
		want(t, "PUT missing", e.call(t, root, http.MethodPut, "/journeys/nope", strings.Replace(hello("x"), `"hello"`, `"nope"`, 1), "If-Match", `"1"`),
			http.StatusNotFound, "journey.not_found")

		// Get, any version.
		r = e.call(t, root, http.MethodGet, "/journeys/hello", "")
		want(t, "get", r, http.StatusOK, "")
		if r.header.Get("ETag") != `"2"` || !strings.Contains(r.raw, `"two"`) || r.obj(t)["enabled"] != true {
			t.Fatalf("get: ETag %s %s", r.header.Get("ETag"), r.raw)
		}
		r = e.call(t, root, http.MethodGet, "/journeys/hello?version=1", "")
		if r.status != 200 || r.header.Get("ETag") != `"1"` || !strings.Contains(r.raw, `"one"`) {
			t.Fatalf("get v1: %d %s", r.status, r.raw)
		}
		want(t, "get v9", e.call(t, root, http.MethodGet, "/journeys/hello?version=9", ""), http.StatusNotFound, "journey.not_found")
		want(t, "get bad version", e.call(t, root, http.MethodGet, "/journeys/hello?version=x", ""), http.StatusBadRequest, "request.invalid")
		want(t, "get missing", e.call(t, root, http.MethodGet, "/journeys/nope", ""), http.StatusNotFound, "journey.not_found")

		// List.
		r = e.call(t, root, http.MethodGet, "/journeys", "")
		var names []string
		for _, x := range r.list(t) {
			j := x.(map[string]any)
			names = append(names, j["name"].(string))
			if j["name"] == "hello" && (j["version"] != 2.0 || j["source"] != "api") {
				t.Fatalf("list entry %v", j)
			}
		}
		builtin, _ := journeys.Builtin()
		wantNames := []string{"hello"}
		for n := range builtin {
			wantNames = append(wantNames, n)
		}
		slices.Sort(wantNames)
		if got := strings.Join(names, ","); got != strings.Join(wantNames, ",") {
			t.Fatalf("list: %s, want %v", got, wantNames)
		}

		// Validate without saving.
		want(t, "validate ok", e.call(t, root, http.MethodPost, "/journeys/validate", hello("four")), http.StatusOK, "")
		r = e.call(t, root, http.MethodPost, "/journeys/validate", bad)
		want(t, "validate bad", r, http.StatusUnprocessableEntity, "journey.invalid")
		if !strings.Contains(r.raw, "/nodes/m/type") {
			t.Fatalf("validate problems: %s", r.raw)
		}

		// Versions and diff.
		r = e.call(t, root, http.MethodGet, "/journeys/hello/versions", "")
		vs := r.list(t)
		if len(vs) != 2 || vs[0].(map[string]any)["version"] != 1.0 || !strings.HasPrefix(vs[1].(map[string]any)["actor"].(string), "token:") {
			t.Fatalf("versions: %s", r.raw)
		}
		r = e.call(t, root, http.MethodGet, "/journeys/hello/diff?from=1&to=2", "")
		d, _ := r.obj(t)["diff"].(string)
		if r.status != 200 || !strings.Contains(d, `-          "en": "one"`) || !strings.Contains(d, `+          "en": "two"`) {
			t.Fatalf("diff: %d %s", r.status, r.raw)
		}
		want(t, "diff of a missing version", e.call(t, root, http.MethodGet, "/journeys/hello/diff?from=1&to=7", ""), http.StatusNotFound, "journey.not_found")
		want(t, "diff without numbers", e.call(t, root, http.MethodGet, "/journeys/hello/diff", ""), http.StatusBadRequest, "request.invalid")

		// Rollback: a new version equal to an old one.
		want(t, "rollback without If-Match", e.call(t, root, http.MethodPost, "/journeys/hello/rollback", `{"version":1}`), http.StatusPreconditionRequired, "journey.if_match_required")
		want(t, "rollback stale", e.call(t, root, http.MethodPost, "/journeys/hello/rollback", `{"version":1}`, "If-Match", `"1"`), http.StatusPreconditionFailed, "journey.stale_version")
		want(t, "rollback to nothing", e.call(t, root, http.MethodPost, "/journeys/hello/rollback", `{"version":5}`, "If-Match", `"2"`), http.StatusNotFound, "journey.not_found")
		r = e.call(t, root, http.MethodPost, "/journeys/hello/rollback", `{"version":1}`, "If-Match", `"2"`)
		if r.status != 200 || r.obj(t)["version"] != 3.0 {
			t.Fatalf("rollback: %d %s", r.status, r.raw)
		}
		if r := e.call(t, root, http.MethodGet, "/journeys/hello", ""); !strings.Contains(r.raw, `"one"`) || r.header.Get("ETag") != `"3"` {
			t.Fatalf("after rollback: %s", r.raw)
		}

		// Enable and disable; the default and step-up journeys must stay enabled.
		r = e.call(t, root, http.MethodPost, "/journeys/hello/disable", "")
		if r.status != 200 || r.obj(t)["enabled"] != false {
			t.Fatalf("disable: %d %s", r.status, r.raw)
		}
		if r := e.call(t, root, http.MethodGet, "/journeys/hello", ""); r.obj(t)["enabled"] != false {
			t.Fatalf("get after disable: %s", r.raw)
		}
		want(t, "disable login", e.call(t, root, http.MethodPost, "/journeys/login/disable", ""), http.StatusConflict, "journey.required")
		// An app-only user's step-up journey is needed as much as the push one.
		want(t, "disable oath-mfa", e.call(t, root, http.MethodPost, "/journeys/oath-mfa/disable", ""), http.StatusConflict, "journey.required")
		want(t, "disable missing", e.call(t, root, http.MethodPost, "/journeys/nope/disable", ""), http.StatusNotFound, "journey.not_found")
		if st, body := restStart(t, e.URL); st != http.StatusBadRequest || !strings.Contains(string(body), "disabled") {
			t.Fatalf("a flow of the disabled journey started: %d %s", st, body)
		}
		want(t, "enable", e.call(t, root, http.MethodPost, "/journeys/hello/enable", ""), http.StatusOK, "")
		if st, body := restStart(t, e.URL); st != http.StatusOK {
			t.Fatalf("a flow of the enabled journey: %d %s", st, body)
		}

		// Delete: refused while in use or an enabled built-in.
		outer := `{"name":"outer","start":"i","nodes":{"i":{"type":"inner_journey","config":{"journey":"hello"},"outcomes":{"true":"success","false":"failure"}}}}`
		want(t, "create outer", e.call(t, root, http.MethodPost, "/journeys", outer), http.StatusCreated, "")
		want(t, "delete in use", e.call(t, root, http.MethodDelete, "/journeys/hello", ""), http.StatusConflict, "journey.in_use")
		want(t, "delete built-in", e.call(t, root, http.MethodDelete, "/journeys/radius", ""), http.StatusConflict, "journey.builtin_enabled")
		want(t, "delete outer", e.call(t, root, http.MethodDelete, "/journeys/outer", ""), http.StatusNoContent, "")
		want(t, "delete hello", e.call(t, root, http.MethodDelete, "/journeys/hello", ""), http.StatusNoContent, "")
		want(t, "get deleted", e.call(t, root, http.MethodGet, "/journeys/hello", ""), http.StatusNotFound, "journey.not_found")
		want(t, "disable radius", e.call(t, root, http.MethodPost, "/journeys/radius/disable", ""), http.StatusOK, "")
		want(t, "delete disabled built-in", e.call(t, root, http.MethodDelete, "/journeys/radius", ""), http.StatusNoContent, "")
		want(t, "delete twice", e.call(t, root, http.MethodDelete, "/journeys/radius", ""), http.StatusNotFound, "journey.not_found")

		// Every change was audited with its actor.
		for _, typ := range []string{"admin.journey.created", "admin.journey.updated", "admin.journey.rolled_back",
			"admin.journey.disabled", "admin.journey.enabled", "admin.journey.deleted"} {
			if e.audit.Count(typ) == 0 {
				t.Errorf("no %s audit event", typ)
			}
		}
		for _, ev := range e.audit.Events() {
			if strings.HasPrefix(ev.Type, "admin.") && !strings.HasPrefix(fmt.Sprint(ev.Details["actor"]), "token:") {
				t.Errorf("%s without actor: %v", ev.Type, ev.Details)
			}
		}
	})
}
