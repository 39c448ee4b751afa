// Package fortigate is the FortiGate-style login door: FortiOS's authentication API
// (/api/v2/authentication, FortiOS 6.4.2 and later) driven by Arbor's journeys, so
// scripts and tools written for a FortiGate log in to Arbor unchanged.
//
//   - POST logs in. The request's fields (username, secretkey, ack_pre_disclaimer,
//     ack_post_disclaimer, request_key, token_code, new_password1, new_password2,
//     session_key) answer the journey's steps, as many as they can in one request; the
//     answer's status_code says where the login stands: -4 locked out (only to whoever
//     gave the account's right password), -2 pre-login banner not acknowledged, -1
//     failed, 2 a token code (or the push sent) is awaited, 3 post-login banner to
//     acknowledge, 4 a new password is needed, 5 signed in. A login under way continues
//     with the session_key of its last answer, on any instance (see key.go).
//   - With request_key true a success answers a session key valid for Config.Timeout
//     (session_key_timeout, minutes) from the login, however it is used; with false it
//     sets the session cookie and a ccsrftoken cookie, whose value must come back as
//     X-CSRFTOKEN on PUT and DELETE, and the session ends after Config.Timeout idle.
//     The session key is an ordinary Arbor session: "Authorization: Bearer KEY" is
//     accepted wherever Arbor validates a session (door.SessionToken).
//   - PUT renews: the key presented (session_key in the body, a bearer token, or the
//     cookie) stops working and a new one is answered. DELETE logs out.
//
// The door is a thin adapter: flows, sessions, throttling and the session rules are the
// door core's (package door); what is asked is the journey's. Bad input (an unknown
// field, a wrong type, a session key from another user or already ended) is answered in
// FortiOS's REST error shape, {"http_method","status":"error","http_status","error"},
// and changes nothing.
package fortigate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/keys"
	"github.com/arbor-auth/arbor/store"
)

// Path is where the door answers.
const Path = "/api/v2/authentication"

// doorName names the door in the core's audit events and logs.
const doorName = "fortigate"

// CSRFCookie is the cookie holding the token state-changing requests must echo in
// the CSRFHeader header (FortiOS's names).
const (
	CSRFCookie = "ccsrftoken"
	CSRFHeader = "X-CSRFTOKEN"
)

// Deps are what the door needs.
type Deps struct {
	// Core is the door core every flow and session goes through.
	Core *door.Core
	Keys *keys.Ring
	Log  *slog.Logger
	// Now is the clock (default time.Now); the engine's.
	Now func() time.Time
	// CookieName is the server's session cookie (the REST door's).
	CookieName string
	// MaxBodyBytes bounds a request body (default 64 KiB).
	MaxBodyBytes int64
}

// Server is the door. It is safe for concurrent use.
type Server struct {
	cfg   Config
	d     Deps
	core  *door.Core
	keys  keyCodec
	csrf  keys.Signer
	log   *slog.Logger
	limit int64
}

// New returns the door for cfg, or an error naming what is wrong with it.
func New(cfg Config, d Deps) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if d.Core == nil || d.Keys == nil {
		return nil, errors.New("fortigate: the door core and the key ring are required")
	}
	if !d.Core.HasRealm(cfg.Realm) {
		return nil, fmt.Errorf("fortigate: realm %s is not served (add it to realms)", cfg.Realm)
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.CookieName == "" {
		d.CookieName = "iPlanetDirectoryPro"
	}
	if d.MaxBodyBytes <= 0 {
		d.MaxBodyBytes = 64 << 10
	}
	return &Server{cfg: cfg, d: d, core: d.Core, keys: keyCodec{signer: d.Keys.Signer(keys.PurposeFortiGate)},
		csrf: d.Keys.Signer(keys.PurposeCSRF), log: d.Log, limit: d.MaxBodyBytes}, nil
}

// Register mounts the door on e.
func (s *Server) Register(e *echo.Echo) {
	e.Any(Path, s.serve)
}

func (s *Server) serve(c echo.Context) error {
	r := c.Request()
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	cl := s.core.Client(r, "")
	door.TransportHeaders(h, cl)
	var err error
	switch r.Method {
	case http.MethodPost:
		err = s.login(c, cl)
	case http.MethodPut:
		err = s.renew(c, cl)
	case http.MethodDelete:
		err = s.logout(c, cl)
	default:
		h.Set("Allow", "POST, PUT, DELETE")
		err = bad(http.StatusMethodNotAllowed, "method %s is not allowed: POST logs in, PUT renews, DELETE logs out", r.Method)
	}
	if err != nil {
		s.fail(c, err)
	}
	return nil
}

// fail answers err in the error shape: bad input with its status, a store outage with
// 503, anything else with 500 (logged).
func (s *Server) fail(c echo.Context, err error) {
	r := c.Request()
	var br *badRequest
	status, msg := http.StatusInternalServerError, "internal error"
	switch {
	case errors.As(err, &br):
		status, msg = br.status, br.msg
	case errors.Is(err, store.ErrUnavailable):
		s.log.Warn("store unavailable", "door", doorName, "err", err)
		status, msg = http.StatusServiceUnavailable, "The authentication service cannot reach its store right now. Nothing was lost; please try again shortly."
	case errors.Is(err, context.Canceled):
		return
	default:
		s.log.Error("request failed", "door", doorName, "method", r.Method, "err", err)
	}
	_ = c.JSON(status, apiError{HTTPMethod: r.Method, Status: "error", HTTPStatus: status, Error: msg})
}
