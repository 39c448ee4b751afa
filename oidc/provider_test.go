package oidc_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/oidc"
)

// TestDiscoveryAtAMPaths: the discovery document names AM's endpoint paths, at the
// realm's path and at /oauth2/.well-known for the root realm, and the JWKS publishes
// an ES256 key.
func TestDiscoveryAtAMPaths(t *testing.T) {
	e := newEnv(t, envOptions{})
	base := e.srv.URL + "/oauth2/realms/root"
	for _, u := range []string{base + "/.well-known/openid-configuration", e.srv.URL + "/oauth2/.well-known/openid-configuration"} {
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		var d map[string]any
		json.NewDecoder(res.Body).Decode(&d)
		res.Body.Close()
		want := map[string]string{
			"issuer": base, "authorization_endpoint": base + "/authorize", "token_endpoint": base + "/access_token",
			"userinfo_endpoint": base + "/userinfo", "revocation_endpoint": base + "/token/revoke",
			"introspection_endpoint": base + "/introspect", "end_session_endpoint": base + "/connect/endSession",
			"jwks_uri": base + "/connect/jwk_uri",
		}
		for k, v := range want {
			if d[k] != v {
				t.Errorf("%s: %s = %v, want %s", u, k, d[k], v)
			}
		}
		if rt, _ := d["response_types_supported"].([]any); !slices.Equal(rt, []any{"code"}) || d["device_authorization_endpoint"] != nil {
			t.Errorf("%s: advertises what it does not do: response types %v, device endpoint %v", u, rt, d["device_authorization_endpoint"])
		}
		if algs, _ := d["id_token_signing_alg_values_supported"].([]any); !slices.Contains(algs, any("ES256")) {
			t.Errorf("%s: id_token_signing_alg_values_supported = %v", u, d["id_token_signing_alg_values_supported"])
		}
	}
	// AM's short path for the root realm reaches the same provider.
	res, err := http.Get(e.srv.URL + "/oauth2/connect/jwk_uri")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/oauth2/connect/jwk_uri: %d", res.StatusCode)
	}
	res, err = http.Get(base + "/connect/jwk_uri")
	if err != nil {
		t.Fatal(err)
	}
	var jwks struct {
		Keys []map[string]any `json:"keys"`
	}
	json.NewDecoder(res.Body).Decode(&jwks)
	res.Body.Close()
	if len(jwks.Keys) != 1 || jwks.Keys[0]["kty"] != "EC" || jwks.Keys[0]["alg"] != "ES256" || jwks.Keys[0]["d"] != nil {
		t.Fatalf("jwks: %v", jwks.Keys)
	}
	// A realm the server does not serve is an OAuth error, not the root's provider.
	res, err = http.Get(e.srv.URL + "/oauth2/realms/root/realms/nowhere/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var oe map[string]any
	json.NewDecoder(res.Body).Decode(&oe)
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound || oe["error"] != "invalid_request" {
		t.Fatalf("unknown realm: %d %v", res.StatusCode, oe)
	}
}

