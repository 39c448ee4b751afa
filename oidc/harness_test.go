package oidc_test

// The harness: a whole Arbor (apptest, as `arbor serve` assembles it) with an oidc
// section, a relying party built on coreos/go-oidc and x/oauth2 serving its own
// callback, and a user agent (an HTTP client with a cookie jar) that follows
// redirects and fills the browser door's login form like a browser would.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/net/html"
	"golang.org/x/oauth2"

	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/internal/app/apptest"
	"github.com/arbor-auth/arbor/oidc"
)

const (
	alice    = "alice"
	password = "Wonderl4nd!"
	// clientSecret is the confidential client's secret; the config holds its hash.
	clientSecret = "s3cret-of-the-backend"
	spaOrigin    = "http://app.example"
)

// clock is a test clock that only moves when told.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}
func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// env is a running Arbor with two clients and a relying party for each.
type env struct {
	t     testing.TB
	srv   *apptest.Server
	clock *clock
	spa   *rp // public client "spa": PKCE, journeys login and push-mfa
	web   *rp // confidential client "web": secret, client credentials too
	args  []string
}

// another starts a second instance with the same configuration and master secret
// (on the same store when it is Redis).
func (e *env) another() *apptest.Server {
	return apptest.Start(e.t, apptest.Options{Args: e.args, Now: e.clock.Now})
}

type envOptions struct {
	redis string // a Redis URL; empty: the embedded store
	realm string // the realm of the clients and alice (default /)
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	e := &env{t: t, clock: newClock()}
	e.spa = newRP(t, "spa", "")
	e.web = newRP(t, "web", clientSecret)
	hash, err := identity.HashPassword(clientSecret, identity.CheapParams)
	if err != nil {
		t.Fatal(err)
	}
	realm := o.realm
	if realm == "" {
		realm = "/"
	}
	cfg := fmt.Sprintf(`realms: [alpha]
oidc:
  acr: {20: mfa}
  clients:
    - client_id: spa
      realm: %s
      public: true
      redirect_uris: [%q]
      post_logout_redirect_uris: [%q]
      journeys: [login, push-mfa]
      cors_origins: [%q]
    - client_id: web
      secret_hash: %q
      redirect_uris: [%q]
      grant_types: [authorization_code, refresh_token, client_credentials]
      access_token_lifetime: 10m
      realm: %s
`, realm, e.spa.callback(), e.spa.srv.URL+"/bye", spaOrigin, hash, e.web.callback(), realm)
	dir := t.TempDir()
	path := filepath.Join(dir, "arbor.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	e.args = []string{"--config", path, "--secret", base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))}
	if o.redis != "" {
		e.args = append(e.args, "--redis", o.redis)
	}
	e.srv = apptest.Start(t, apptest.Options{Args: e.args, Now: e.clock.Now, Dir: dir})
	apptest.AddUser(t, e.srv.App, realm, alice, password, map[string]any{
		"mail": "alice@example.com", "givenName": "Alice", "sn": "Liddell"})
	e.spa.issuer = e.srv.URL + oidc.BasePath(realm)
	e.web.issuer = e.spa.issuer
	return e
}

// rp is a relying party: /start begins an authorization (PKCE S256, state, nonce)
// and /cb finishes it with go-oidc's verification of the ID token.
type rp struct {
	t        testing.TB
	srv      *httptest.Server
	clientID string
	secret   string
	issuer   string

	once     sync.Once
	provider *gooidc.Provider
	verifier *gooidc.IDTokenVerifier

	mu      sync.Mutex
	pending map[string]string // state -> PKCE verifier
	// Tokens is what the last successful callback got.
	Tokens *oauth2.Token
	Claims map[string]any
}

func newRP(t testing.TB, clientID, secret string) *rp {
	r := &rp{t: t, clientID: clientID, secret: secret, pending: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/start", r.start)
	mux.HandleFunc("/cb", r.cb)
	mux.HandleFunc("/bye", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "bye") })
	r.srv = httptest.NewServer(mux)
	t.Cleanup(r.srv.Close)
	return r
}

func (r *rp) callback() string { return r.srv.URL + "/cb" }

func (r *rp) setup() {
	r.once.Do(func() {
		p, err := gooidc.NewProvider(context.Background(), r.issuer)
		if err != nil {
			r.t.Errorf("discovery: %v", err)
			return
		}
		r.provider = p
		r.verifier = p.Verifier(&gooidc.Config{ClientID: r.clientID})
	})
}

func (r *rp) config() *oauth2.Config {
	r.setup()
	return &oauth2.Config{ClientID: r.clientID, ClientSecret: r.secret, Endpoint: r.provider.Endpoint(),
		RedirectURL: r.callback(), Scopes: []string{gooidc.ScopeOpenID, "profile", "email", gooidc.ScopeOfflineAccess}}
}

