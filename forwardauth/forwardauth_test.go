package forwardauth

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/engine"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/journeys"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/sessions"
	"github.com/arbor-auth/arbor/store/embedded"
	"github.com/arbor-auth/arbor/store/storetest"
)

// proxyAddr is the test proxy's address, the one trusted; httptest requests come from
// 192.0.2.1.
const proxyAddr = "192.0.2.1:4711"

// fixture is a door core on an embedded store that tests can take down, with users and
// sessions at each level.
type fixture struct {
	t     testing.TB
	st    *storetest.Flaky
	core  *door.Core
	fa    *Server
	sm    *sessions.Manager
	users *identity.Store
	now   time.Time
	// tokens of sessions: pwd (level 10), mfa (pwd+push, 20), otp (pwd+otp, 20),
	// locked (a locked account's), alpha (a session of realm /alpha).
	tokens map[string]string
}

func newFixture(t testing.TB, cfg Config, dcfg door.Config) *fixture {
	t.Helper()
	raw, err := embedded.Open(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	f := &fixture{t: t, st: storetest.NewFlaky(raw), now: time.Now(), tokens: map[string]string{}}
	clock := func() time.Time { return f.now }
	ctx := context.Background()
	f.users = identity.New(f.st, identity.Options{Params: identity.CheapParams})
	for _, u := range []*identity.User{
		{Realm: "/", Username: "alice", Status: identity.StatusActive,
			Attributes: map[string]any{"groups": []any{"staff", "ops", "a,b", 7}, "team": "blue, green"}},
		{Realm: "/", Username: "mallory", Status: identity.StatusLocked},
		{Realm: "/alpha", Username: "alice", Status: identity.StatusActive},
	} {
		if err := f.users.Put(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	f.sm = sessions.New(f.st, sessions.Config{IdleTimeout: 30 * time.Minute, MaxLifetime: 8 * time.Hour, Now: clock})
	deps := &nodes.Deps{}
	eng := engine.New(engine.Config{}, f.st, journeys.NewRepo(f.st, journeys.CompileOptions{Registry: nodes.NewRegistry(), Deps: deps}), deps, nil)
	dcfg.Realms = append(dcfg.Realms, "alpha")
	dcfg.TrustedProxies = append(dcfg.TrustedProxies, "192.0.2.1")
	f.core, err = door.New(dcfg, door.Deps{Engine: eng, Sessions: f.sm, Users: f.users, Now: clock, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	f.fa, err = New(cfg, Deps{Door: f.core, Log: slog.New(slog.DiscardHandler), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	for name, g := range map[string]sessions.Grant{
		"pwd":    {Username: "alice", Realm: "/", Factors: []string{"pwd"}, Level: door.LevelOneFactor},
		"mfa":    {Username: "alice", Realm: "/", Factors: []string{"pwd", "push"}, Level: door.LevelMultiFactor},
		"otp":    {Username: "alice", Realm: "/", Factors: []string{"pwd", "otp"}, Level: door.LevelMultiFactor},
		"locked": {Username: "mallory", Realm: "/", Factors: []string{"pwd"}, Level: door.LevelOneFactor},
		"alpha":  {Username: "alice", Realm: "/alpha", Factors: []string{"pwd", "push"}, Level: door.LevelMultiFactor},
	} {
		tok, _, err := f.sm.Grant(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		f.tokens[name] = tok
	}
	return f
}

// rules is the rule set most tests use.
var rules = Config{Rules: []Rule{
	{Path: "/public", Public: true},
	{Host: "*.internal.example", Level: 20},
	{Path: "/admin/", Factors: []string{"push"}},
	{Path: "/codes", Factors: []string{"otp"}, Journey: "oath-mfa"},
	{Host: "app.example.com", Path: "/", Level: 10},
}}

// check is one forward-auth request as a proxy sends it.
type check struct {
	// url is the original URL; nginx sends it as X-Original-URL, others as
	// X-Forwarded-*.
	url    string
	nginx  bool
	method string
	html   bool   // Accept: text/html, as a page load sends
	cookie string // a tokens key, sent as the session cookie
	bearer string // a tokens key, sent as Authorization: Bearer
	header http.Header
	peer   string
}

func (f *fixture) do(c check) *http.Response {
	f.t.Helper()
	r := httptest.NewRequest(http.MethodGet, DefaultPath, nil)
	r.RemoteAddr = proxyAddr
	if c.peer != "" {
		r.RemoteAddr = c.peer
	}
	method := c.method
	if method == "" {
		method = http.MethodGet
	}
	if c.url != "" {
		if c.nginx {
			r.Header.Set("X-Original-URL", c.url)
			r.Header.Set("X-Original-Method", method)
		} else {
			u, err := url.Parse(c.url)
			if err != nil {
				f.t.Fatal(err)
			}
			r.Header.Set("X-Forwarded-Proto", u.Scheme)
			r.Header.Set("X-Forwarded-Host", u.Host)
			r.Header.Set("X-Forwarded-Uri", u.RequestURI())
			r.Header.Set("X-Forwarded-Method", method)
		}
	}
	if c.html {
		r.Header.Set("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")
	}
	if c.cookie != "" {
		r.AddCookie(&http.Cookie{Name: "iPlanetDirectoryPro", Value: f.token(c.cookie)})
	}
	if c.bearer != "" {
		r.Header.Set("Authorization", "Bearer "+f.token(c.bearer))
	}
	for k, v := range c.header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	f.fa.ServeHTTP(w, r)
	return w.Result()
}

func (f *fixture) token(name string) string {
	if tok, ok := f.tokens[name]; ok {
		return tok
	}
	return name // a literal token
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRules(t *testing.T) {
	f := newFixture(t, rules, door.Config{})
	for _, tc := range []struct {
		name     string
		c        check
		status   int
		location string // with "?": the whole Location; without: its path only, no goto
		user     string // X-Arbor-User of a 200
		www      string // a substring of WWW-Authenticate
	}{
		{name: "public path needs no session", c: check{url: "https://app.example.com/public/logo.png"}, status: 200},
		{name: "public is whole segments", c: check{url: "https://app.example.com/publicity", html: true}, status: 302,
			location: "/login?goto=%2Fpublicity"},
		{name: "valid cookie", c: check{url: "https://app.example.com/x", cookie: "pwd"}, status: 200, user: "alice"},
		{name: "valid bearer", c: check{url: "https://app.example.com/x", bearer: "pwd"}, status: 200, user: "alice"},
		{name: "browser without session", c: check{url: "https://app.example.com/x?y=1", html: true}, status: 302,
			location: "/login?goto=%2Fx%3Fy%3D1"},
		{name: "nginx browser without session: 401 with Location", c: check{url: "https://app.example.com/x?y=1", html: true, nginx: true},
			status: 401, location: "/login?goto=%2Fx%3Fy%3D1"},
		{name: "script without session", c: check{url: "https://app.example.com/api", header: http.Header{"Accept": {"application/json"}}},
			status: 401, www: `Bearer realm="arbor"`},
		{name: "XHR asking for HTML is not a page load", c: check{url: "https://app.example.com/x", html: true,
			header: http.Header{"X-Requested-With": {"XMLHttpRequest"}}}, status: 401},
		{name: "POST without session is not redirected", c: check{url: "https://app.example.com/form", html: true, method: "POST"}, status: 401},
		{name: "unknown token", c: check{url: "https://app.example.com/x", bearer: "nope"}, status: 401, www: `error="invalid_token"`},
		{name: "unknown token, browser", c: check{url: "https://app.example.com/x", cookie: "nope", html: true}, status: 302, location: "/login?goto=%2Fx"},
		{name: "locked account", c: check{url: "https://app.example.com/x", cookie: "locked"}, status: 401, www: "invalid_token"},
		{name: "session of another realm", c: check{url: "https://app.example.com/x", cookie: "alpha"}, status: 401, www: "invalid_token"},
		{name: "push path with password session: step-up", c: check{url: "https://app.example.com/admin/users", cookie: "pwd", html: true},
			status: 302, location: "/login?goto=%2Fadmin%2Fusers&journey=push-mfa"},
		{name: "push path, script: insufficient_user_authentication", c: check{url: "https://app.example.com/admin", bearer: "pwd"},
			status: 401, www: `error="insufficient_user_authentication"`},
		{name: "push path with otp session: level is not enough", c: check{url: "https://app.example.com/admin", cookie: "otp", html: true},
			status: 302, location: "/login?goto=%2Fadmin&journey=push-mfa"},
		{name: "push path with push session", c: check{url: "https://app.example.com/admin", cookie: "mfa"}, status: 200, user: "alice"},
		{name: "push path without session goes straight to push-mfa", c: check{url: "https://app.example.com/admin", html: true},
			status: 302, location: "/login?goto=%2Fadmin&journey=push-mfa"},
		{name: "rule's own journey", c: check{url: "https://app.example.com/codes", cookie: "mfa", html: true},
			status: 302, location: "/login?goto=%2Fcodes&journey=oath-mfa"},
		{name: "host wildcard with level 20", c: check{url: "https://wiki.internal.example/", cookie: "pwd", html: true},
			status: 302, location: "/login?goto=%2F&journey=push-mfa"},
		{name: "host wildcard met", c: check{url: "https://wiki.internal.example/", cookie: "otp"}, status: 200, user: "alice"},
		{name: "wildcard does not match the bare domain", c: check{url: "https://internal.example/", cookie: "pwd"}, status: 200, user: "alice"},
		{name: "encoded dot-dot out of a public path is not public", c: check{url: "https://app.example.com/public/%2e%2e/admin", html: true},
			status: 302, location: "/login?goto=%2Fpublic%2F%252e%252e%2Fadmin&journey=push-mfa"},
		{name: "encoded slash reading both ways takes the stricter", c: check{url: "https://app.example.com/admin%2Fx", cookie: "pwd", html: true},
			status: 302, location: "/login?goto=%2Fadmin%252Fx&journey=push-mfa"},
		{name: "dot segments resolved", c: check{url: "https://app.example.com/x/../admin", cookie: "pwd", html: true},
			status: 302, location: "/login?goto=%2Fx%2F..%2Fadmin&journey=push-mfa"},
		{name: "HEAD page load is redirected", c: check{url: "https://app.example.com/x", html: true, method: "HEAD"}, status: 302, location: "/login?goto=%2Fx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do(tc.c)
			b := body(t, r)
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%s)", r.StatusCode, tc.status, b)
			}
			if got := r.Header.Get("Location"); got != tc.location {
				t.Errorf("Location %q, want %q", got, tc.location)
			}
			if got := r.Header.Get(HeaderUser); got != tc.user {
				t.Errorf("%s %q, want %q", HeaderUser, got, tc.user)
			}
			if got := r.Header.Get("WWW-Authenticate"); !strings.Contains(got, tc.www) || (tc.www == "" && got != "" && r.StatusCode != 401) {
				t.Errorf("WWW-Authenticate %q, want it to contain %q", got, tc.www)
			}
			if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
		})
	}
}

func TestIdentityHeaders(t *testing.T) {
	f := newFixture(t, rules, door.Config{})
	r := f.do(check{url: "https://app.example.com/admin", cookie: "mfa"})
	if r.StatusCode != 200 {
		t.Fatalf("status %d: %s", r.StatusCode, body(t, r))
	}
	for h, want := range map[string]string{
		HeaderUser: "alice", HeaderRealm: "/", HeaderLevel: "20", HeaderFactors: "pwd,push",
		// "a,b" cannot travel in a comma-separated header and 7 is not a name: left out.
		HeaderGroups: "staff,ops",
	} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	// The groups attribute is configurable; a comma-separated string is a list too.
	cfg := rules
	cfg.GroupsAttribute = "team"
	f = newFixture(t, cfg, door.Config{})
	if got := f.do(check{url: "https://app.example.com/", cookie: "pwd"}).Header.Get(HeaderGroups); got != "blue,green" {
		t.Errorf("groups from team: %q", got)
	}
	// A public path says nothing about who is asking, even with a session.
	if got := f.do(check{url: "https://app.example.com/public", cookie: "pwd"}).Header.Get(HeaderUser); got != "" {
		t.Errorf("public path: %s %q", HeaderUser, got)
	}
}

func TestNoRuleNeedsASession(t *testing.T) {
	f := newFixture(t, Config{Rules: []Rule{{Host: "other.example", Public: true}}}, door.Config{})
	if r := f.do(check{url: "https://app.example.com/x"}); r.StatusCode != 401 {
		t.Errorf("no rule, no session: %d", r.StatusCode)
	}
	if r := f.do(check{url: "https://app.example.com/x", cookie: "pwd"}); r.StatusCode != 200 {
		t.Errorf("no rule, session: %d", r.StatusCode)
	}
	if r := f.do(check{url: "https://other.example/x"}); r.StatusCode != 200 {
		t.Errorf("public host: %d", r.StatusCode)
	}
}

func TestRealmAndLoginURL(t *testing.T) {
	cfg := Config{Realm: "alpha", LoginURL: "https://id.example.com/login"}
	f := newFixture(t, cfg, door.Config{AllowedRedirects: []string{"https://app.example.com/"}})
	// The realm's session counts, the top realm's does not.
	if r := f.do(check{url: "https://app.example.com/x", cookie: "alpha"}); r.StatusCode != 200 || r.Header.Get(HeaderRealm) != "/alpha" {
		t.Errorf("alpha session: %d %q", r.StatusCode, r.Header.Get(HeaderRealm))
	}
	if r := f.do(check{url: "https://app.example.com/x", cookie: "pwd"}); r.StatusCode != 401 {
		t.Errorf("top realm's session in alpha: %d", r.StatusCode)
	}
	// Another host's login page gets the absolute URL back, when it is allowed...
	r := f.do(check{url: "https://app.example.com/x?a=1", html: true})
	if loc := r.Header.Get("Location"); loc != "https://id.example.com/login?goto=https%3A%2F%2Fapp.example.com%2Fx%3Fa%3D1&realm=%2Falpha" {
		t.Errorf("Location %q", loc)
	}
	// ...and no goto when the redirect policy refuses it: never an open redirect.
	r = f.do(check{url: "https://evil.example/x", html: true})
	if loc := r.Header.Get("Location"); loc != "https://id.example.com/login?realm=%2Falpha" {
		t.Errorf("Location %q", loc)
	}
}

func TestBadRequests(t *testing.T) {
	f := newFixture(t, rules, door.Config{})
	long := "https://app.example.com/" + strings.Repeat("a", maxOriginalURL)
	for _, tc := range []struct {
		name   string
		c      check
		status int
		says   string
	}{
		{"untrusted caller", check{url: "https://app.example.com/x", cookie: "pwd", peer: "198.51.100.7:5555"}, 403, "trusted_proxies"},
		{"no original URL", check{cookie: "pwd"}, 400, "X-Original-URL"},
		{"relative X-Original-URL", check{nginx: true, url: "/x", cookie: "pwd"}, 400, "X-Original-URL"},
		{"X-Original-URL with user", check{nginx: true, url: "https://u:p@app.example.com/x", cookie: "pwd"}, 400, "without user"},
		{"X-Original-URL of another scheme", check{nginx: true, url: "ftp://app.example.com/x", cookie: "pwd"}, 400, "http(s)"},
		{"control character", check{nginx: true, url: "https://app.example.com/x\x01", cookie: "pwd"}, 400, "control"},
		{"too long", check{nginx: true, url: long, cookie: "pwd"}, 400, "longer than"},
		{"proto", check{cookie: "pwd", header: http.Header{"X-Forwarded-Proto": {"gopher"}, "X-Forwarded-Host": {"app.example.com"}, "X-Forwarded-Uri": {"/"}}}, 400, "X-Forwarded-Proto"},
		{"two hosts", check{cookie: "pwd", header: http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"a.example, b.example"}, "X-Forwarded-Uri": {"/"}}}, 400, "X-Forwarded-Host"},
		{"host with a path", check{cookie: "pwd", header: http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"evil.example/x"}, "X-Forwarded-Uri": {"/"}}}, 400, "X-Forwarded-Host"},
		{"uri not a path", check{cookie: "pwd", header: http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"app.example.com"}, "X-Forwarded-Uri": {"//evil.example/"}}}, 400, "X-Forwarded-Uri"},
		{"missing uri", check{cookie: "pwd", header: http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"app.example.com"}}}, 400, "X-Forwarded-Uri"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do(tc.c)
			b := body(t, r)
			if r.StatusCode != tc.status || !strings.Contains(b, tc.says) {
				t.Errorf("got %d %q, want %d saying %q", r.StatusCode, b, tc.status, tc.says)
			}
			if r.Header.Get(HeaderUser) != "" || r.Header.Get("Location") != "" {
				t.Errorf("a refused check leaked identity or a redirect: %v", r.Header)
			}
		})
	}
}

