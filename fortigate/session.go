package fortigate

import (
	"encoding/hex"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/keys"
	"github.com/arbor-auth/arbor/sessions"
)

// csrfToken is the ccsrftoken of the session token: derived from it with a server key,
// so any instance checks it without storing it, and a token for one session is useless
// with another. Upper-case hex, as FortiOS's.
func (s *Server) csrfToken(token string) string {
	return strings.ToUpper(hex.EncodeToString(s.csrf.Sum(csrfLabel, token)[:keys.MinTagLen]))
}

// csrfLabel keeps the ccsrftoken apart from the other uses of the CSRF key.
const csrfLabel = "fortigate ccsrftoken"

// csrfValid reports, in constant time, whether got (in either case) is the ccsrftoken
// of the session token.
func (s *Server) csrfValid(got, token string) bool {
	tag, err := hex.DecodeString(got)
	return err == nil && len(tag) == keys.MinTagLen && s.csrf.Verify(tag, csrfLabel, token)
}

// setCookies sets the session cookie and the ccsrftoken cookie, which scripts read
// (not HttpOnly) to send it back as X-CSRFTOKEN.
func (s *Server) setCookies(c echo.Context, cl door.Client, token string) {
	c.SetCookie(door.SessionCookie(s.d.CookieName, token, nil, cl))
	c.SetCookie(&http.Cookie{Name: CSRFCookie, Value: s.csrfToken(token), Path: "/", Secure: cl.Secure, SameSite: http.SameSiteStrictMode})
}

func (s *Server) clearCookies(c echo.Context, cl door.Client) {
	c.SetCookie(door.ClearCookie(s.d.CookieName, "/", cl))
	ck := door.ClearCookie(CSRFCookie, "/", cl)
	ck.HttpOnly = false
	c.SetCookie(ck)
}

// presented is the session a PUT or DELETE names, and how.
type presented struct {
	token  string
	cookie bool
}

// sessionOf finds the session a PUT or DELETE names: session_key in the body, a bearer
// token, or the session cookie with its X-CSRFTOKEN. A body that names it otherwise
// than the header, or carries a login's fields, is bad input.
func (s *Server) sessionOf(c echo.Context) (presented, error) {
	r := c.Request()
	req, err := readRequest(r, s.limit)
	if err != nil {
		return presented{}, err
	}
	if req.loginFields() {
		return presented{}, bad(http.StatusBadRequest, "%s takes only session_key; the other fields are for POST", r.Method)
	}
	bearer := door.BearerToken(r)
	switch {
	case req.SessionKey != "" && bearer != "" && req.SessionKey != bearer:
		return presented{}, bad(http.StatusBadRequest, "session_key and the Authorization header name different sessions")
	case req.SessionKey != "":
		return presented{token: req.SessionKey}, nil
	case bearer != "":
		return presented{token: bearer}, nil
	}
	ck, err := r.Cookie(s.d.CookieName)
	if err != nil || ck.Value == "" {
		return presented{}, bad(http.StatusUnauthorized, "no session: send session_key, Authorization: Bearer KEY, or the session cookie with %s", CSRFHeader)
	}
	// A cookie comes with any request the browser sends, even one another site
	// triggers: only a script of this origin can read ccsrftoken and echo it.
	got := r.Header.Get(CSRFHeader)
	if !s.csrfValid(got, ck.Value) {
		return presented{}, bad(http.StatusUnauthorized, "the session cookie needs its %s header (the value of the %s cookie)", CSRFHeader, CSRFCookie)
	}
	return presented{token: ck.Value, cookie: true}, nil
}

// renew answers a PUT: the session's key is replaced, the old one stops working.
func (s *Server) renew(c echo.Context, cl door.Client) error {
	p, err := s.sessionOf(c)
	if err != nil {
		return err
	}
	if isLoginKey(p.token) {
		return bad(http.StatusBadRequest, "%s", msgLoginKey)
	}
	fresh, _, err := s.core.Renew(c.Request().Context(), doorName, s.cfg.Realm, p.token, cl)
	if errors.Is(err, sessions.ErrInvalid) {
		return bad(http.StatusUnauthorized, "the session is not valid (expired, renewed or logged out): log in again")
	}
	if err != nil {
		return err
	}
	if p.cookie {
		s.setCookies(c, cl, fresh)
	}
	return c.JSON(http.StatusOK, renewal{StatusID: "TOKEN_RENEWAL_SUCCESS", Status: "Token renewal succeeded.", SessionKey: fresh})
}

// logout answers a DELETE.
func (s *Server) logout(c echo.Context, cl door.Client) error {
	p, err := s.sessionOf(c)
	if err != nil {
		return err
	}
	if isLoginKey(p.token) {
		return bad(http.StatusBadRequest, "%s", msgLoginKey)
	}
	_, err = s.core.Logout(c.Request().Context(), doorName, s.cfg.Realm, p.token, cl, "")
	if errors.Is(err, sessions.ErrInvalid) {
		return bad(http.StatusUnauthorized, "the session is not valid (expired, renewed or logged out)")
	}
	if err != nil {
		return err
	}
	if p.cookie {
		s.clearCookies(c, cl)
	}
	return c.JSON(http.StatusOK, logout{StatusID: "LOGOUT_SUCCESS", Status: "Logout succeeded."})
}
