package admin

import (
	"errors"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/sessions"
)

// RequestedWithHeader and RequestedWithValue are the header a state-changing request on
// an admin's session cookie must carry: a custom header, which a cross-site form cannot
// send and, with no CORS offered on the admin API, no other origin's script can either.
const (
	RequestedWithHeader = "X-Requested-With"
	RequestedWithValue  = "arbor"
)

// AdminRealm is the only realm whose admins' sessions reach the admin API (the journey
// viewer's rule: journeys are shared by every realm).
const AdminRealm = "/"

// principal is who a request is served for: an admin's session or an API token.
type principal struct {
	// Actor names it in audit events: "user:/realm/name" or "token:<id>".
	Actor string
	// token is set for a token; nil for an admin session, which may do everything.
	token *Token
}

// require checks that the principal may use scope.
func (p *principal) require(s Scope) error {
	if p.token == nil {
		return nil
	}
	if !p.token.Allows(s) {
		return errorf(http.StatusForbidden, CodeForbidden, "This API token lacks the %s scope.", s)
	}
	if strings.HasPrefix(string(s), "journeys:") && !p.token.AllRealms() {
		return errorf(http.StatusForbidden, CodeForbidden, "This API token is restricted to realms %s; journeys are shared by every realm, so it cannot manage them.", strings.Join(p.token.Realms, ", "))
	}
	return nil
}

// inRealm checks that the principal may manage users of realm.
func (p *principal) inRealm(realm string) error {
	if p.token == nil || p.token.InRealm(realm) {
		return nil
	}
	return errorf(http.StatusForbidden, CodeForbidden, "This API token may not manage users of realm %s.", realm)
}

// authenticate finds the principal of a request: a bearer API token, else an admin's
// session from the cookie or AM's session header.
func (a *API) authenticate(c echo.Context) (*principal, error) {
	r := c.Request()
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return nil, errorf(http.StatusUnauthorized, CodeAuthRequired, "The Authorization header must be \"Bearer arbor_<id>_<secret>\".")
		}
		t, err := a.d.Tokens.Check(ctx, strings.TrimSpace(tok))
		if errors.Is(err, ErrBadToken) {
			return nil, errorf(http.StatusUnauthorized, CodeAuthRequired, "The API token is invalid, expired or revoked.")
		}
		if err != nil {
			return nil, err
		}
		return &principal{Actor: "token:" + t.ID, token: t}, nil
	}
	tok, fromCookie := "", false
	if ck, err := r.Cookie(a.cfg.CookieName); err == nil && ck.Value != "" {
		tok, fromCookie = ck.Value, true
	} else {
		tok = r.Header.Get(a.cfg.CookieName)
	}
	if tok == "" {
		return nil, errorf(http.StatusUnauthorized, CodeAuthRequired, "Send an API token (Authorization: Bearer) or an admin's session.")
	}
	s, u, err := a.d.Door.ValidateUser(ctx, door.AnyRealm, tok)
	if errors.Is(err, sessions.ErrInvalid) {
		return nil, errorf(http.StatusUnauthorized, CodeAuthRequired, "The session is not valid; sign in again.")
	}
	if err != nil {
		return nil, err
	}
	if s.Realm != AdminRealm {
		return nil, errorf(http.StatusForbidden, CodeForbidden, "Only admins of the top-level realm may use the admin API.")
	}
	var su *door.StepUpError
	switch err := a.d.Door.AuthorizeUser(ctx, s, u, door.NeedAdmin); {
	case errors.As(err, &su):
		e := errorf(http.StatusForbidden, CodeStepUp, "Sign in again through %q first: %s.", su.Journey, su.Reason)
		e.Journey = su.Journey
		return nil, e
	case errors.Is(err, door.ErrForbidden):
		return nil, errorf(http.StatusForbidden, CodeForbidden, "The admin API is for admins; this account does not have the %q role.", door.AdminRole)
	case err != nil:
		return nil, err
	}
	if fromCookie && !safeMethod(r.Method) && r.Header.Get(RequestedWithHeader) != RequestedWithValue {
		return nil, errorf(http.StatusForbidden, CodeForbidden, "A change made with a session cookie must carry the header %s: %s.", RequestedWithHeader, RequestedWithValue)
	}
	return &principal{Actor: "user:" + path.Join(s.Realm, s.Username)}, nil
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