func TestStoreOutageIs503(t *testing.T) {
	f := newFixture(t, rules, door.Config{})
	f.st.Down.Store(true)
	r := f.do(check{url: "https://app.example.com/x", cookie: "pwd", html: true})
	if b := body(t, r); r.StatusCode != 503 || r.Header.Get(HeaderUser) != "" || r.Header.Get("Location") != "" {
		t.Fatalf("outage: %d %q %v", r.StatusCode, b, r.Header)
	}
	// A public path does not need the store.
	if r := f.do(check{url: "https://app.example.com/public"}); r.StatusCode != 200 {
		t.Errorf("public path in an outage: %d", r.StatusCode)
	}
	f.st.Down.Store(false)
	if r := f.do(check{url: "https://app.example.com/x", cookie: "pwd"}); r.StatusCode != 200 {
		t.Errorf("after the outage: %d", r.StatusCode)
	}
}

// TestActivityExtendsTheSession: checks keep an active user's session alive, writing it
// at most once a minute.
func TestActivityExtendsTheSession(t *testing.T) {
	f := newFixture(t, rules, door.Config{})
	ctx := context.Background()
	before, err := f.sm.Validate(ctx, f.tokens["pwd"])
	if err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(20 * time.Second)
	f.do(check{url: "https://app.example.com/x", cookie: "pwd"})
	s, _ := f.sm.Validate(ctx, f.tokens["pwd"])
	if !s.IdleEnd.Equal(before.IdleEnd) {
		t.Errorf("a check 20s after the login wrote the session: idle end %v, was %v", s.IdleEnd, before.IdleEnd)
	}
	f.now = f.now.Add(25 * time.Minute)
	if r := f.do(check{url: "https://app.example.com/x", cookie: "pwd"}); r.StatusCode != 200 {
		t.Fatalf("check: %d", r.StatusCode)
	}
	f.now = f.now.Add(25 * time.Minute) // past the first idle end, not past the extended one
	if r := f.do(check{url: "https://app.example.com/x", cookie: "pwd"}); r.StatusCode != 200 {
		t.Errorf("session used 25 minutes ago expired after 50 minutes: %d", r.StatusCode)
	}
}