// start redirects to the provider; its query parameters are passed on (prompt,
// max_age, acr_values, service, and nopkce to leave PKCE out).
func (r *rp) start(w http.ResponseWriter, req *http.Request) {
	state, verifier := oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
	r.mu.Lock()
	r.pending[state] = verifier
	r.mu.Unlock()
	opts := []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("nonce", "n-"+state[:8])}
	if req.URL.Query().Get("nopkce") == "" {
		opts = append(opts, oauth2.S256ChallengeOption(verifier))
	}
	for k, v := range req.URL.Query() {
		if k != "nopkce" {
			opts = append(opts, oauth2.SetAuthURLParam(k, v[0]))
		}
	}
	http.Redirect(w, req, r.config().AuthCodeURL(state, opts...), http.StatusFound)
}

// cb exchanges the code and verifies the ID token; it answers JSON: the ID token's
// claims, or the error the provider sent.
func (r *rp) cb(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	w.Header().Set("Content-Type", "application/json")
	if e := q.Get("error"); e != "" {
		json.NewEncoder(w).Encode(map[string]string{"error": e, "error_description": q.Get("error_description")})
		return
	}
	r.mu.Lock()
	verifier, ok := r.pending[q.Get("state")]
	delete(r.pending, q.Get("state"))
	r.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": "rp: unknown state"})
		return
	}
	tok, err := r.config().Exchange(req.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		json.NewEncoder(w).Encode(map[string]string{"error": "rp: exchange: " + err.Error()})
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.verifier.Verify(req.Context(), raw)
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		json.NewEncoder(w).Encode(map[string]string{"error": "rp: id token: " + err.Error()})
		return
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	r.mu.Lock()
	r.Tokens, r.Claims = tok, claims
	r.mu.Unlock()
	json.NewEncoder(w).Encode(claims)
}

// agent is a browser stand-in: it keeps cookies and follows redirects.
type agent struct {
	t testing.TB
	c *http.Client
}

func newAgent(t testing.TB) *agent {
	jar, _ := cookiejar.New(nil)
	return &agent{t: t, c: &http.Client{Jar: jar, Timeout: 60 * time.Second}}
}

// page is a response the agent ended on.
type page struct {
	Status int
	URL    *url.URL
	Body   string
	Header http.Header
}

func (a *agent) do(req *http.Request) *page {
	a.t.Helper()
	res, err := a.c.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &page{Status: res.StatusCode, URL: res.Request.URL, Body: string(b), Header: res.Header}
}

func (a *agent) get(u string) *page {
	a.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return a.do(req)
}

// json decodes a page's body (a relying party's callback answer).
func (p *page) json(t testing.TB) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(p.Body), &v); err != nil {
		t.Fatalf("%s: not JSON (%d): %s", p.URL, p.Status, p.Body)
	}
	return v
}

// signIn fills the browser door's login page p (user name and password) and submits
// it, following where it leads.
func (a *agent) signIn(p *page, user, pw string) *page {
	a.t.Helper()
	if p.URL.Path != "/login" || p.Status != http.StatusOK {
		a.t.Fatalf("expected the login page, got %d %s: %.300s", p.Status, p.URL, p.Body)
	}
	form := formValues(a.t, p.Body)
	form.Set("IDToken1", user)
	form.Set("IDToken2", pw)
	req, _ := http.NewRequest(http.MethodPost, p.URL.Scheme+"://"+p.URL.Host+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return a.do(req)
}

// formValues returns the inputs of the page's first form.
func formValues(t testing.TB, body string) url.Values {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	out := url.Values{}
	var walk func(n *html.Node, in bool) bool
	walk = func(n *html.Node, in bool) bool {
		if n.Type == html.ElementNode && n.Data == "form" {
			if in {
				return true
			}
			in = true
		}
		if in && n.Type == html.ElementNode && n.Data == "input" {
			var name, value string
			for _, at := range n.Attr {
				switch at.Key {
				case "name":
					name = at.Val
				case "value":
					value = at.Val
				}
			}
			if name != "" {
				out.Set(name, value)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if walk(c, in) {
				return true
			}
		}
		return n.Type == html.ElementNode && n.Data == "form"
	}
	walk(doc, false)
	if out.Get("csrf") == "" {
		t.Fatalf("no login form with a csrf field in: %.300s", body)
	}
	return out
}

// stopAt returns an agent sharing a's cookies that does not follow a redirect to
// the relying party rp, so a test can take the code itself.
func (a *agent) stopAt(r *rp) *agent {
	host := strings.TrimPrefix(r.srv.URL, "http://")
	c := *a.c
	c.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if req.URL.Host == host && req.URL.Path == "/cb" {
			return http.ErrUseLastResponse
		}
		return nil
	}
	return &agent{t: a.t, c: &c}
}

// post sends a form to the provider as a client would (no cookies), with HTTP Basic
// when user is not empty, and decodes the JSON answer.
func post(t testing.TB, u string, form url.Values, user, pass string, hdr ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var v map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("POST %s: %d, not JSON: %s", u, res.StatusCode, b)
		}
	}
	return res.StatusCode, v
}

// userinfo calls the userinfo endpoint with an access token.
func userinfo(t *testing.T, base, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var v map[string]any
	json.NewDecoder(res.Body).Decode(&v)
	return res.StatusCode, v
}
