package admin_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/admin"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/sessions"
)

// TestAuthRefusals: every way in that must fail fails with its code and changes
// nothing, and the ways in that must work do, on both stores.
func TestAuthRefusals(t *testing.T) {
	onEveryStore(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		adminAttrs := map[string]any{"roles": []any{"admin"}}
		adminSess := e.session(t, "/", "root", adminAttrs, sessions.Grant{Factors: []string{"pwd"}, Level: 10})
		userSess := e.session(t, "/", "plain", nil, sessions.Grant{Factors: []string{"pwd"}, Level: 10})
		alphaAdmin := e.session(t, "/alpha", "boss", adminAttrs, sessions.Grant{Factors: []string{"pwd"}, Level: 10})
		// An admin with a phone, signed in with the password only.
		weak := e.session(t, "/", "phoned", adminAttrs, sessions.Grant{Factors: []string{"pwd"}, Level: 10})
		secret := make([]byte, devices.SecretLen)
		_, _ = rand.Read(secret)
		if err := e.Devices.Add(ctx, "/", "phoned", devices.Device{ID: "phone-1", Communication: devices.CommPoll}, secret); err != nil {
			t.Fatal(err)
		}
		strong := e.session(t, "/", "phoned", nil, sessions.Grant{Factors: []string{"pwd", "push"}, Level: 20})

		readJ := bearer(e.token(t, time.Hour, nil, admin.ScopeJourneysRead))
		writeU := bearer(e.token(t, time.Hour, nil, admin.ScopeUsersWrite))
		alphaOnly := bearer(e.token(t, time.Hour, []string{"/alpha"}, admin.ScopeUsersWrite, admin.ScopeJourneysWrite))
		revokedTok := e.token(t, time.Hour, nil, admin.ScopeJourneysWrite)
		id := strings.SplitN(strings.TrimPrefix(revokedTok, admin.TokenPrefix), "_", 2)[0]
		if err := admin.NewTokens(e.Store, nil).Revoke(ctx, id); err != nil {
			t.Fatal(err)
		}
		past := func() time.Time { return time.Now().Add(-2 * time.Hour) }
		expiredTok, _, err := admin.NewTokens(e.Store, past).Create(ctx, admin.NewToken{Name: "old", Scopes: []admin.Scope{admin.ScopeJourneysWrite}, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		goodTok := e.token(t, time.Hour, nil, admin.ScopeJourneysWrite)
		good := bearer(goodTok)
		// A live token's id with another secret of the same length.
		wrongSecret := bearer(goodTok[:len(goodTok)-4] + strings.Map(func(r rune) rune { return 'A' + (r+1)%26 }, goodTok[len(goodTok)-4:]))

		for _, tc := range []struct {
			name         string
			a            auth
			method, path string
			body         string
			status       int
			code         string
		}{
			{"no credentials", noAuth, "GET", "/journeys", "", 401, "auth.required"},
			{"basic auth", func(r *http.Request) { r.SetBasicAuth("a", "b") }, "GET", "/journeys", "", 401, "auth.required"},
			{"malformed token", bearer("arbor_zz"), "GET", "/journeys", "", 401, "auth.required"},
			{"wrong secret", wrongSecret, "GET", "/journeys", "", 401, "auth.required"},
			{"revoked token", bearer(revokedTok), "GET", "/journeys", "", 401, "auth.required"},
			{"expired token", bearer(expiredTok), "GET", "/journeys", "", 401, "auth.required"},
			{"unknown session", cookie("nope"), "GET", "/journeys", "", 401, "auth.required"},
			{"read scope writes", readJ, "POST", "/journeys/login/disable", "", 403, "auth.forbidden"},
			{"journeys scope on users", readJ, "GET", "/users", "", 403, "auth.forbidden"},
			{"users scope on journeys", writeU, "GET", "/journeys", "", 403, "auth.forbidden"},
			{"realm token on another realm", alphaOnly, "GET", "/users?realm=/", "", 403, "auth.forbidden"},
			{"realm token on journeys", alphaOnly, "GET", "/journeys", "", 403, "auth.forbidden"},
			{"unknown realm", writeU, "GET", "/users?realm=/nowhere", "", 400, "request.invalid"},
			{"non-admin session", cookie(userSess), "GET", "/journeys", "", 403, "auth.forbidden"},
			{"admin of a sub-realm", cookie(alphaAdmin), "GET", "/journeys", "", 403, "auth.forbidden"},
			{"admin below the strongest level", cookie(weak), "GET", "/journeys", "", 403, "admin.step_up_required"},
			{"cookie change without X-Requested-With", cookie(adminSess), "POST", "/journeys/radius/disable", "", 403, "auth.forbidden"},
			{"wrong content type", good, "POST", "/journeys/validate", "", 415, "request.content_type"},
			{"oversized body", good, "POST", "/journeys", `{"name":"big","description":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "request.too_large"},
			{"unknown endpoint", good, "GET", "/nothing", "", 404, "request.not_found"},

			{"write implies read", good, "GET", "/journeys", "", 200, ""},
			{"users write reads users", writeU, "GET", "/users", "", 200, ""},
			{"realm token in its realm", alphaOnly, "GET", "/users?realm=alpha", "", 200, ""},
			{"admin session reads", cookie(adminSess), "GET", "/journeys", "", 200, ""},
			{"admin at the strongest level", cookie(strong), "GET", "/journeys", "", 200, ""},
			{"cookie change with X-Requested-With", cookieXRW(adminSess), "POST", "/journeys/radius/disable", "", 200, ""},
			{"session header change", sessionHeader(adminSess), "POST", "/journeys/radius/enable", "", 200, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var hdr []string
				if tc.name == "wrong content type" {
					hdr = []string{"Content-Type", "text/plain"}
					tc.body = hello("x")
				}
				r := e.call(t, tc.a, tc.method, tc.path, tc.body, hdr...)
				want(t, tc.name, r, tc.status, tc.code)
				if tc.code == "admin.step_up_required" && r.obj(t)["journey"] != "push-mfa" {
					t.Fatalf("step-up names no journey: %s", r.raw)
				}
			})
		}
		// Nothing the refusals tried was done: radius is enabled, no journey "big".
		if on, err := e.Journeys.Enabled(ctx, "radius"); err != nil || !on {
			t.Fatalf("radius enabled %v %v", on, err)
		}
		if names, _ := e.Journeys.Names(ctx); strings.Contains(strings.Join(names, ","), "big") {
			t.Fatal("an oversized journey was saved")
		}
		// The admin session's actor is the user.
		var actors []string
		for _, ev := range e.audit.Events() {
			if ev.Type == "admin.journey.disabled" {
				actors = append(actors, ev.Details["actor"].(string))
			}
		}
		if len(actors) != 1 || actors[0] != "user:/root" {
			t.Fatalf("actors of the disable: %v", actors)
		}
	})
}

// TestNoCORS: the admin API offers no CORS even to an origin cors_origins allows.
func TestNoCORS(t *testing.T) {
	e := start(t, "--cors-origins", "https://app.example")
	r := e.call(t, e.root(t), http.MethodGet, "/journeys", "", "Origin", "https://app.example")
	if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("admin API answered CORS: %d %v", r.status, r.header)
	}
}

// TestTokens: a token checks only with its exact secret, until it expires or is
// revoked; the store holds its hash, never the secret; bad input is refused.
func TestTokens(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	now := time.Now()
	ts := admin.NewTokens(e.Store, func() time.Time { return now })
	tok, info, err := ts.Create(ctx, admin.NewToken{Name: "ci", Scopes: []admin.Scope{admin.ScopeUsersWrite}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, admin.TokenPrefix+info.ID+"_") || info.Hash != "" || !info.AllRealms() {
		t.Fatalf("token %q info %+v", tok, info)
	}
	secret := strings.TrimPrefix(tok, admin.TokenPrefix+info.ID+"_")
	it, err := e.Store.Get(ctx, "admintoken:"+info.ID)
	if err != nil || strings.Contains(string(it.Value), secret) {
		t.Fatalf("stored token %s: %v", it.Value, err)
	}
	got, err := ts.Check(ctx, tok)
	if err != nil || !got.Allows(admin.ScopeUsersRead) || got.Allows(admin.ScopeJourneysRead) {
		t.Fatalf("check: %+v %v", got, err)
	}
	for _, bad := range []string{"", "arbor_", tok + "x", strings.Replace(tok, "arbor_", "arbr_", 1), admin.TokenPrefix + "0123456789abcdef_" + secret} {
		if _, err := ts.Check(ctx, bad); err != admin.ErrBadToken {
			t.Errorf("Check(%q) = %v", bad, err)
		}
	}
	list, err := ts.List(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "ci" || list[0].Hash != "" {
		t.Fatalf("list %+v %v", list, err)
	}
	now = now.Add(time.Hour)
	if _, err := ts.Check(ctx, tok); err != admin.ErrBadToken {
		t.Fatalf("expired token: %v", err)
	}
	now = now.Add(-time.Hour)
	if err := ts.Revoke(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Check(ctx, tok); err != admin.ErrBadToken {
		t.Fatalf("revoked token: %v", err)
	}
	if err := ts.Revoke(ctx, info.ID); err != admin.ErrTokenNotFound {
		t.Fatalf("revoke twice: %v", err)
	}
	for _, n := range []admin.NewToken{
		{Scopes: []admin.Scope{admin.ScopeUsersRead}, TTL: time.Hour},
		{Name: "x", TTL: time.Hour},
		{Name: "x", Scopes: []admin.Scope{"users:admin"}, TTL: time.Hour},
		{Name: "x", Scopes: []admin.Scope{admin.ScopeUsersRead}},
	} {
		if _, _, err := ts.Create(ctx, n); err == nil {
			t.Errorf("Create(%+v) accepted", n)
		}
	}
}
