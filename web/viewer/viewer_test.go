package viewer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/internal/app"
	"github.com/arbor-auth/arbor/internal/app/apptest"
	"github.com/arbor-auth/arbor/web/viewer"
)

func TestAnonymousIsSentToLogin(t *testing.T) {
	a, srv := newApp(t)
	for _, tc := range []struct{ path, token, location string }{
		{"/admin/journeys", "", "/login?goto=/admin/journeys"},
		{"/admin/journeys", "not-a-session", "/login?goto=/admin/journeys"},
		{"/admin/journeys/push-mfa?version=1", "", "/login?goto=/admin/journeys/push-mfa%3Fversion%3D1"},
	} {
		r := get(t, a, srv.URL+tc.path, tc.token)
		if r.status != http.StatusSeeOther || r.header.Get("Location") != tc.location {
			t.Errorf("GET %s: %d Location %q, want 303 to %q", tc.path, r.status, r.header.Get("Location"), tc.location)
		}
	}
	// A script cannot follow a redirect to a login page: the JSON endpoints say 401.
	if r := get(t, a, srv.URL+"/admin/journeys/login/graph.json", ""); r.status != http.StatusUnauthorized {
		t.Errorf("anonymous graph.json: %d, want 401: %s", r.status, r.body)
	}
	if r := do(t, a, http.MethodPost, srv.URL+viewer.ValidatePath, "", strings.NewReader("{}"), viewer.CSRFHeader, "x"); r.status != http.StatusUnauthorized {
		t.Errorf("anonymous validate: %d, want 401: %s", r.status, r.body)
	}
}

func TestNonAdminsAreForbidden(t *testing.T) {
	a, srv := newApp(t)
	ctx := context.Background()
	cases := map[string]string{
		"no roles":             signIn(t, a, "/", "plain", map[string]any{"mail": "p@example.com"}),
		"other roles":          signIn(t, a, "/", "ops", map[string]any{"roles": []any{"ops", "auditor"}}),
		"role as substring":    signIn(t, a, "/", "sub", map[string]any{"roles": "administrator, superadmin"}),
		"admin of a sub-realm": signIn(t, a, "/alpha", "alpha-admin", map[string]any{"roles": []any{"admin"}}),
	}
	// A locked, disabled or deleted admin's session is no session at all (the door
	// core ends it): the viewer sends them to the login page.
	ended := map[string]string{}
	for _, st := range []identity.Status{identity.StatusLocked, identity.StatusDisabled} {
		tok := signIn(t, a, "/", string(st), map[string]any{"roles": []any{"admin"}})
		if err := a.Users.SetStatus(ctx, "/", string(st), st); err != nil {
			t.Fatal(err)
		}
		ended[string(st)+" admin"] = tok
	}
	gone := signIn(t, a, "/", "gone", map[string]any{"roles": []any{"admin"}})
	if err := a.Users.Delete(ctx, "/", "gone"); err != nil {
		t.Fatal(err)
	}
	ended["deleted admin"] = gone
	for name, tok := range ended {
		if r := get(t, a, srv.URL+"/admin/journeys", tok); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login?") {
			t.Errorf("%s: %d %s, want the login page", name, r.status, r.header.Get("Location"))
		}
	}

	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			r := get(t, a, srv.URL+"/admin/journeys", tok)
			if r.status != http.StatusForbidden || !strings.Contains(r.body, "for admins") {
				t.Errorf("list: %d, want the 403 page: %s", r.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("403 page Content-Type %q", ct)
			}
			if r := get(t, a, srv.URL+"/admin/journeys/push-mfa", tok); r.status != http.StatusForbidden {
				t.Errorf("journey page: %d, want 403", r.status)
			}
			if r := get(t, a, srv.URL+"/admin/journeys/push-mfa/graph.json", tok); r.status != http.StatusForbidden {
				t.Errorf("graph.json: %d, want 403", r.status)
			}
		})
	}
}

