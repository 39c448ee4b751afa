package oidc_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/internal/testredis"
	"github.com/arbor-auth/arbor/oidc"
)

// code runs an authorization for the spa client with the agent's session (signing in
// first if there is none) and returns the code and the PKCE verifier it was asked
// with, without letting the relying party exchange it.
func (e *env) code(t *testing.T, ua *agent, query string) (code, verifier string) {
	t.Helper()
	stop := ua.stopAt(e.spa)
	p := stop.get(e.spa.srv.URL + "/start" + query)
	if p.URL.Path == "/login" {
		p = stop.signIn(p, alice, password)
	}
	loc, err := url.Parse(p.Header.Get("Location"))
	if err != nil || p.Status != http.StatusFound || loc.Query().Get("code") == "" {
		t.Fatalf("no code: %d %s %s", p.Status, p.Header.Get("Location"), p.Body)
	}
	e.spa.mu.Lock()
	verifier = e.spa.pending[loc.Query().Get("state")]
	e.spa.mu.Unlock()
	return loc.Query().Get("code"), verifier
}

func exchange(t *testing.T, e *env, code, verifier string) (int, map[string]any) {
	t.Helper()
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {"spa"}, "redirect_uri": {e.spa.callback()}}
	if verifier != "" {
		f.Set("code_verifier", verifier)
	}
	return post(t, e.spa.issuer+"/access_token", f, "", "")
}

// TestRefusals: each bad request gets its RFC 6749 / OIDC error and changes nothing
// it should not.
func TestRefusals(t *testing.T) {
	e := newEnv(t, envOptions{})
	base := e.spa.issuer
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	t.Run("wrong redirect URI is not redirected to", func(t *testing.T) {
		q := url.Values{"client_id": {"spa"}, "redirect_uri": {"https://evil.example/cb"}, "response_type": {"code"}, "scope": {"openid"},
			"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
		res, err := noFollow.Get(base + "/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" {
			t.Fatalf("unregistered redirect_uri: %d Location=%q", res.StatusCode, res.Header.Get("Location"))
		}
	})

	t.Run("unknown client", func(t *testing.T) {
		q := url.Values{"client_id": {"nobody"}, "redirect_uri": {e.spa.callback()}, "response_type": {"code"}, "scope": {"openid"}}
		res, err := noFollow.Get(base + "/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" {
			t.Fatalf("unknown client: %d Location=%q", res.StatusCode, res.Header.Get("Location"))
		}
		st, body := post(t, base+"/access_token", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {"nobody"}}, "", "")
		if st != http.StatusBadRequest && st != http.StatusUnauthorized || body["error"] == nil {
			t.Fatalf("token request of an unknown client: %d %v", st, body)
		}
	})

	t.Run("public client without PKCE", func(t *testing.T) {
		p := newAgent(t).get(e.spa.srv.URL + "/start?nopkce=1")
		if c := p.json(t); c["error"] != "invalid_request" || !strings.Contains(c["error_description"].(string), "PKCE") {
			t.Fatalf("authorize without code_challenge: %v", c)
		}
	})

	t.Run("missing or wrong PKCE verifier", func(t *testing.T) {
		ua := newAgent(t)
		code, verifier := e.code(t, ua, "")
		if st, body := exchange(t, e, code, ""); st != http.StatusBadRequest || body["error"] == nil {
			t.Fatalf("no verifier: %d %v", st, body)
		}
		// The failed attempt used the code up: the right verifier comes too late.
		if st, body := exchange(t, e, code, verifier); st != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("code after a failed exchange: %d %v", st, body)
		}
		code, _ = e.code(t, ua, "")
		if st, body := exchange(t, e, code, strings.Repeat("x", 43)); st != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("wrong verifier: %d %v", st, body)
		}
	})

	t.Run("reused code revokes its tokens", func(t *testing.T) {
		ua := newAgent(t)
		code, verifier := e.code(t, ua, "")
		st, body := exchange(t, e, code, verifier)
		if st != http.StatusOK || body["access_token"] == nil {
			t.Fatalf("first exchange: %d %v", st, body)
		}
		at := body["access_token"].(string)
		if st, _ := userinfo(t, base, at); st != http.StatusOK {
			t.Fatalf("userinfo: %d", st)
		}
		if st, body := exchange(t, e, code, verifier); st != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("second exchange: %d %v", st, body)
		}
		if st, _ := userinfo(t, base, at); st != http.StatusUnauthorized {
			t.Fatalf("userinfo with the token of a replayed code: %d", st)
		}
	})

	t.Run("journey the client may not ask for", func(t *testing.T) {
		for _, q := range []string{"?acr_values=radius", "?service=radius"} {
			p := newAgent(t).get(e.spa.srv.URL + "/start" + q)
			c := p.json(t)
			if c["error"] != "invalid_request" || !strings.Contains(c["error_description"].(string), `journey "radius" is not allowed`) {
				t.Fatalf("%s: %v", q, c)
			}
		}
		// One it may ask for runs instead of its default.
		p := newAgent(t).get(e.spa.srv.URL + "/start?service=push-mfa")
		if p.URL.Path != "/login" || p.URL.Query().Get("journey") != "push-mfa" {
			t.Fatalf("service=push-mfa led to %s", p.URL)
		}
	})

	t.Run("bad grant and bad client secret", func(t *testing.T) {
		st, body := post(t, base+"/access_token", url.Values{"grant_type": {"password"}, "username": {alice}, "password": {password}}, "web", clientSecret)
		if st != http.StatusBadRequest || body["error"] != "unsupported_grant_type" {
			t.Fatalf("password grant: %d %v", st, body)
		}
		st, body = post(t, base+"/access_token", url.Values{"grant_type": {"client_credentials"}}, "web", "wrong")
		if st != http.StatusUnauthorized && st != http.StatusBadRequest || body["error"] != "invalid_client" {
			t.Fatalf("wrong secret: %d %v", st, body)
		}
		// The public client cannot use client credentials.
		st, body = post(t, base+"/access_token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"spa"}}, "", "")
		if st == http.StatusOK {
			t.Fatalf("client credentials for a public client: %d %v", st, body)
		}
	})
}