// TestCodeFlowPKCERefreshUserinfoRevokeLogout is an application's whole life with
// the provider through a go-oidc relying party: sign in through the browser door,
// userinfo, a silent second authorization, refresh with rotation, revocation and
// logout.
func TestCodeFlowPKCERefreshUserinfoRevokeLogout(t *testing.T) {
	e := newEnv(t, envOptions{})
	rec := &audit.Recorder{}
	e.srv.App.Audit.AddSink(rec.Sink())
	ua := newAgent(t)
	base := e.spa.issuer

	// No session: the browser goes to the browser door's login page for the client's
	// journey, with a goto back to the provider.
	p := ua.get(e.spa.srv.URL + "/start")
	if p.URL.Path != "/login" || p.URL.Query().Get("journey") != "login" ||
		!strings.HasPrefix(p.URL.Query().Get("goto"), "/oauth2/realms/root/authorize/resume?id=") {
		t.Fatalf("authorize without a session led to %s", p.URL)
	}
	p = ua.signIn(p, alice, password)
	claims := p.json(t)
	if p.URL.Path != "/cb" || claims["sub"] != alice || claims["acr"] != "10" || claims["email"] != "alice@example.com" ||
		claims["iss"] != base || claims["sid"] == nil {
		t.Fatalf("callback %s: %d %v", p.URL, p.Status, claims)
	}
	if amr, _ := claims["amr"].([]any); !slices.Equal(amr, []any{"pwd"}) {
		t.Fatalf("amr = %v, want [pwd]", claims["amr"])
	}
	tok := e.spa.Tokens
	if tok.RefreshToken == "" || tok.AccessToken == "" {
		t.Fatalf("tokens: %+v", tok)
	}

	// userinfo through go-oidc.
	ui, err := e.spa.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	var uc map[string]any
	ui.Claims(&uc)
	if ui.Subject != alice || ui.Email != "alice@example.com" || uc["name"] != "Alice Liddell" || uc["preferred_username"] != alice {
		t.Fatalf("userinfo: %v", uc)
	}

	// With the session, a second authorization answers at once, prompt=none too.
	for _, q := range []string{"", "?prompt=none"} {
		p = ua.get(e.spa.srv.URL + "/start" + q)
		if c := p.json(t); p.URL.Path != "/cb" || c["sub"] != alice {
			t.Fatalf("authorize%s with a session: %s %v", q, p.URL, c)
		}
	}
	tok = e.spa.Tokens

	// Refresh rotates the refresh token; the old one presented again is a replay that
	// revokes the whole grant.
	old := *tok
	old.Expiry = time.Now().Add(-time.Minute)
	fresh, err := e.spa.config().TokenSource(context.Background(), &old).Token()
	if err != nil {
		t.Fatal(err)
	}
	if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == "" || fresh.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh did not rotate: %+v", fresh)
	}
	if st, _ := userinfo(t, base, fresh.AccessToken); st != http.StatusOK {
		t.Fatalf("userinfo with the refreshed token: %d", st)
	}
	st, body := post(t, base+"/access_token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"spa"}}, "", "")
	if st != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("replayed refresh token: %d %v", st, body)
	}
	st, body = post(t, base+"/access_token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {fresh.RefreshToken}, "client_id": {"spa"}}, "", "")
	if st != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("the family's newest refresh token after a replay: %d %v", st, body)
	}
	if st, _ := userinfo(t, base, fresh.AccessToken); st != http.StatusUnauthorized {
		t.Fatalf("userinfo with an access token of a revoked family: %d", st)
	}

	// Revocation (as the SDK sends it: a public client's id and the access token)
	// revokes the grant's tokens, not the session.
	if c := ua.get(e.spa.srv.URL + "/start?prompt=none").json(t); c["sub"] != alice {
		t.Fatalf("prompt=none before revoke: %v", c)
	}
	tok = e.spa.Tokens
	st, _ = post(t, base+"/token/revoke", url.Values{"client_id": {"spa"}, "token": {tok.AccessToken}}, "", "")
	if st != http.StatusOK {
		t.Fatalf("revoke: %d", st)
	}
	if st, _ := userinfo(t, base, tok.AccessToken); st != http.StatusUnauthorized {
		t.Fatalf("userinfo after revoke: %d", st)
	}
	st, body = post(t, base+"/access_token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"spa"}}, "", "")
	if st != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("refresh token of a revoked grant: %d %v", st, body)
	}

	// Logout: endSession with the ID token ends the Arbor session and its tokens, and
	// returns to the registered post-logout URI. The session survived the revocation.
	if c := ua.get(e.spa.srv.URL + "/start?prompt=none").json(t); c["sub"] != alice {
		t.Fatalf("prompt=none after revoke: %v", c)
	}
	tok = e.spa.Tokens
	idt, _ := tok.Extra("id_token").(string)
	p = ua.get(base + "/connect/endSession?" + url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {e.spa.srv.URL + "/bye"}}.Encode())
	if p.URL.Path != "/bye" {
		t.Fatalf("endSession led to %s (%d %s)", p.URL, p.Status, p.Body)
	}
	if st, _ := userinfo(t, base, tok.AccessToken); st != http.StatusUnauthorized {
		t.Fatalf("userinfo after logout: %d", st)
	}
	p = ua.get(e.spa.srv.URL + "/start?prompt=none")
	if c := p.json(t); c["error"] != "login_required" {
		t.Fatalf("prompt=none after logout: %v", c)
	}

	// The audit trail: every authorization, the replay, the revocation, the logout.
	for typ, want := range map[string]int{oidc.EventAuthorized: 5, oidc.EventReplay: 1, oidc.EventRevoked: 1, audit.SessionLogout: 1} {
		if n := rec.Count(typ); n != want {
			t.Errorf("%d %s events, want %d", n, typ, want)
		}
	}
}

