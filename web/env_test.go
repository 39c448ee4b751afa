package web_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/authenticator"
	"github.com/arbor-auth/arbor/internal/app"
	"github.com/arbor-auth/arbor/internal/app/apptest"
	"github.com/arbor-auth/arbor/journeys"
	"github.com/arbor-auth/arbor/sessions"
)

const (
	alice     = "alice"
	password  = "correct horse battery"
	phoneName = "Alice's phone"
	// fastJourney is push-mfa with a one-second wait, for tests that wait in real time.
	fastJourney = "push-mfa-fast"
)

// env is an in-process Arbor with one user, alice, served over HTTP.
type env struct {
	t     *testing.T
	app   *app.App
	srv   *httptest.Server
	clock *apptest.Clock // real time, and what the test moves it forward
	audit *audit.Recorder
	dir   string
	phone *authenticator.Authenticator
}

type envOptions struct {
	args []string
	tls  bool
	// journeys are extra journey files by name.
	journeys map[string]string
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	e := &env{t: t, clock: apptest.NewClock(time.Now()), audit: &audit.Recorder{}, dir: t.TempDir()}
	jdir := filepath.Join(e.dir, "journeys")
	writeFastJourney(t, jdir)
	for name, doc := range o.journeys {
		if err := os.WriteFile(filepath.Join(jdir, name+".json"), []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Run()
	s := apptest.Start(t, apptest.Options{Args: append([]string{"--journeys", jdir}, o.args...), Now: e.clock.Now,
		TLS: o.tls, PublicURL: true, Dir: e.dir})
	s.Audit.AddSink(e.audit.Sink())
	e.app, e.srv = s.App, s.HTTP
	apptest.AddUser(t, s.App, "/", alice, password, nil)
	e.phone = apptest.Phone(t, e.dir, e.clock.Now)
	return e
}

// writeFastJourney writes push-mfa as shipped but named push-mfa-fast and waiting one
// second, so tests that wait in real time stay quick. It is derived from the shipped
// file so that it cannot drift from it.
func writeFastJourney(t *testing.T, dir string) {
	t.Helper()
	builtin, err := journeys.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	var j map[string]any
	if err := json.Unmarshal(builtin["push-mfa"], &j); err != nil {
		t.Fatal(err)
	}
	j["name"] = fastJourney
	wait := j["nodes"].(map[string]any)["wait"].(map[string]any)["config"].(map[string]any)
	wait["seconds_to_wait"] = 1
	b, _ := json.Marshal(j)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, fastJourney+".json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// enroll registers the phone for alice outside any journey and returns her recovery
// codes, as a registration through a journey would have left them.
func (e *env) enroll() []string {
	e.t.Helper()
	return apptest.Enroll(e.t, e.app, e.phone, "/", alice, authenticator.RegisterOptions{Name: phoneName})
}

// client is a browser without JavaScript: a cookie jar that does not follow redirects,
// so every response can be looked at.
type client struct {
	e    *env
	http *http.Client
	// header is added to every request (Accept-Language).
	header http.Header
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // test server certificate
	return &client{e: e, header: http.Header{}, http: &http.Client{
		Jar: jar, Transport: tr, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// page is a response with its body read.
type page struct {
	*http.Response
	body string
}

func (c *client) do(req *http.Request) *page {
	c.e.t.Helper()
	for k, v := range c.header {
		req.Header[k] = v
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &page{Response: res, body: string(b)}
}

func (c *client) get(path string) *page {
	c.e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.e.srv.URL+path, nil)
	return c.do(req)
}

func (c *client) post(path string, form url.Values) *page {
	c.e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// cookie returns the jar's cookie name for path, or nil.
func (c *client) cookie(path, name string) *http.Cookie {
	u, _ := url.Parse(c.e.srv.URL + path)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// setCookie returns the Set-Cookie of name in the response, or nil.
func (p *page) setCookie(name string) *http.Cookie {
	for _, ck := range p.Cookies() {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// form returns what a browser would submit from the page's first form without pressing
// any named button: hidden fields, text fields as filled and checked radios.
func (p *page) form(t *testing.T) url.Values {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(p.body))
	if err != nil {
		t.Fatal(err)
	}
	out := url.Values{}
	var walk func(n *html.Node, inForm bool)
	found := false
	walk = func(n *html.Node, inForm bool) {
		if n.Type == html.ElementNode && n.Data == "form" {
			if found {
				return
			}
			found, inForm = true, true
		}
		if inForm && n.Type == html.ElementNode && n.Data == "input" {
			a := attrs(n)
			name := a["name"]
			switch {
			case name == "":
			case a["type"] == "radio" || a["type"] == "checkbox":
				if _, ok := a["checked"]; ok {
					out.Add(name, a["value"])
				}
			default:
				out.Add(name, a["value"])
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, inForm)
		}
	}
	walk(doc, false)
	if !found {
		t.Fatalf("no form on the page:\n%s", p.body)
	}
	return out
}

func attrs(n *html.Node) map[string]string {
	m := map[string]string{}
	for _, a := range n.Attr {
		m[a.Key] = a.Val
	}
	return m
}

// challengeNumber finds the number a push page shows.
var challengeNumber = regexp.MustCompile(`id="challenge-number">(\d+)<`)

// pushLogin opens start (a /login URL of a push-mfa journey), answers the credentials
// page as alice, approves the push on her phone and polls until the journey ends. It
// returns the last response: a redirect on success.
func (c *client) pushLogin(start string) *page {
	c.e.t.Helper()
	p := c.get(start)
	f := p.form(c.e.t)
	f.Set("IDToken1", alice)
	f.Set("IDToken2", password)
	p = c.post("/login", f)
	m := challengeNumber.FindStringSubmatch(p.body)
	if m == nil {
		c.e.t.Fatalf("no number to match after the password:\n%s", p.body)
	}
	n, _ := strconv.Atoi(m[1])
	if _, err := c.e.phone.ApproveLatest(context.Background(), n); err != nil {
		c.e.t.Fatal(err)
	}
	for i := 0; i < 5 && p.StatusCode == http.StatusOK; i++ {
		c.e.clock.Advance(2 * time.Second) // past the journey's wait
		p = c.post("/login", p.form(c.e.t))
	}
	return p
}

// login starts journey and answers its credentials page as alice.
func (c *client) login(journey, pw string) *page {
	c.e.t.Helper()
	p := c.get("/login?journey=" + url.QueryEscape(journey))
	if p.StatusCode != http.StatusOK {
		c.e.t.Fatalf("GET /login: %d\n%s", p.StatusCode, p.body)
	}
	f := p.form(c.e.t)
	f.Set("IDToken1", alice)
	f.Set("IDToken2", pw)
	return c.post("/login", f)
}

// sessionHandle returns the handle of the session this browser holds.
func (c *client) sessionHandle(t *testing.T, e *env) string {
	t.Helper()
	ck := c.cookie("/", "iPlanetDirectoryPro")
	if ck == nil {
		t.Fatal("no session cookie")
	}
	s, err := e.app.Door.Validate(context.Background(), "/", ck.Value)
	if err != nil {
		t.Fatalf("the browser's session: %v", err)
	}
	return s.Handle
}

// otherUserSession signs bob in (outside any door) and returns his session's handle.
func (e *env) otherUserSession(t *testing.T) string {
	t.Helper()
	_, s, err := e.app.Sessions.Grant(context.Background(), sessions.Grant{Username: "bob", Realm: "/"})
	if err != nil {
		t.Fatal(err)
	}
	return s.Handle
}
