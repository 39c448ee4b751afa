package web

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"sort"
)

// SignOutPage answers w with the page on which a signed-in user confirms signing out,
// for a door that must not end a session on a bare link: OpenID Connect's endSession
// without an id_token_hint, which any site could otherwise make a browser open (logout
// CSRF). It is an account page like the others (layout, security headers, a CSRF token
// bound to the session whose handle is given); its form posts fields, as hidden inputs,
// to action, a path on this server. The door that receives the POST checks the token
// with SignOutConfirmed before it ends anything; Cancel goes to the landing page.
func (s *Server) SignOutPage(w http.ResponseWriter, handle, action string, fields url.Values) error {
	v := confirmView{
		Heading: "Sign out?",
		Text:    "An application asked to sign you out of this site. Sign out only if you meant to.",
		Button:  "Sign out", Action: action, CSRF: s.csrfToken("signout", handle), Cancel: "/",
	}
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v.Hidden = append(v.Hidden, hiddenField{Name: n, Value: fields.Get(n)})
	}
	var buf bytes.Buffer
	if err := writePage(&buf, s.pages, "confirm", pageData{Title: "Sign out", Confirm: &v}); err != nil {
		return fmt.Errorf("sign-out page: %w", err)
	}
	pageHeaders(w.Header(), s.csp)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(buf.Bytes())
	return err
}

// SignOutConfirmed reports, in constant time, whether token is the CSRF token that
// SignOutPage put in its form for the session handle: the POST came from that page, in
// the browser of that session, and not from another site.
func (s *Server) SignOutConfirmed(handle, token string) bool {
	return s.checkCSRF(token, "signout", handle)
}