// TestEndSessionAsTheSDKCallsIt: FRUser.logout() fetches endSession from the app's
// origin with the ID token, the Authorization header and the browser's cookies, and no
// post_logout_redirect_uri: it follows the redirect to a signed-out answer that CORS
// lets it read, and the session and its tokens are over.
func TestEndSessionAsTheSDKCallsIt(t *testing.T) {
	e := newEnv(t, envOptions{})
	ua := newAgent(t)
	ua.signIn(ua.get(e.spa.srv.URL+"/start"), alice, password)
	tok := e.spa.Tokens
	idt, _ := tok.Extra("id_token").(string)
	req, _ := http.NewRequest(http.MethodGet, e.spa.issuer+"/connect/endSession?id_token_hint="+url.QueryEscape(idt), nil)
	req.Header.Set("Origin", spaOrigin)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	p := ua.do(req)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "signed out") || p.Header.Get("Access-Control-Allow-Origin") != spaOrigin {
		t.Fatalf("endSession: %d %s %v", p.Status, p.Body, p.Header)
	}
	if st, _ := userinfo(t, e.spa.issuer, tok.AccessToken); st != http.StatusUnauthorized {
		t.Fatalf("userinfo after endSession: %d", st)
	}
	st, body := post(t, e.spa.issuer+"/access_token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"spa"}}, "", "")
	if st != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("refresh after endSession: %d %v", st, body)
	}
	if c := ua.get(e.spa.srv.URL + "/start?prompt=none").json(t); c["error"] != "login_required" {
		t.Fatalf("prompt=none after endSession: %v", c)
	}
	// A bad id_token_hint is an OAuth error and ends nothing.
	ua.signIn(ua.get(e.spa.srv.URL+"/start"), alice, password)
	p = ua.get(e.spa.issuer + "/connect/endSession?id_token_hint=garbage")
	if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "invalid_request") {
		t.Fatalf("endSession with a bad hint: %d %s", p.Status, p.Body)
	}
	if c := ua.get(e.spa.srv.URL + "/start?prompt=none").json(t); c["sub"] != alice {
		t.Fatalf("the session did not survive a refused endSession: %v", c)
	}
}

// TestRealmPaths: a client of realm alpha is served at /oauth2/realms/root/realms/alpha,
// its users sign in on alpha's login page, and the root realm does not know it.
func TestRealmPaths(t *testing.T) {
	e := newEnv(t, envOptions{realm: "/alpha"})
	ua := newAgent(t)
	p := ua.get(e.spa.srv.URL + "/start")
	if p.URL.Path != "/login" || p.URL.Query().Get("realm") != "/alpha" ||
		!strings.HasPrefix(p.URL.Query().Get("goto"), "/oauth2/realms/root/realms/alpha/authorize/resume?id=") {
		t.Fatalf("authorize in alpha led to %s", p.URL)
	}
	c := ua.signIn(p, alice, password).json(t)
	if c["sub"] != alice || c["iss"] != e.srv.URL+"/oauth2/realms/root/realms/alpha" {
		t.Fatalf("alpha sign-in: %v", c)
	}
	// The root realm's provider has no client "spa", nor takes alpha's tokens.
	if st, _ := userinfo(t, e.srv.URL+"/oauth2/realms/root", e.spa.Tokens.AccessToken); st != http.StatusUnauthorized {
		t.Fatalf("alpha's token at root's userinfo: %d", st)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	q := url.Values{"client_id": {"spa"}, "redirect_uri": {e.spa.callback()}, "response_type": {"code"}, "scope": {"openid"}}
	res, err := noFollow.Get(e.srv.URL + "/oauth2/realms/root/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("alpha's client at root: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
}

// TestRefreshedIDTokenKeepsAssurance: an ID token issued on refresh states the same
// acr, amr, auth_time and sid as the one of the sign-in, so a client that checks the
// assurance of a refreshed token sees what the user did.
func TestRefreshedIDTokenKeepsAssurance(t *testing.T) {
	e := newEnv(t, envOptions{})
	ua := newAgent(t)
	first := ua.signIn(ua.get(e.spa.srv.URL+"/start"), alice, password).json(t)
	if first["acr"] != "10" || first["auth_time"] == nil {
		t.Fatalf("sign-in claims: %v", first)
	}
	old := *e.spa.Tokens
	old.Expiry = time.Now().Add(-time.Minute)
	e.clock.Advance(time.Minute) // a later auth_time would show
	fresh, err := e.spa.config().TokenSource(context.Background(), &old).Token()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := fresh.Extra("id_token").(string)
	idt, err := e.spa.verifier.Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("refreshed ID token: %v", err)
	}
	var again map[string]any
	if err := idt.Claims(&again); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"acr", "amr", "auth_time", "sid", "sub"} {
		a, _ := json.Marshal(first[c])
		b, _ := json.Marshal(again[c])
		if string(a) != string(b) {
			t.Errorf("%s: %s on sign-in, %s on refresh", c, a, b)
		}
	}
}

