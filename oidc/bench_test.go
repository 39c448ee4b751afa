package oidc_test

import (
	"net/http"
	"net/url"
	"testing"
)

// BenchmarkRefresh is one refresh token exchange at the token endpoint of a whole
// Arbor on the embedded store, over loopback HTTP: the replay check and rotation
// (compare-and-swap), the grant and account checks, a new access and refresh token
// record, and an ES256 ID token with the user's claims.
//
//	go test ./oidc -run '^$' -bench Refresh -benchtime 2000x
func BenchmarkRefresh(b *testing.B) {
	e := newEnv(b, envOptions{})
	ua := newAgent(b)
	ua.signIn(ua.get(e.spa.srv.URL+"/start"), alice, password)
	rt := e.spa.Tokens.RefreshToken
	u := e.spa.issuer + "/access_token"
	for b.Loop() {
		st, body := post(b, u, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"spa"}}, "", "")
		if st != http.StatusOK {
			b.Fatalf("refresh: %d %v", st, body)
		}
		rt = body["refresh_token"].(string)
	}
}
