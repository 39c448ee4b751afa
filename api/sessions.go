package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/sessions"
)

// token finds the caller's session token: the body's tokenId (validate,
// getSessionInfo), else what door.SessionToken finds (the session header, a bearer
// token, the cookie).
func (s *Server) token(c echo.Context, body map[string]any) string {
	if body != nil {
		if t, ok := body["tokenId"].(string); ok && t != "" {
			return t
		}
	}
	return door.SessionToken(c.Request(), s.cfg.CookieName)
}

func (s *Server) sessionAction(c echo.Context, realm string) error {
	noStore(c)
	raw, err := s.readBody(c)
	if err != nil {
		return err
	}
	if r := c.Request(); queryOf(r).Get("_action") == "logout" {
		// A logout by cookie alone could be sent by any site the user visits (logout
		// CSRF): it needs a JSON request, which a cross-site form cannot send, or a
		// header only script can set and CORS allows only from allowed origins: the
		// session header, or X-Requested-With (which the ForgeRock SDK sends).
		if r.Header.Get(s.cfg.CookieName) == "" && r.Header.Get("X-Requested-With") == "" && !isJSON(r.Header.Get("Content-Type")) {
			return errLogoutNotJSON
		}
	}
	var body map[string]any
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			return amError(http.StatusBadRequest, "Malformed JSON request body: "+jsonErr(err))
		}
	}
	ctx := c.Request().Context()
	action := queryOf(c.Request()).Get("_action")
	switch action {
	case "validate":
		// Valid means valid here: in this realm, for an account that is still active.
		sess, err := s.door.Validate(ctx, realm, s.token(c, body))
		if errors.Is(err, sessions.ErrInvalid) {
			return c.JSON(http.StatusOK, map[string]any{"valid": false})
		}
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"valid": true, "sessionUid": sess.Handle, "uid": sess.Username, "realm": sess.Realm})
	case "getSessionInfo", "refresh", "getSessionInfoAndResetIdleTime":
		var sess *sessions.Session
		if action == "getSessionInfo" {
			sess, err = s.door.Validate(ctx, realm, s.token(c, body))
		} else {
			sess, err = s.door.Refresh(ctx, realm, s.token(c, body))
		}
		if errors.Is(err, sessions.ErrInvalid) {
			return amError(http.StatusUnauthorized, "Access Denied")
		}
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, sessionInfo(sess))
	case "logout":
		header := c.Request().Header.Get(s.cfg.CookieName)
		cl := s.door.Client(c.Request(), "")
		tok := header
		if tok == "" {
			tok = s.token(c, nil)
		}
		if _, err := s.door.Logout(ctx, doorName, realm, tok, cl, ""); errors.Is(err, sessions.ErrInvalid) {
			return amError(http.StatusUnauthorized, "Access Denied")
		} else if err != nil {
			return err
		}
		c.SetCookie(door.ClearCookie(s.cfg.CookieName, "/", cl))
		return writeJSON(c, http.StatusOK, logoutBody)
	case "":
		return amError(http.StatusBadRequest, "Missing _action: use validate, getSessionInfo, refresh or logout")
	default:
		return amError(http.StatusBadRequest, "Action '"+strings.ReplaceAll(action, "'", "")+"' is not supported on sessions")
	}
}

// sessionInfo is AM's getSessionInfo body. properties.AuthLevel is AM's authentication
// level (a string, as AM's properties are); Factors lists the factors the login verified
// (comma-separated: pwd,push) and Restricted marks a session granted without the
// account's second factor.
func sessionInfo(s *sessions.Session) map[string]any {
	props := map[string]any{"AMCtxId": s.Handle, "AuthLevel": strconv.Itoa(s.Level), "Factors": strings.Join(s.Factors, ","),
		"Journey": s.Journey}
	if s.Restricted {
		props["Restricted"] = "true"
	}
	return map[string]any{
		"username":                 s.Username,
		"universalId":              "id=" + s.Username + ",ou=user," + s.Realm,
		"realm":                    s.Realm,
		"latestAccessTime":         s.Access.Format("2006-01-02T15:04:05Z"),
		"maxIdleExpirationTime":    s.IdleEnd.Format("2006-01-02T15:04:05Z"),
		"maxSessionExpirationTime": s.MaxEnd.Format("2006-01-02T15:04:05Z"),
		"properties":               props,
	}
}
