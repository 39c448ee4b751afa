package viewer_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/journeys"
)

var diffSpan = regexp.MustCompile(`<span class="(add|del|hunk|file|ctx)">([^<]*)</span>`)

// TestDiffPage: the diff page shows the unified diff of two versions, each line marked
// by its kind; the journey page offers it and names who saved each version; wrong
// parameters get the viewer's error pages.
func TestDiffPage(t *testing.T) {
	a, srv := newApp(t)
	tok := adminToken(t, a)
	_, doc := builtin(t, "login")
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	m["description"] = "Second version."
	v2, _ := json.Marshal(m)
	if v, err := a.Journeys.SaveWith(context.Background(), v2, journeys.SaveOptions{Source: "api", Actor: "token:ci01", IfVersion: 1}); err != nil || v != 2 {
		t.Fatalf("save: %d %v", v, err)
	}

	page := get(t, a, srv.URL+"/admin/journeys/login", tok)
	for _, want := range []string{
		"<code>token:ci01</code>", "loaded at start", // who saved each version
		`href="/admin/journeys/login/diff?from=1&amp;to=2"`, // diff with current
		`class="small make-current" data-version="1"`,       // only old versions can be made current
		`id="save"`, `data-head="2"`,
	} {
		if !strings.Contains(page.body, want) {
			t.Errorf("journey page lacks %s", want)
		}
	}
	if strings.Contains(page.body, `data-version="2">Make current`) {
		t.Error("the current version offers to be made current")
	}

	r := get(t, a, srv.URL+"/admin/journeys/login/diff?from=1&to=2", tok)
	if r.status != http.StatusOK {
		t.Fatalf("diff page: %d\n%s", r.status, r.body)
	}
	kinds := map[string][]string{}
	for _, s := range diffSpan.FindAllStringSubmatch(r.body, -1) {
		kinds[s[1]] = append(kinds[s[1]], html.UnescapeString(s[2]))
	}
	if len(kinds["del"]) != 1 || !strings.Contains(kinds["del"][0], `"description": "`) || strings.Contains(kinds["del"][0], "Second") ||
		len(kinds["add"]) != 1 || kinds["add"][0] != `+  "description": "Second version.",` ||
		len(kinds["hunk"]) == 0 || len(kinds["file"]) != 2 || len(kinds["ctx"]) == 0 {
		t.Errorf("diff lines by kind = %q", kinds)
	}

	same := get(t, a, srv.URL+"/admin/journeys/login/diff?from=2&to=2", tok)
	if same.status != http.StatusOK || !strings.Contains(same.body, "The two versions are the same document.") {
		t.Errorf("diff of a version with itself: %d\n%s", same.status, same.body)
	}

	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/admin/journeys/login/diff", http.StatusBadRequest},
		{"/admin/journeys/login/diff?from=1&to=x", http.StatusBadRequest},
		{"/admin/journeys/login/diff?from=0&to=2", http.StatusBadRequest},
		{"/admin/journeys/login/diff?from=1&to=3", http.StatusNotFound},
		{"/admin/journeys/nope/diff?from=1&to=2", http.StatusNotFound},
	} {
		r := get(t, a, srv.URL+tc.path, tok)
		if r.status != tc.status || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
			t.Errorf("GET %s: %d %s, want %d and the HTML error page", tc.path, r.status, r.header.Get("Content-Type"), tc.status)
		}
	}
	// Like every viewer page, it is for admins only.
	if r := get(t, a, srv.URL+"/admin/journeys/login/diff?from=1&to=2", ""); r.status != http.StatusSeeOther {
		t.Errorf("anonymous diff: %d, want a redirect to the login page", r.status)
	}
}