func TestAdminSeesTheJourneyList(t *testing.T) {
	a, srv := newApp(t)
	for name, roles := range map[string]any{
		"list":         []any{"ops", "admin"},
		"comma string": "ops, admin",
	} {
		tok := signIn(t, a, "/", "admin-"+strings.ReplaceAll(name, " ", "-"), map[string]any{"roles": roles})
		r := get(t, a, srv.URL+"/admin/journeys", tok)
		if r.status != http.StatusOK {
			t.Fatalf("%s: list %d: %s", name, r.status, r.body)
		}
	}
	r := get(t, a, srv.URL+"/admin/journeys", adminToken(t, a))
	for _, name := range []string{"login", "push-mfa"} {
		j, _ := builtin(t, name)
		row := regexp.MustCompile(`(?s)<tr>\s*<td><a href="/admin/journeys/` + name + `">` + name + `</a></td>\s*<td>([^<]*)</td>\s*<td class="num">(\d+)</td>\s*<td class="num">(\d+)</td>\s*<td>(.*?)</td>`).FindStringSubmatch(r.body)
		if row == nil {
			t.Fatalf("no row for %s in:\n%s", name, r.body)
		}
		if html.UnescapeString(row[1]) != j.Description || row[2] != "1" || row[3] != fmt.Sprint(len(j.Nodes)) || !strings.Contains(row[4], "yes") {
			t.Errorf("%s row = %q, want description, version 1, %d nodes, valid", name, row[1:], len(j.Nodes))
		}
	}
}

