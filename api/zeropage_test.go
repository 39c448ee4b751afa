package api_test

import (
	"mime"
	"testing"

	"github.com/arbor-auth/arbor/internal/app/apptest"
)

// TestZeroPageLogin: X-OpenAM-Username / X-OpenAM-Password on the first POST fill the
// journey's name and password callbacks, as AM's REST API does, through the same checks
// as any login: a wrong password is refused alike for known and unknown users, a
// push-enrolled user gets the push step (the next callbacks), a journey asking more than
// a name and password answers with its callbacks, and --zero-page-login=false ignores
// the headers.
func TestZeroPageLogin(t *testing.T) {
	a, srv := newApp(t)
	apptest.AddUser(t, a, "/", "jürgen", "pässwörd", nil)
	apptest.AddUser(t, a, "/", "pia", "push pass", nil)
	enrollPhone(t, a, "/", "pia")
	const root = "/json/realms/root/authenticate"
	hdr := func(u, p string) []string { return []string{"X-OpenAM-Username", u, "X-OpenAM-Password", p} }

	for _, tc := range []struct {
		name, url string
		hdr       []string
		status    int
		want      string // "token", "failure" or the first callback type of the next step
	}{
		{"default journey", root, hdr("alice", "correct horse"), 200, "token"},
		{"named journey", srv.URL + loginURL, hdr("alice", "correct horse"), 200, "token"},
		{"encoded words", root, hdr(mime.BEncoding.Encode("UTF-8", "jürgen"), mime.BEncoding.Encode("UTF-8", "pässwörd")), 200, "token"},
		{"wrong password", root, hdr("alice", "wrong"), 401, "failure"},
		{"unknown user", root, hdr("nobody", "wrong"), 401, "failure"},
		{"no password header", root, []string{"X-OpenAM-Username", "alice"}, 200, "NameCallback"},
		{"push-enrolled user: the push step", "/json/realms/root/authenticate?authIndexType=service&authIndexValue=push-mfa",
			hdr("pia", "push pass"), 200, "next"},
		{"password alone for a push-enrolled user is refused", root, hdr("pia", "push pass"), 401, "failure"},
		{"encoded word in an unknown charset", root, hdr("=?x-unknown?B?YWxpY2U=?=", "x"), 400, "failure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := tc.url
			if url[0] == '/' {
				url = srv.URL + url
			}
			r := post(t, url, nil, tc.hdr...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.raw)
			}
			switch tc.want {
			case "token":
				if r.body["tokenId"] == nil || r.body["realm"] != "/" {
					t.Fatalf("no session: %s", r.raw)
				}
				if ck := r.header.Get("Set-Cookie"); ck == "" {
					t.Error("no session cookie")
				}
			case "failure":
				if r.body["tokenId"] != nil || r.body["authId"] != nil {
					t.Fatalf("not a failure: %s", r.raw)
				}
			case "next":
				cbs, _ := r.body["callbacks"].([]any)
				if r.body["authId"] == nil || len(cbs) == 0 {
					t.Fatalf("no next step: %s", r.raw)
				}
				for _, cb := range cbs {
					if typ := cb.(map[string]any)["type"]; typ == "NameCallback" || typ == "PasswordCallback" {
						t.Fatalf("the name and password were asked again: %s", r.raw)
					}
				}
			default:
				cbs, _ := r.body["callbacks"].([]any)
				if len(cbs) == 0 || cbs[0].(map[string]any)["type"] != tc.want {
					t.Fatalf("want the %s step: %s", tc.want, r.raw)
				}
			}
		})
	}

	t.Run("off", func(t *testing.T) {
		_, off := newApp(t, "--zero-page-login=false")
		r := post(t, off.URL+root, nil, hdr("alice", "correct horse")...)
		if r.status != 200 || r.body["tokenId"] != nil || r.body["authId"] == nil {
			t.Fatalf("headers honoured with zero_page_login off: %d %s", r.status, r.raw)
		}
	})
}