// TestEndSessionWithoutHintAsksFirst: endSession without an id_token_hint (a link any
// site could make a browser open) ends nothing but shows a confirmation page; a POST
// to the confirmation without its CSRF token, or with a wrong one, ends nothing; the
// page's own form ends the session and its tokens and goes on to the
// post_logout_redirect_uri only when it is registered for the client_id, never to
// another site.
func TestEndSessionWithoutHintAsksFirst(t *testing.T) {
	e := newEnv(t, envOptions{})
	base := e.spa.issuer
	ua := newAgent(t)
	ua.signIn(ua.get(e.spa.srv.URL+"/start"), alice, password)
	signedIn := func(when string, want bool) {
		t.Helper()
		c := ua.get(e.spa.srv.URL + "/start?prompt=none").json(t)
		if got := c["sub"] == alice; got != want {
			t.Fatalf("%s: signed in %t, want %t (%v)", when, got, want, c)
		}
	}
	confirmURL := base + "/connect/endSession/confirm"
	submit := func(form url.Values) *page {
		req, _ := http.NewRequest(http.MethodPost, confirmURL, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return ua.do(req)
	}

	// A link to someone else's site, even with a client_id: refused, nothing ends.
	p := ua.get(base + "/connect/endSession?" + url.Values{"client_id": {"spa"}, "post_logout_redirect_uri": {"https://evil.example/"}}.Encode())
	if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "post_logout_redirect_uri") {
		t.Fatalf("endSession to an unregistered URI: %d %s", p.Status, p.Body)
	}
	signedIn("after an unregistered post_logout_redirect_uri", true)

	p = ua.get(base + "/connect/endSession?" + url.Values{"client_id": {"spa"}, "post_logout_redirect_uri": {e.spa.srv.URL + "/bye"}, "state": {"s-1"}}.Encode())
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "Sign out?") || p.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("endSession without a hint: %d %s", p.Status, p.Body)
	}
	form := formValues(t, p.Body)
	if form.Get("client_id") != "spa" || form.Get("post_logout_redirect_uri") != e.spa.srv.URL+"/bye" || form.Get("state") != "s-1" {
		t.Fatalf("confirmation form: %v", form)
	}
	signedIn("on the confirmation page", true)

	for name, csrf := range map[string]string{"no token": "", "a wrong token": "AAAA" + form.Get("csrf")[4:]} {
		forged := url.Values{"client_id": {"spa"}, "post_logout_redirect_uri": {e.spa.srv.URL + "/bye"}}
		if csrf != "" {
			forged.Set("csrf", csrf)
		}
		if p := submit(forged); p.Status != http.StatusForbidden {
			t.Fatalf("confirmation with %s: %d %s", name, p.Status, p.Body)
		}
		signedIn("after a forged confirmation with "+name, true)
	}
	if p := ua.get(confirmURL); p.Status != http.StatusMethodNotAllowed {
		t.Fatalf("GET of the confirmation: %d", p.Status)
	}
	signedIn("after a GET of the confirmation", true)

	tok := e.spa.Tokens
	p = submit(form)
	want := e.spa.srv.URL + "/bye?state=s-1"
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `href="`+strings.ReplaceAll(want, "&", "&amp;")+`"`) {
		t.Fatalf("confirmed sign-out: %d %s", p.Status, p.Body)
	}
	signedIn("after the confirmed sign-out", false)
	if st, _ := userinfo(t, base, tok.AccessToken); st != http.StatusUnauthorized {
		t.Fatalf("userinfo after the confirmed sign-out: %d", st)
	}

	// Without a client_id the post_logout_redirect_uri is not honoured: the end is
	// Arbor's own signed-out answer.
	ua.signIn(ua.get(e.spa.srv.URL+"/start"), alice, password)
	p = ua.get(base + "/connect/endSession?" + url.Values{"post_logout_redirect_uri": {"https://evil.example/"}}.Encode())
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "Sign out?") {
		t.Fatalf("endSession without hint or client: %d %s", p.Status, p.Body)
	}
	p = submit(formValues(t, p.Body))
	if p.Status != http.StatusOK || strings.Contains(p.Body, "evil.example") || !strings.Contains(p.Body, "/connect/endSession/done") {
		t.Fatalf("confirmed sign-out without a client: %d %s", p.Status, p.Body)
	}
	signedIn("after the second confirmed sign-out", false)
}
