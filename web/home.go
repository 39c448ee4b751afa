package web

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/sessions"
)

// homeView is the landing page at /: where a newcomer can go from here.
type homeView struct {
	// Username is who is signed in, or "".
	Username, Realm string
	// Admin shows the journey viewer's link.
	Admin bool
	// CSRF protects the sign-out form of a signed-in visitor.
	CSRF string
	// Journey is the journey the sign-in link starts.
	Journey string
}

// home serves GET /: links to sign in, the devices page, the journey viewer (for
// admins) and the REST API, so that the server's root is not a dead end.
func (s *Server) home(c echo.Context) error {
	sess, u, err := s.signedInUser(c)
	if err != nil {
		return err
	}
	v := homeView{Journey: s.door.Policy("/").DefaultJourney}
	if sess != nil {
		v.Username, v.Realm, v.CSRF = sess.Username, sess.Realm, s.sessionCSRF(sess)
		if v.Admin, err = s.isAdmin(c, sess, u); err != nil {
			return err
		}
	}
	return s.render(c, http.StatusOK, "home", pageData{Title: "Welcome", Home: &v})
}

// isAdmin reports whether the user may open the journey viewer: the door core's admin
// rule (a step-up it may still ask for does not hide the link), on u, the session's
// account as signedInUser read it, so the page reads it once.
func (s *Server) isAdmin(c echo.Context, sess *sessions.Session, u *identity.User) (bool, error) {
	err := s.door.AuthorizeUser(c.Request().Context(), sess, u, door.NeedAdmin)
	var up *door.StepUpError
	switch {
	case err == nil, errors.As(err, &up):
		return true, nil
	case errors.Is(err, door.ErrForbidden):
		return false, nil
	}
	return false, err
}
