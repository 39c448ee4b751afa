package api_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/arbor-auth/arbor/internal/app"
	"github.com/arbor-auth/arbor/internal/testtamper"
	"github.com/arbor-auth/arbor/keys"
)

// sealedClaims are the authId claims these tests read and forge.
type sealedClaims struct {
	SessionID string `json:"sessionId"`
	Flow      string `json:"flow"`
}

// claimsOf decodes an authId's claims without checking it (the test's own tokens).
func claimsOf(t *testing.T, authID string) sealedClaims {
	t.Helper()
	parts := strings.Split(authID, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var cl sealedClaims
	if err := json.Unmarshal(raw, &cl); err != nil {
		t.Fatal(err)
	}
	return cl
}

// signAuthID signs an authId with the server's key, as a standard JWT library does (the
// codec reads those, see TestAuthIDCompatibleWithJWTLibrary).
func signAuthID(t *testing.T, a *app.App, flowID, realm, sealed string, exp time.Time) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"otk": "ABCDEFGHIJKLMNOPQRSTUVWXYZ23", "authIndexType": "service",
		"authIndexValue": "login", "realm": realm, "sessionId": flowID, "flow": sealed, "exp": exp.Unix()}).SignedString(a.Keys.Key(keys.PurposeAuthID))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// A sealed first step is refused once its login is over (no second session), with
// another realm, past its expiry, or when its sealed state does not open.
func TestSealedAuthIDRefused(t *testing.T) {
	a, srv := newApp(t)
	r1 := post(t, srv.URL+loginURL, nil)
	sealed := claimsOf(t, r1.body["authId"].(string)).Flow
	if sealed == "" {
		t.Fatalf("the start's authId carries no sealed flow: %s", r1.raw)
	}
	t.Logf("authId %d bytes, its sealed flow %d", len(r1.body["authId"].(string)), len(sealed))
	answered := fill(r1.body, map[string]any{"NameCallback": "alice", "PasswordCallback": "correct horse"})
	if r := post(t, srv.URL+loginURL, answered); r.status != 200 || r.body["tokenId"] == nil {
		t.Fatalf("login: %d %s", r.status, r.raw)
	}
	if r := post(t, srv.URL+loginURL, answered); r.status != 409 {
		t.Fatalf("replay of the sealed step: %d %s", r.status, r.raw)
	}
	if n, err := a.Sessions.List(t.Context(), "/", "alice"); err != nil || len(n) != 1 {
		t.Fatalf("sessions after the replay: %d %v", len(n), err)
	}

	cl := claimsOf(t, r1.body["authId"].(string))
	now := time.Now()
	for _, tc := range []struct {
		name, url, authID string
		status            int
		msg               string
	}{
		{"other flow state", loginURL, signAuthID(t, a, cl.SessionID, "/", testtamper.Base64(cl.Flow), now.Add(time.Minute)), 400, "flow state is not valid"},
		{"other flow id", loginURL, signAuthID(t, a, "x"+cl.SessionID, "/", cl.Flow, now.Add(time.Minute)), 400, "flow state is not valid"},
		{"other realm", "/json/realms/root/realms/alpha/authenticate", signAuthID(t, a, cl.SessionID, "/alpha", cl.Flow, now.Add(time.Minute)), 400, "flow state is not valid"},
		{"expired", loginURL, signAuthID(t, a, cl.SessionID, "/", cl.Flow, now.Add(-time.Second)), 401, "Session has timed out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := fill(post(t, srv.URL+loginURL, nil).body, map[string]any{"NameCallback": "alice", "PasswordCallback": "correct horse"})
			body["authId"] = tc.authID
			r := post(t, srv.URL+tc.url, body)
			if r.status != tc.status || !strings.Contains(string(r.raw), tc.msg) {
				t.Fatalf("%d %s, want %d %q", r.status, r.raw, tc.status, tc.msg)
			}
		})
	}
}
