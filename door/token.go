package door

import (
	"net/http"
	"strings"
)

// maxPresentedToken bounds a presented token; real ones are 43 characters.
const maxPresentedToken = 256

// SessionToken returns the session token r presents, or "": a header named like the
// session cookie (AM's iPlanetDirectoryPro header), an "Authorization: Bearer KEY"
// header (RFC 6750; the FortiGate-style API's session key), or the session cookie, in
// that order. Every door that validates a session reads it here, so a session key
// works wherever a session cookie does. A bearer token is never sent by a browser on
// its own, so accepting it opens no cross-site request forgery.
func SessionToken(r *http.Request, cookieName string) string {
	if h := r.Header.Get(cookieName); h != "" {
		return h
	}
	if t := BearerToken(r); t != "" {
		return t
	}
	if ck, err := r.Cookie(cookieName); err == nil {
		return ck.Value
	}
	return ""
}

// BearerToken returns the token of an "Authorization: Bearer" header (the scheme in any
// case), or "" when there is none or it is malformed or too long.
func BearerToken(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	tok = strings.TrimSpace(tok)
	if tok == "" || len(tok) > maxPresentedToken || strings.ContainsAny(tok, " \t") {
		return ""
	}
	return tok
}
