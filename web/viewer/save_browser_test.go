package viewer_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/arbor-auth/arbor/internal/chrometest"
	"github.com/arbor-auth/arbor/journeys"
)

// TestBrowserSaveRollbackDiff drives the viewer's admin actions in real headless
// Chromium against the real admin API: a pasted journey is saved (a new version shows),
// an invalid one is refused with the API's problems, an old version is made current,
// the diff page shows the change between the two, and a stale page's "Make current" is
// refused.
func TestBrowserSaveRollbackDiff(t *testing.T) {
	b := chrometest.Start(t, chrometest.Options{Width: 1000, Height: 700})
	a, srv := newApp(t)
	tok := adminToken(t, a)
	_, doc := builtin(t, "login")
	b.Do("size the page", chromedp.EmulateViewport(1000, 700))
	text := func(what, js string) string {
		t.Helper()
		return chrometest.Run(b, what, chromedp.Evaluate[string](js))
	}
	b.SetCookie(a.Config.CookieName, tok, srv.URL)
	b.Do("open login", chromedp.Navigate(srv.URL+"/admin/journeys/login"), chromedp.WaitVisible(chromedp.CSS(`#graph[data-ready="true"]`)))

	// Paste an edited document and save it: the page of version 2 follows.
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	original := m["description"].(string)
	m["description"] = "Saved from the browser."
	edited, _ := json.MarshalIndent(m, "", "  ")
	b.Do("save the edited document", chromedp.SetValue(chromedp.ID("doc"), string(edited)), chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.CSS(`#versions tr[data-version="2"]`)), chromedp.WaitVisible(chromedp.CSS(`#graph[data-ready="true"]`)))
	if h := text("read the title", `document.querySelector('h1 .ver').textContent`); h != "version 2 (current)" {
		t.Errorf("after save the page shows %q", h)
	}
	if d := text("read the description", `document.getElementById('description').textContent`); d != "Saved from the browser." {
		t.Errorf("description after save = %q", d)
	}
	if by := text("read who saved", `document.querySelector('#versions tr[data-version="2"]').textContent`); !strings.Contains(by, "root-admin") {
		t.Errorf("version 2 row does not say who saved it: %q", by)
	}
	if v, err := a.Journeys.HeadVersion(context.Background(), "login"); err != nil || v != 2 {
		t.Fatalf("stored head = %d %v, want 2", v, err)
	}

	// An invalid document is refused with the API's problems, and nothing is saved.
	m["nodes"].(map[string]any)["check"].(map[string]any)["type"] = "teleport"
	bad, _ := json.Marshal(m)
	b.Do("save an invalid document", chromedp.SetValue(chromedp.ID("doc"), string(bad)), chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.CSS(`#save-problems li`)))
	if p := text("read the problems", `document.getElementById('save-problems').textContent`); !strings.Contains(p, "/nodes/check/type") || !strings.Contains(p, "unknown_type") {
		t.Errorf("refusal shows %q", p)
	}
	if st := text("read the status", `document.getElementById('try-status').textContent`); !strings.HasPrefix(st, "Not saved: ") {
		t.Errorf("status after the refusal = %q", st)
	}
	if v, _ := a.Journeys.HeadVersion(context.Background(), "login"); v != 2 {
		t.Fatalf("an invalid document was saved: head %d", v)
	}

	// Make version 1 current: version 3, equal to 1, is shown.
	b.Do("make version 1 current", chromedp.Click(chromedp.CSS(`button.make-current[data-version="1"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#versions tr[data-version="3"]`)), chromedp.WaitVisible(chromedp.CSS(`#graph[data-ready="true"]`)))
	if d := text("read the description", `document.getElementById('description').textContent`); d != original {
		t.Errorf("description after making version 1 current = %q, want %q", d, original)
	}

	// The compare form starts at 2 -> 3 (the one before the head, the head): the diff
	// shows the description going back.
	b.Do("show the diff", chromedp.Click(chromedp.CSS(`.diff-form button[type="submit"]`)), chromedp.WaitVisible(chromedp.ID("diff")))
	del := text("read removed lines", `Array.from(document.querySelectorAll('#diff .del')).map(e => e.textContent).join('\n')`)
	add := text("read added lines", `Array.from(document.querySelectorAll('#diff .add')).map(e => e.textContent).join('\n')`)
	if del != `-  "description": "Saved from the browser.",` || add != `+  "description": "`+original+`",` {
		t.Errorf("diff 2 -> 3:\nremoved %q\nadded   %q", del, add)
	}
	if u := text("read the URL", `location.pathname + location.search`); u != "/admin/journeys/login/diff?from=2&to=3" {
		t.Errorf("diff URL = %q", u)
	}

	// A page left open while someone else saves: "Make current" is refused (If-Match is
	// stale) with the API's message, and nothing changes.
	b.Do("open the current version", chromedp.Navigate(srv.URL+"/admin/journeys/login"), chromedp.WaitVisible(chromedp.CSS(`#graph[data-ready="true"]`)))
	m["nodes"].(map[string]any)["check"].(map[string]any)["type"] = "data_store_decision"
	m["description"] = "Saved elsewhere meanwhile."
	elsewhere, _ := json.Marshal(m)
	if v, err := a.Journeys.SaveWith(context.Background(), elsewhere, journeys.SaveOptions{Source: "api", Actor: "token:other", IfVersion: 3}); err != nil || v != 4 {
		t.Fatalf("save elsewhere: %d %v", v, err)
	}
	b.Do("make version 2 current on the stale page", chromedp.Click(chromedp.CSS(`button.make-current[data-version="2"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#versions-status.error`)))
	if st := text("read the status", `document.getElementById('versions-status').textContent`); !strings.Contains(st, "Version 2 was not made current: ") || !strings.Contains(st, "version 4") {
		t.Errorf("stale Make current says %q", st)
	}
	if v, _ := a.Journeys.HeadVersion(context.Background(), "login"); v != 4 {
		t.Errorf("a stale Make current changed the head to %d", v)
	}

	// Chromium logs the refused save's 422 and the stale rollback's 412 as failed loads;
	// anything else is an error.
	var unexpected []string
	for _, e := range pageErrors(b) {
		if !(strings.Contains(e, "status of 422") || strings.Contains(e, "status of 412")) || !strings.Contains(e, "/api/admin/v1/journeys/login") {
			unexpected = append(unexpected, e)
		}
	}
	if len(unexpected) > 0 {
		t.Errorf("the pages reported errors (a CSP violation would be one): %q", unexpected)
	}
}
