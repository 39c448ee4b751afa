package viewer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/internal/app"
	"github.com/arbor-auth/arbor/internal/app/apptest"
	"github.com/arbor-auth/arbor/internal/chrometest"
	"github.com/arbor-auth/arbor/journeys"
	"github.com/arbor-auth/arbor/web/viewer"
)

// newApp builds the whole server, as `arbor serve` does, on the embedded store.
func newApp(t *testing.T) (*app.App, *httptest.Server) {
	t.Helper()
	s := apptest.Start(t, apptest.Options{Args: []string{"--realms", "alpha"}})
	return s.App, s.HTTP
}

// signIn stores a user with the given attributes and returns a session token for it,
// made directly with the session manager: the viewer must not depend on the login
// pages to be tested.
func signIn(t *testing.T, a *app.App, realm, username string, attrs map[string]any) string {
	t.Helper()
	ctx := context.Background()
	if err := a.Users.Put(ctx, &identity.User{Realm: realm, Username: username, Status: identity.StatusActive, Attributes: attrs}); err != nil {
		t.Fatal(err)
	}
	tok, _, err := a.Sessions.Create(ctx, username, realm, "login", nil)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func adminToken(t *testing.T, a *app.App) string {
	t.Helper()
	return signIn(t, a, "/", "root-admin", map[string]any{"roles": []any{"admin"}})
}

type response struct {
	status int
	header http.Header
	body   string
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// do sends a request with the session cookie (if token is set) and never follows
// redirects, so the tests see the gate's 303 itself.
func do(t *testing.T, a *app.App, method, url, token string, body io.Reader, hdr ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.AddCookie(&http.Cookie{Name: a.Config.CookieName, Value: token})
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	r, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: r.StatusCode, header: r.Header, body: string(b)}
}

func get(t *testing.T, a *app.App, url, token string) response {
	t.Helper()
	return do(t, a, http.MethodGet, url, token, nil)
}

func decodeGraph(t *testing.T, r response) *viewer.Graph {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want JSON", ct)
	}
	var g viewer.Graph
	if err := json.Unmarshal([]byte(r.body), &g); err != nil {
		t.Fatalf("graph.json does not decode: %v\n%s", err, r.body)
	}
	return &g
}

var csrfMeta = regexp.MustCompile(`<meta name="arbor-csrf" content="([^"]+)">`)

// csrfFrom reads the CSRF token the journey page hands to its script.
func csrfFrom(t *testing.T, page string) string {
	t.Helper()
	m := csrfMeta.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("the journey page has no arbor-csrf meta tag")
	}
	return m[1]
}

// builtin returns a built-in journey document, parsed: the ground truth the graph is
// checked against.
func builtin(t *testing.T, name string) (*journeys.Journey, []byte) {
	t.Helper()
	docs, err := journeys.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	doc, ok := docs[name]
	if !ok {
		t.Fatalf("no built-in journey %q", name)
	}
	j, ps := journeys.Parse(doc)
	if ps != nil {
		t.Fatal(ps)
	}
	return j, doc
}

// targetKey is the vertex key an outcome target should have in graph.json.
func targetKey(j *journeys.Journey, target string) string {
	switch target {
	case journeys.Success, journeys.Failure:
		return "terminal:" + target
	}
	if _, ok := j.Nodes[target]; ok {
		return "node:" + target
	}
	return "missing:" + target
}

// pageErrors returns what the pages reported as going wrong: uncaught exceptions,
// console errors and the browser log's errors (where Chromium reports CSP
// violations), source maps it did not find aside.
func pageErrors(b *chrometest.Browser) []string {
	var out []string
	for _, m := range b.Console() {
		if m.Type == chromedp.ConsoleException || m.Type == chromedp.ConsoleError && !strings.Contains(m.URL, ".map") {
			out = append(out, fmt.Sprintf("%s: %s (%s)", m.Type, m.Text, m.URL))
		}
	}
	return out
}
