package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/sessions"
)

// token finds the caller's session token: the cookie, or a header named like it. The
// body's tokenId (validate, getSessionInfo) is read by the caller.
func (s *Server) token(c echo.Context, body map[string]any) string {
	if body != nil {
		if t, ok := body["tokenId"].(string); ok && t != "" {
			return t
		}
	}
	if h := c.Request().Header.Get(s.cfg.CookieName); h != "" {
		return h
	}
	if ck, err := c.Cookie(s.cfg.CookieName); err == nil {
		return ck.Value
	}
	return ""
}

func (s *Server) sessionAction(c echo.Context, realm string) error {
	noStore(c)
	raw, err := s.readBody(c)
	if err != nil {
		return err
	}
	var body map[string]any
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			return amError(http.StatusBadRequest, "Malformed JSON request body: "+jsonErr(err))
		}
	}
	ctx := c.Request().Context()
	action := c.QueryParam("_action")
	switch action {
	case "validate":
		sess, err := s.sessions.Validate(ctx, s.token(c, body))
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
			sess, err = s.sessions.Validate(ctx, s.token(c, body))
		} else {
			sess, err = s.sessions.Refresh(ctx, s.token(c, body))
		}
		if errors.Is(err, sessions.ErrInvalid) {
			return amError(http.StatusUnauthorized, "Access Denied")
		}
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, sessionInfo(sess))
	case "logout":
		sess, err := s.sessions.Logout(ctx, s.token(c, nil))
		if errors.Is(err, sessions.ErrInvalid) {
			return amError(http.StatusUnauthorized, "Access Denied")
		}
		if err != nil {
			return err
		}
		s.audit.Emit(ctx, audit.Event{Type: audit.SessionLogout, Realm: sess.Realm, User: sess.Username, Session: sess.Handle, Client: c.RealIP()})
		c.SetCookie(&http.Cookie{Name: s.cfg.CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.cfg.SecureCookies || c.Request().TLS != nil, SameSite: http.SameSiteLaxMode})
		return writeJSON(c, http.StatusOK, logoutBody)
	case "":
		return amError(http.StatusBadRequest, "Missing _action: use validate, getSessionInfo, refresh or logout")
	default:
		return amError(http.StatusBadRequest, "Action '"+strings.ReplaceAll(action, "'", "")+"' is not supported on sessions")
	}
}

func sessionInfo(s *sessions.Session) map[string]any {
	return map[string]any{
		"username":                 s.Username,
		"universalId":              "id=" + s.Username + ",ou=user," + s.Realm,
		"realm":                    s.Realm,
		"latestAccessTime":         s.Access.Format("2006-01-02T15:04:05Z"),
		"maxIdleExpirationTime":    s.IdleEnd.Format("2006-01-02T15:04:05Z"),
		"maxSessionExpirationTime": s.MaxEnd.Format("2006-01-02T15:04:05Z"),
		"properties":               map[string]any{"AMCtxId": s.Handle},
	}
}