// TestSessionRules: prompt=none answers login_required once the session expired;
// prompt=login and max_age send a signed-in user through the journey again.
func TestSessionRules(t *testing.T) {
	e := newEnv(t, envOptions{})
	ua := newAgent(t)
	p := ua.signIn(ua.get(e.spa.srv.URL+"/start"), alice, password)
	if c := p.json(t); c["sub"] != alice {
		t.Fatalf("sign-in: %v", c)
	}

	for _, q := range []string{"?prompt=login", "?max_age=60"} {
		if q == "?max_age=60" {
			e.clock.Advance(2 * time.Minute)
		}
		p = ua.get(e.spa.srv.URL + "/start" + q)
		if p.URL.Path != "/login" {
			t.Fatalf("%s with a session led to %s", q, p.URL)
		}
		p = ua.signIn(p, alice, password)
		if c := p.json(t); c["sub"] != alice {
			t.Fatalf("%s: sign-in again: %v", q, c)
		}
	}
	authTime := e.spa.Claims["auth_time"].(float64)
	if now := float64(e.clock.Now().Unix()); now-authTime > 5 {
		t.Fatalf("auth_time %v is not the fresh sign-in's (now %v)", authTime, now)
	}

	// The session idles out (30m by default): prompt=none cannot sign in again.
	e.clock.Advance(31 * time.Minute)
	p = ua.get(e.spa.srv.URL + "/start?prompt=none")
	c := p.json(t)
	if c["error"] != "login_required" || c["error_description"] != "The request requires some interaction that is not allowed." {
		t.Fatalf("prompt=none with an expired session: %v", c)
	}
}

// TestClientCredentialsAndIntrospection: a confidential client gets a token for
// itself; introspection tells live tokens from revoked ones.
func TestClientCredentialsAndIntrospection(t *testing.T) {
	e := newEnv(t, envOptions{})
	base := e.web.issuer
	st, body := post(t, base+"/access_token", url.Values{"grant_type": {"client_credentials"}, "scope": {"profile"}}, "web", clientSecret)
	if st != http.StatusOK || body["access_token"] == nil || body["refresh_token"] != nil {
		t.Fatalf("client credentials: %d %v", st, body)
	}
	at := body["access_token"].(string)
	st, body = post(t, base+"/introspect", url.Values{"token": {at}}, "web", clientSecret)
	if st != http.StatusOK || body["active"] != true || body["sub"] != "web" || body["client_id"] != "web" {
		t.Fatalf("introspect: %d %v", st, body)
	}
	// A client token is no user's: userinfo refuses it.
	if st, _ := userinfo(t, base, at); st != http.StatusUnauthorized {
		t.Fatalf("userinfo with a client token: %d", st)
	}
	if st, _ := post(t, base+"/token/revoke", url.Values{"token": {at}}, "web", clientSecret); st != http.StatusOK {
		t.Fatalf("revoke: %d", st)
	}
	st, body = post(t, base+"/introspect", url.Values{"token": {at}}, "web", clientSecret)
	if st != http.StatusOK || body["active"] != false {
		t.Fatalf("introspect a revoked token: %d %v", st, body)
	}
}

// TestCORSForConfiguredOrigins: the SDK's preflight for userinfo (with its
// Authorization header) passes for a client's origin and no other.
func TestCORSForConfiguredOrigins(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, tc := range []struct {
		origin string
		ok     bool
	}{{spaOrigin, true}, {"http://evil.example", false}} {
		req, _ := http.NewRequest(http.MethodOptions, e.spa.issuer+"/userinfo", nil)
		req.Header.Set("Origin", tc.origin)
		req.Header.Set("Access-Control-Request-Method", "GET")
		// As browsers send it: lower case, sorted.
		req.Header.Set("Access-Control-Request-Headers", "accept,authorization")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		allowed := res.Header.Get("Access-Control-Allow-Origin") == tc.origin &&
			res.Header.Get("Access-Control-Allow-Credentials") == "true" &&
			strings.Contains(strings.ToLower(res.Header.Get("Access-Control-Allow-Headers")), "authorization")
		if allowed != tc.ok {
			t.Fatalf("preflight from %s: %d %v", tc.origin, res.StatusCode, res.Header)
		}
	}
}

