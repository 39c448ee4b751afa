package door

import (
	"net/http"

	"github.com/arbor-auth/arbor/sessions"
)

// SessionCookie is the session cookie for token: HttpOnly, SameSite=Lax, Secure when the
// client reached the server over https, and without Expires (it ends with the browser
// session) unless the journey asked to remember the user.
func SessionCookie(name, token string, sess *sessions.Session, cl Client) *http.Cookie {
	ck := &http.Cookie{Name: name, Value: token, Path: "/", HttpOnly: true, Secure: cl.Secure, SameSite: http.SameSiteLaxMode}
	if sess != nil && sess.Remember {
		ck.Expires = sess.MaxEnd
	}
	return ck
}

// ClearCookie is a cookie that deletes the cookie name at path.
func ClearCookie(name, path string, cl Client) *http.Cookie {
	return &http.Cookie{Name: name, Value: "", Path: path, MaxAge: -1, HttpOnly: true, Secure: cl.Secure, SameSite: http.SameSiteLaxMode}
}

// HSTS is the Strict-Transport-Security value sent over https: one year, subdomains
// included (no preload: that is the operator's decision).
const HSTS = "max-age=31536000; includeSubDomains"

// TransportHeaders sets the headers that depend on how the client came in: HSTS when it
// came over https.
func TransportHeaders(h http.Header, cl Client) {
	if cl.Secure {
		h.Set("Strict-Transport-Security", HSTS)
	}
}
