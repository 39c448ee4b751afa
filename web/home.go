package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
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
	sess, err := s.signedIn(c)
	if err != nil {
		return err
	}
	v := homeView{Journey: s.cfg.DefaultJourney}
	if sess != nil {
		v.Username, v.Realm, v.CSRF = sess.Username, sess.Realm, s.sessionCSRF(sess)
		if v.Admin, err = s.isAdmin(c, sess.Realm, sess.Username); err != nil {
			return err
		}
	}
	return s.render(c, http.StatusOK, "home", pageData{Title: "Welcome", Home: &v})
}

// isAdmin reports whether the user may open the journey viewer; without an IsAdmin
// dependency nobody is shown its link.
func (s *Server) isAdmin(c echo.Context, realm, username string) (bool, error) {
	if s.isAdminFn == nil {
		return false, nil
	}
	return s.isAdminFn(c.Request().Context(), realm, username)
}
