package web

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/arbor-auth/arbor/keys"
)

// TestSignOutPage: the page carries the given fields as hidden inputs (escaped), a CSRF
// token that SignOutConfirmed accepts for its session only, and the account pages'
// security headers.
func TestSignOutPage(t *testing.T) {
	pages, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := keys.New([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{csrfSigner: ring.Signer(keys.PurposeCSRF), pages: pages, csp: pagePolicy(nil)}
	w := httptest.NewRecorder()
	fields := url.Values{"client_id": {"spa"}, "state": {`"><script>`}}
	if err := s.SignOutPage(w, "handle-a", "/oauth2/realms/root/connect/endSession/confirm", fields); err != nil {
		t.Fatal(err)
	}
	body := w.Body.String()
	for _, want := range []string{`action="/oauth2/realms/root/connect/endSession/confirm"`, `name="client_id" value="spa"`,
		`name="state" value="&#34;&gt;&lt;script&gt;"`, `href="/"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s:\n%s", want, body)
		}
	}
	if w.Header().Get("Content-Security-Policy") == "" || w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("headers: %v", w.Header())
	}
	i := strings.Index(body, `name="csrf" value="`)
	if i < 0 {
		t.Fatalf("no csrf field:\n%s", body)
	}
	tok := body[i+len(`name="csrf" value="`):]
	tok = tok[:strings.IndexByte(tok, '"')]
	for _, tc := range []struct {
		handle, token string
		want          bool
	}{
		{"handle-a", tok, true},
		{"handle-b", tok, false},
		{"handle-a", "", false},
		{"handle-a", s.csrfToken("session", "handle-a"), false}, // another form's token
	} {
		if got := s.SignOutConfirmed(tc.handle, tc.token); got != tc.want {
			t.Errorf("SignOutConfirmed(%s, %.8s...) = %t, want %t", tc.handle, tc.token, got, tc.want)
		}
	}
}