func TestConfigProblems(t *testing.T) {
	f := newFixture(t, Config{}, door.Config{})
	for _, tc := range []struct {
		cfg  Config
		says []string
	}{
		{Config{Path: "auth"}, []string{`path "auth"`}},
		{Config{Path: "/login/check"}, []string{`path "/login/check" is taken`}},
		{Config{Path: "/"}, []string{`path "/" is taken`}},
		{Config{Realm: "nope"}, []string{"realm /nope is not served"}},
		{Config{Realm: "a b"}, []string{"malformed realm"}},
		{Config{LoginURL: "//evil.example/login"}, []string{"login_url"}},
		{Config{LoginURL: "javascript:alert(1)"}, []string{"login_url"}},
		{Config{LoginURL: "/login?x=1"}, []string{"login_url"}},
		{Config{Rules: []Rule{
			{Path: "admin", Level: 30, Factors: []string{"sms"}},
			{Public: true, Level: 10},
			{Host: "bad host!", Path: "/a/../b", Journey: "no spaces"},
		}}, []string{`rules[0]: path "admin"`, "level 30", `factor "sms"`, "rules[1]: a public rule", `rules[2]: host "bad host!"`, `path "/a/../b"`, `journey "no spaces"`}},
	} {
		_, err := New(tc.cfg, Deps{Door: f.core})
		if err == nil {
			t.Errorf("%+v accepted", tc.cfg)
			continue
		}
		for _, s := range tc.says {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%+v: error %q does not say %q", tc.cfg, err, s)
			}
		}
	}
}

func TestHostMatches(t *testing.T) {
	for _, tc := range []struct {
		pattern, host string
		want          bool
	}{
		{"app.example.com", "app.example.com", true},
		{"app.example.com", "app.example.com:8443", true},
		{"app.example.com:8443", "app.example.com:8443", true},
		{"app.example.com:8443", "app.example.com", false},
		{"app.example.com", "app.example.com.evil", false},
		{"*.example.com", "a.b.example.com", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", "evilexample.com", false},
	} {
		if got := hostMatches(tc.pattern, tc.host); got != tc.want {
			t.Errorf("hostMatches(%q, %q) = %v", tc.pattern, tc.host, got)
		}
	}
}