// TestDemoUserIsAdmin checks that `arbor serve --demo` gives its demo user the admin
// role, so the viewer can be tried straight away.
func TestDemoUserIsAdmin(t *testing.T) {
	s := apptest.Start(t, apptest.Options{Args: []string{"--demo"}})
	a, srv := s.App, s.HTTP
	tok, _, err := a.Sessions.Create(context.Background(), app.DemoUser, "/", "login", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := get(t, a, srv.URL+"/admin/journeys", tok); r.status != http.StatusOK {
		t.Errorf("demo user: %d, want 200", r.status)
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	a, srv := newApp(t)
	tok := adminToken(t, a)
	plain := signIn(t, a, "/", "plain", nil)
	for _, tc := range []struct {
		method, path, token string
		status              int
	}{
		{"GET", "/admin/journeys", tok, 200},
		{"GET", "/admin/journeys/", tok, 200},
		{"GET", "/admin/journeys/push-mfa", tok, 200},
		{"GET", "/admin/journeys/push-mfa/graph.json", tok, 200},
		{"GET", "/admin/journeys", "", 303},
		{"GET", "/admin/journeys", plain, 403},
		{"GET", "/admin/journeys/nope", tok, 404},
		{"GET", "/admin/journeys/push-mfa/nope/deeper", tok, 404},
		{"GET", "/admin/journeys/nope/graph.json", tok, 404},
		{"POST", viewer.ValidatePath, tok, 403}, // no CSRF header
		{"GET", viewer.StaticPath + "/viewer.js", "", 200},
		{"GET", viewer.StaticPath + "/viewer.css", "", 200},
		{"GET", viewer.StaticPath + "/vendor/dagre.min.js", "", 200},
		{"GET", viewer.StaticPath + "/vendor/", "", 404},
		{"GET", viewer.StaticPath + "/../viewer.go", "", 404},
	} {
		r := do(t, a, tc.method, srv.URL+tc.path, tc.token, strings.NewReader("{}"))
		if r.status != tc.status {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, r.status, tc.status)
		}
		for k, want := range map[string]string{
			"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'",
			"X-Content-Type-Options":  "nosniff",
			"Cache-Control":           "no-store",
		} {
			if got := r.header.Get(k); got != want {
				t.Errorf("%s %s: %s = %q, want %q", tc.method, tc.path, k, got, want)
			}
		}
	}
	// With nosniff the browser trusts Content-Type, so the static files must be right.
	for path, want := range map[string]string{"viewer.js": "text/javascript", "viewer.css": "text/css", "vendor/dagre.min.js": "text/javascript"} {
		r := get(t, a, srv.URL+viewer.StaticPath+"/"+path, "")
		if !strings.HasPrefix(r.header.Get("Content-Type"), want) {
			t.Errorf("%s: Content-Type %q, want %s", path, r.header.Get("Content-Type"), want)
		}
	}
}

// TestPagesHaveNoInlineScriptOrStyle holds the pages to the CSP: a browser would refuse
// inline code, so none may be relied on.
func TestPagesHaveNoInlineScriptOrStyle(t *testing.T) {
	a, srv := newApp(t)
	tok := adminToken(t, a)
	inline := regexp.MustCompile(`(?i)<style|\sstyle=|\son[a-z]+=|javascript:`)
	scripts := regexp.MustCompile(`(?is)<script([^>]*)>(.*?)</script>`)
	for _, p := range []string{"/admin/journeys", "/admin/journeys/push-mfa", "/admin/journeys/nope"} {
		body := get(t, a, srv.URL+p, tok).body
		if m := inline.FindString(body); m != "" {
			t.Errorf("%s has inline style or handler %q", p, m)
		}
		for _, m := range scripts.FindAllStringSubmatch(body, -1) {
			attrs, content := m[1], strings.TrimSpace(m[2])
			if strings.Contains(attrs, `type="application/json"`) {
				continue
			}
			if !strings.Contains(attrs, "src=") || content != "" {
				t.Errorf("%s has an inline script: %s", p, m[0])
			}
		}
	}
}

func TestGraphJSONOfBuiltins(t *testing.T) {
	a, srv := newApp(t)
	tok := adminToken(t, a)
	for _, name := range []string{"login", "push-mfa"} {
		t.Run(name, func(t *testing.T) {
			j, _ := builtin(t, name)
			g := decodeGraph(t, get(t, a, srv.URL+"/admin/journeys/"+name+"/graph.json", tok))
			if g.Name != name || g.Version != 1 || g.Start != j.Start || !g.Valid || len(g.Problems) != 0 {
				t.Fatalf("graph header = %q v%d start %q valid %v problems %v", g.Name, g.Version, g.Start, g.Valid, g.Problems)
			}
			byKey := map[string]viewer.Vertex{}
			for _, v := range g.Nodes {
				if _, dup := byKey[v.Key]; dup {
					t.Errorf("vertex %q twice", v.Key)
				}
				byKey[v.Key] = v
			}
			if len(g.Nodes) != len(j.Nodes)+2 {
				t.Errorf("%d vertices, want %d nodes + 2 terminals", len(g.Nodes), len(j.Nodes))
			}
			if byKey["terminal:success"].Kind != viewer.KindSuccess || byKey["terminal:failure"].Kind != viewer.KindFailure {
				t.Errorf("terminals missing: %+v %+v", byKey["terminal:success"], byKey["terminal:failure"])
			}
			for id, n := range j.Nodes {
				v, ok := byKey["node:"+id]
				if !ok {
					t.Errorf("node %q missing", id)
					continue
				}
				if v.ID != id || v.Kind != viewer.KindNode || v.Type != n.Type || v.Title != n.Title || v.Start != (id == j.Start) {
					t.Errorf("node %q = %+v", id, v)
				}
				if len(n.Config) > 0 && !jsonEqual(v.Config, n.Config) {
					t.Errorf("node %q config = %s, want %s", id, v.Config, n.Config)
				}
				doc, ok := g.Types[n.Type]
				if !ok || doc.Summary == "" || doc.Title == "" {
					t.Errorf("no docs for type %q: %+v", n.Type, doc)
				}
				// Every declared outcome is listed, and connected as the document says.
				for _, o := range v.Outcomes {
					if !o.Declared || o.To != n.Outcomes[o.ID] {
						t.Errorf("node %q outcome %+v, document says %q", id, o, n.Outcomes[o.ID])
					}
				}
				if len(v.Outcomes) != len(n.Outcomes) {
					t.Errorf("node %q lists %d outcomes, document has %d", id, len(v.Outcomes), len(n.Outcomes))
				}
			}
			var want, got []string
			for id, n := range j.Nodes {
				for o, to := range n.Outcomes {
					want = append(want, "node:"+id+" -"+o+"-> "+targetKey(j, to))
				}
			}
			for _, e := range g.Edges {
				got = append(got, e.From+" -"+e.Label+"-> "+e.To)
				if e.Problem {
					t.Errorf("edge %+v marked as a problem", e)
				}
			}
			sort.Strings(want)
			sort.Strings(got)
			if !slices.Equal(got, want) {
				t.Errorf("edges:\n got %q\nwant %q", got, want)
			}
			for _, to := range []string{"terminal:success", "terminal:failure"} {
				if !slices.ContainsFunc(g.Edges, func(e viewer.Edge) bool { return e.To == to }) {
					t.Errorf("no edge to %s", to)
				}
			}
		})
	}
}

// TestJourneyPageEmbedsTheGraph checks the page hands its script the same data as
// graph.json, in a JSON block the CSP allows.
func TestJourneyPageEmbedsTheGraph(t *testing.T) {
	a, srv := newApp(t)
	tok := adminToken(t, a)
	page := get(t, a, srv.URL+"/admin/journeys/push-mfa", tok)
	if page.status != 200 {
		t.Fatalf("page %d: %s", page.status, page.body)
	}
	m := regexp.MustCompile(`(?s)<script type="application/json" id="graph-data">(.*?)</script>`).FindStringSubmatch(page.body)
	if m == nil {
		t.Fatal("no graph-data block")
	}
	api := get(t, a, srv.URL+"/admin/journeys/push-mfa/graph.json", tok)
	if !jsonEqual([]byte(m[1]), []byte(api.body)) {
		t.Errorf("embedded graph differs from graph.json:\n%s\n%s", m[1], api.body)
	}
	for _, want := range []string{`src="/admin/_viewer/static/vendor/dagre.min.js"`, `src="/admin/_viewer/static/viewer.js"`, "Versions", `id="doc"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

func TestVersions(t *testing.T) {
	a, srv := newApp(t)
	tok := adminToken(t, a)
	_, doc := builtin(t, "login")
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	m["description"] = "Second version."
	v2, _ := json.Marshal(m)
	if v, err := a.Journeys.Save(context.Background(), v2, "test"); err != nil || v != 2 {
		t.Fatalf("save: %d %v", v, err)
	}
	page := get(t, a, srv.URL+"/admin/journeys/login", tok)
	if !strings.Contains(page.body, "Second version.") || !strings.Contains(page.body, `href="/admin/journeys/login?version=1"`) ||
		!strings.Contains(page.body, "<code>test</code>") || !strings.Contains(page.body, "<code>builtin</code>") {
		t.Errorf("head page does not show version 2 with a link to version 1:\n%s", page.body)
	}
	old := get(t, a, srv.URL+"/admin/journeys/login?version=1", tok)
	if old.status != 200 || strings.Contains(old.body, `<p class="lede" id="description">Second version.`) || !strings.Contains(old.body, "version 1") {
		t.Errorf("version 1 page: %d\n%s", old.status, old.body)
	}
	if g := decodeGraph(t, get(t, a, srv.URL+"/admin/journeys/login/graph.json?version=1", tok)); g.Version != 1 || g.Description == "Second version." {
		t.Errorf("graph.json?version=1 = v%d %q", g.Version, g.Description)
	}
	if g := decodeGraph(t, get(t, a, srv.URL+"/admin/journeys/login/graph.json", tok)); g.Version != 2 || g.Description != "Second version." {
		t.Errorf("graph.json = v%d %q, want the head", g.Version, g.Description)
	}
}

func TestNotFound(t *testing.T) {
	a, srv := newApp(t)
	tok := adminToken(t, a)
	for _, p := range []string{
		"/admin/journeys/nope",
		"/admin/journeys/Not_A_Name!",
		"/admin/journeys/push-mfa?version=2",
		"/admin/journeys/push-mfa?version=0",
		"/admin/journeys/push-mfa?version=-1",
		"/admin/journeys/push-mfa?version=abc",
		"/admin/journeys/push-mfa/elsewhere",
	} {
		r := get(t, a, srv.URL+p, tok)
		if r.status != http.StatusNotFound || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !strings.Contains(r.body, "404") {
			t.Errorf("GET %s: %d %s, want the 404 page:\n%s", p, r.status, r.header.Get("Content-Type"), r.body)
		}
	}
	for _, p := range []string{"/admin/journeys/nope/graph.json", "/admin/journeys/push-mfa/graph.json?version=9", "/admin/journeys/push-mfa/graph.json?version=x"} {
		r := get(t, a, srv.URL+p, tok)
		var body map[string]any
		if r.status != http.StatusNotFound || json.Unmarshal([]byte(r.body), &body) != nil || body["code"] != float64(404) {
			t.Errorf("GET %s: %d %s, want a JSON 404", p, r.status, r.body)
		}
	}
}

// TestJourneyCalledValidate checks that the POST-only validate route does not hide a
// journey of that name from GET.
func TestJourneyCalledValidate(t *testing.T) {
	a, srv := newApp(t)
	_, doc := builtin(t, "login")
	doc = bytes.Replace(doc, []byte(`"name": "login"`), []byte(`"name": "validate"`), 1)
	if _, err := a.Journeys.Save(context.Background(), doc, "test"); err != nil {
		t.Fatal(err)
	}
	r := get(t, a, srv.URL+"/admin/journeys/validate", adminToken(t, a))
	if r.status != 200 || !strings.Contains(r.body, "<h1>validate") {
		t.Errorf("GET the journey called validate: %d\n%s", r.status, r.body)
	}
}

func TestValidateMarksProblemNodes(t *testing.T) {
	a, srv := newApp(t)
	tok := adminToken(t, a)
	csrf := csrfFrom(t, get(t, a, srv.URL+"/admin/journeys/push-mfa", tok).body)

	// Valid input draws as the stored version does.
	_, good := builtin(t, "push-mfa")
	g := decodeGraph(t, validate(t, a, srv.URL, tok, csrf, good))
	if !g.Valid || len(g.Problems) != 0 || g.Version != 0 || len(g.Nodes) != 14 {
		t.Fatalf("valid document: valid %v, problems %v, %d vertices", g.Valid, g.Problems, len(g.Nodes))
	}

	bad := `{
	  "name": "broken",
	  "start": "login",
	  "nodes": {
	    "login": {"type": "page", "config": {"nodes": [{"type": "username"}, {"type": "password"}]}, "outcomes": {"outcome": "check"}},
	    "check": {"type": "data_store_decision", "outcomes": {"true": "otp", "false": "failure", "maybe": "success"}},
	    "retry": {"type": "retry_limit", "config": {"retry_limit": "three"}, "outcomes": {"retry": "check", "reject": "failure"}},
	    "mystery": {"type": "no_such_type", "outcomes": {"outcome": "success"}},
	    "a/b": {"type": "message", "outcomes": {}}
	  }
	}`
	g = decodeGraph(t, validate(t, a, srv.URL, tok, csrf, []byte(bad)))
	if g.Valid {
		t.Fatal("broken document reported valid")
	}
	flagged := map[string][]string{}
	for _, v := range g.Nodes {
		for _, p := range v.Problems {
			flagged[v.ID] = append(flagged[v.ID], p.Code)
			if p.Node != v.ID {
				t.Errorf("problem %+v listed on %q", p, v.ID)
			}
		}
	}
	for id, codes := range map[string][]string{
		"check":   {"dangling_target", "unknown_outcome"}, // "otp" does not exist; "maybe" is not an outcome
		"retry":   {"bad_config", "unreachable_node"},
		"mystery": {"unknown_type", "unreachable_node"},
		"a/b":     {"bad_name"}, // an id with '/' is escaped as ~1 in the pointer
	} {
		for _, c := range codes {
			if !slices.Contains(flagged[id], c) {
				t.Errorf("node %q: problems %v, want %s among them", id, flagged[id], c)
			}
		}
	}
	if len(flagged["login"]) != 0 {
		t.Errorf("login flagged with %v", flagged["login"])
	}
	// Every problem appears in the journey-wide list, with its node.
	if n := func() int {
		c := 0
		for _, v := range g.Nodes {
			c += len(v.Problems)
		}
		return c
	}(); n != len(g.Problems) {
		t.Errorf("%d node problems, %d in the list: every problem here lies in a node", n, len(g.Problems))
	}
	// The dangling target is drawn as a placeholder, its edge and the unknown outcome's
	// edge are marked.
	if !slices.ContainsFunc(g.Nodes, func(v viewer.Vertex) bool { return v.Key == "missing:otp" && v.Kind == viewer.KindMissing }) {
		t.Error("no placeholder for the missing node otp")
	}
	for _, e := range g.Edges {
		wantProblem := e.From == "node:check" && (e.Label == "true" || e.Label == "maybe")
		if e.Problem != wantProblem {
			t.Errorf("edge %+v: problem %v, want %v", e, e.Problem, wantProblem)
		}
	}

	// Problems not tied to a node stay journey-wide.
	g = decodeGraph(t, validate(t, a, srv.URL, tok, csrf, []byte(`{"name": "Bad Name", "start": "ghost",
	  "nodes": {"check": {"type": "data_store_decision", "outcomes": {"true": "success", "false": "failure"}}}}`)))
	general := map[string]string{}
	for _, p := range g.Problems {
		if p.Node == "" {
			general[p.Pointer] = p.Code
		}
	}
	if general["/start"] != "missing_start" || general["/name"] != "bad_name" {
		t.Errorf("journey-wide problems = %v, want /start missing_start and /name bad_name", general)
	}

	// A document the strict parser refuses is still drawn, with the problem on its node.
	g = decodeGraph(t, validate(t, a, srv.URL, tok, csrf, []byte(`{"name": "x", "start": "check",
	  "nodes": {"check": {"type": "data_store_decision", "colour": "red", "outcomes": {"true": "success", "false": "failure"}}}}`)))
	if len(g.Nodes) != 3 || len(g.Edges) != 2 || len(g.Nodes[0].Problems) == 0 || g.Nodes[0].ID != "check" {
		t.Errorf("unknown field: %+v", g)
	}

	// Text that is not JSON at all: only the terminals, and the syntax error.
	g = decodeGraph(t, validate(t, a, srv.URL, tok, csrf, []byte(`{"name": "x",`)))
	if g.Valid || len(g.Nodes) != 2 || len(g.Problems) != 1 || g.Problems[0].Code != "bad_json" {
		t.Errorf("syntax error: %+v", g)
	}
}

func TestValidateIsGuarded(t *testing.T) {
	a, srv := newApp(t)
	tok := adminToken(t, a)
	other := signIn(t, a, "/", "other-admin", map[string]any{"roles": "admin"})
	csrf := csrfFrom(t, get(t, a, srv.URL+"/admin/journeys/login", tok).body)
	otherCSRF := csrfFrom(t, get(t, a, srv.URL+"/admin/journeys/login", other).body)
	if csrf == otherCSRF {
		t.Fatal("two sessions got the same CSRF token")
	}
	_, doc := builtin(t, "login")
	for name, tc := range map[string]struct {
		token, csrf string
		body        []byte
		status      int
	}{
		"no header":            {tok, "", doc, http.StatusForbidden},
		"wrong token":          {tok, "AAAA", doc, http.StatusForbidden},
		"another session's":    {tok, otherCSRF, doc, http.StatusForbidden},
		"non-admin":            {signIn(t, a, "/", "plain", nil), csrf, doc, http.StatusForbidden},
		"too large":            {tok, csrf, bytes.Repeat([]byte(" "), viewer.MaxDocBytes+1), http.StatusRequestEntityTooLarge},
		"just under the limit": {tok, csrf, append(bytes.Repeat([]byte(" "), viewer.MaxDocBytes-len(doc)), doc...), http.StatusOK},
		"own session's token":  {tok, csrf, doc, http.StatusOK},
	} {
		r := validate(t, a, srv.URL, tc.token, tc.csrf, tc.body)
		if r.status != tc.status {
			t.Errorf("%s: %d, want %d: %s", name, r.status, tc.status, r.body)
		}
	}
	// GET is not a way around the header.
	if r := get(t, a, srv.URL+viewer.ValidatePath, tok); r.status != http.StatusNotFound {
		t.Errorf("GET validate: %d, want 404 (no journey of that name)", r.status)
	}
}

func validate(t *testing.T, a *app.App, base, token, csrf string, body []byte) response {
	t.Helper()
	return do(t, a, http.MethodPost, base+viewer.ValidatePath, token, bytes.NewReader(body), "Content-Type", "application/json", viewer.CSRFHeader, csrf)
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}