// TestTokensSharedThroughRedis: two instances on one real Redis serve one
// application: a code issued by one is exchanged at the other, and a refresh token
// used at one is a replay at the other.
func TestTokensSharedThroughRedis(t *testing.T) {
	rs := testredis.Start(t)
	e := newEnv(t, envOptions{redis: rs.URL()})
	other := e.another()
	otherBase := other.URL + "/oauth2/realms/root"
	code, verifier := e.code(t, newAgent(t), "")
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {"spa"}, "redirect_uri": {e.spa.callback()}, "code_verifier": {verifier}}
	st, body := post(t, otherBase+"/access_token", f, "", "")
	if st != http.StatusOK || body["refresh_token"] == nil {
		t.Fatalf("exchange at the other instance: %d %v", st, body)
	}
	if st, _ := userinfo(t, e.spa.issuer, body["access_token"].(string)); st != http.StatusOK {
		t.Fatalf("userinfo at the first instance: %d", st)
	}
	rt := body["refresh_token"].(string)
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"spa"}}
	if st, body := post(t, e.spa.issuer+"/access_token", refresh, "", ""); st != http.StatusOK {
		t.Fatalf("refresh at the first instance: %d %v", st, body)
	}
	if st, body := post(t, otherBase+"/access_token", refresh, "", ""); st != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("replay at the other instance: %d %v", st, body)
	}
}

// TestRequestBoundToItsBrowser: a sign-in link someone else started (the resume URL
// of their request) does not complete with another browser's session.
func TestRequestBoundToItsBrowser(t *testing.T) {
	e := newEnv(t, envOptions{})
	attacker := newAgent(t)
	p := attacker.get(e.spa.srv.URL + "/start")
	resume := e.srv.URL + p.URL.Query().Get("goto")
	if !strings.Contains(resume, "/authorize/resume?id=") {
		t.Fatalf("no resume URL in %s", p.URL)
	}
	victim := newAgent(t)
	victim.signIn(victim.get(e.spa.srv.URL+"/start"), alice, password)
	stop := victim.stopAt(e.spa)
	if p := stop.get(resume); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "another browser") {
		t.Fatalf("victim following the attacker's resume URL: %d %s %s", p.Status, p.Header.Get("Location"), p.Body)
	}
	// The browser that started it still finishes it.
	if c := attacker.signIn(p, alice, password).json(t); c["sub"] != alice {
		t.Fatalf("the request's own browser: %v", c)
	}
}

// TestStoreOutageIs503: with the store gone, the endpoints answer 503
// temporarily_unavailable, not an error the client would take as final.
func TestStoreOutageIs503(t *testing.T) {
	rs := testredis.Start(t)
	e := newEnv(t, envOptions{redis: rs.URL()})
	ua := newAgent(t)
	ua.signIn(ua.get(e.spa.srv.URL+"/start"), alice, password)
	tok := e.spa.Tokens
	rs.Kill()
	st, body := post(t, e.spa.issuer+"/access_token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"spa"}}, "", "")
	if st != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" {
		t.Fatalf("refresh with the store down: %d %v", st, body)
	}
	if st, body := userinfo(t, e.spa.issuer, tok.AccessToken); st != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" {
		t.Fatalf("userinfo with the store down: %d %v", st, body)
	}
	// authorize answers the client at its redirect URI, with RFC 6749's code for it.
	if c := ua.get(e.spa.srv.URL + "/start?prompt=none").json(t); c["error"] != "temporarily_unavailable" {
		t.Fatalf("authorize with the store down: %v", c)
	}
}

// TestRefreshLifetimeCountsFromSignIn: rotating refresh tokens does not extend the
// grant past refresh_token_lifetime (720h by default) from the sign-in.
func TestRefreshLifetimeCountsFromSignIn(t *testing.T) {
	e := newEnv(t, envOptions{})
	rec := &audit.Recorder{}
	e.srv.App.Audit.AddSink(rec.Sink())
	ua := newAgent(t)
	ua.signIn(ua.get(e.spa.srv.URL+"/start"), alice, password)
	rt := e.spa.Tokens.RefreshToken
	for range 2 {
		e.clock.Advance(300 * time.Hour)
		st, body := post(t, e.spa.issuer+"/access_token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"spa"}}, "", "")
		if st != http.StatusOK {
			t.Fatalf("refresh within the lifetime: %d %v", st, body)
		}
		rt = body["refresh_token"].(string)
	}
	e.clock.Advance(121 * time.Hour) // 721h after the sign-in
	st, body := post(t, e.spa.issuer+"/access_token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"spa"}}, "", "")
	if st != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("refresh past the lifetime: %d %v", st, body)
	}
	if n := rec.Count(oidc.EventReplay); n != 0 {
		t.Fatalf("an expired refresh token was taken for a replay (%d events)", n)
	}
}
