package admin_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/admin"
	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/internal/app/apptest"
	"github.com/arbor-auth/arbor/sessions"
)

// env is one Arbor serving the admin API over loopback HTTP, with its audit events
// recorded.
type env struct {
	*apptest.Server
	audit *audit.Recorder
}

// onEveryStore runs f on each backend as a subtest.
func onEveryStore(t *testing.T, f func(t *testing.T, e *env)) {
	for _, b := range apptest.Stores { // every endpoint test runs on each
		t.Run("store="+b.Name, func(t *testing.T) {
			f(t, start(t, append(b.Args(t), "--realms", "alpha")...))
		})
	}
}

func start(t *testing.T, args ...string) *env {
	t.Helper()
	s := apptest.Start(t, apptest.Options{Args: args})
	rec := &audit.Recorder{}
	s.Audit.AddSink(rec.Sink())
	return &env{Server: s, audit: rec}
}

// sharedSecret makes instances sharing a store share keys (sessions, sealed secrets).
func sharedSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// token creates an API token on e's store.
func (e *env) token(t *testing.T, ttl time.Duration, realms []string, scopes ...admin.Scope) string {
	t.Helper()
	tok, _, err := admin.NewTokens(e.Store, nil).Create(context.Background(), admin.NewToken{Name: "test", Scopes: scopes, Realms: realms, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// allScopes is a token that may do everything.
func (e *env) root(t *testing.T) auth {
	return bearer(e.token(t, time.Hour, nil, admin.ScopeJourneysWrite, admin.ScopeUsersWrite))
}

// session stores a user with attrs and grants it a session (made directly: the admin
// API must not depend on the login pages to be tested).
func (e *env) session(t *testing.T, realm, user string, attrs map[string]any, g sessions.Grant) string {
	t.Helper()
	ctx := context.Background()
	if _, err := e.Users.Get(ctx, realm, user); err != nil {
		if err := e.Users.Put(ctx, &identity.User{Realm: realm, Username: user, Status: identity.StatusActive, Attributes: attrs}); err != nil {
			t.Fatal(err)
		}
	}
	g.Username, g.Realm, g.Journey = user, realm, "login"
	tok, _, err := e.Sessions.Grant(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// auth adds credentials to a request.
type auth func(r *http.Request)

func bearer(tok string) auth {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

func cookie(tok string) auth {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "iPlanetDirectoryPro", Value: tok}) }
}

// cookieXRW is an admin's browser: the cookie and the custom header.
func cookieXRW(tok string) auth {
	return func(r *http.Request) {
		cookie(tok)(r)
		r.Header.Set(admin.RequestedWithHeader, admin.RequestedWithValue)
	}
}

func sessionHeader(tok string) auth {
	return func(r *http.Request) { r.Header.Set("iPlanetDirectoryPro", tok) }
}

func noAuth(*http.Request) {}

type response struct {
	status int
	header http.Header
	raw    string
}

// json decodes the body into a generic value.
func (r response) json(t *testing.T) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(r.raw), &v); err != nil {
		t.Fatalf("body %q: %v", r.raw, err)
	}
	return v
}

func (r response) obj(t *testing.T) map[string]any {
	t.Helper()
	m, ok := r.json(t).(map[string]any)
	if !ok {
		t.Fatalf("body is not an object: %s", r.raw)
	}
	return m
}

func (r response) list(t *testing.T) []any {
	t.Helper()
	l, ok := r.json(t).([]any)
	if !ok {
		t.Fatalf("body is not a list: %s", r.raw)
	}
	return l
}

// code is the error code of an error body.
func (r response) code() string {
	var e struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal([]byte(r.raw), &e)
	return e.Code
}

// call sends method path (under the admin prefix) with a, a JSON body if body is set,
// and extra headers in pairs.
func (e *env) call(t *testing.T, a auth, method, path, body string, hdr ...string) response {
	t.Helper()
	return call(t, e.URL, a, method, path, body, hdr...)
}

func call(t *testing.T, base string, a auth, method, path, body string, hdr ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+admin.Prefix+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	a(req)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, raw: string(b)}
}

// want fails unless r has status (and, for an error, code).
func want(t *testing.T, what string, r response, status int, code string) {
	t.Helper()
	if r.status != status || (code != "" && r.code() != code) {
		t.Fatalf("%s: %d %s, want %d %s", what, r.status, r.raw, status, code)
	}
}
