package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/journeys"
	"github.com/arbor-auth/arbor/store"
)

// Prefix is where the admin API is mounted.
const Prefix = "/api/admin/v1"

// Config configures the admin API.
type Config struct {
	// CookieName is the session cookie (and AM's session header) an admin's session
	// comes in (default "iPlanetDirectoryPro").
	CookieName string
	// MaxBodyBytes bounds request bodies (default 64 KiB).
	MaxBodyBytes int64
}

// Deps are the services the admin API manages.
type Deps struct {
	// Door validates admin sessions, authorizes them (door.NeedAdmin) and ends users'
	// sessions.
	Door     *door.Core
	Journeys *journeys.Repo
	Users    *identity.Store
	// Devices is the second-factor registry; nil if the server has none.
	Devices *devices.Registry
	Tokens  *Tokens
	// Cases runs test cases for validate?test=true; nil answers that it cannot.
	Cases CaseRunner
	Audit *audit.Logger
	Log   *slog.Logger
}

// API is the admin REST API.
type API struct {
	cfg     Config
	d       Deps
	builtin map[string]bool
}

// New returns the admin API.
func New(cfg Config, d Deps) (*API, error) {
	if d.Door == nil || d.Journeys == nil || d.Users == nil || d.Tokens == nil {
		return nil, errors.New("admin: the door core, journeys, users, sessions and tokens are required")
	}
	if cfg.CookieName == "" {
		cfg.CookieName = "iPlanetDirectoryPro"
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	b, err := journeys.Builtin()
	if err != nil {
		return nil, err
	}
	a := &API{cfg: cfg, d: d, builtin: map[string]bool{}}
	for name := range b {
		a.builtin[name] = true
	}
	return a, nil
}

// handler serves one admin request for an authenticated, authorized principal.
type handler func(c echo.Context, p *principal) error

// Register mounts the API's routes on e.
func (a *API) Register(e *echo.Echo) {
	jr, jw := ScopeJourneysRead, ScopeJourneysWrite
	ur, uw := ScopeUsersRead, ScopeUsersWrite
	routes := []struct {
		method, path string
		scope        Scope
		h            handler
	}{
		{http.MethodGet, "/journeys", jr, a.listJourneys},
		{http.MethodPost, "/journeys", jw, a.createJourney},
		{http.MethodPost, "/journeys/validate", jr, a.validateJourney},
		{http.MethodGet, "/journeys/:name", jr, a.getJourney},
		{http.MethodPut, "/journeys/:name", jw, a.putJourney},
		{http.MethodDelete, "/journeys/:name", jw, a.deleteJourney},
		{http.MethodGet, "/journeys/:name/versions", jr, a.journeyVersions},
		{http.MethodGet, "/journeys/:name/diff", jr, a.journeyDiff},
		{http.MethodPost, "/journeys/:name/rollback", jw, a.rollbackJourney},
		{http.MethodPost, "/journeys/:name/enable", jw, a.enableJourney(true)},
		{http.MethodPost, "/journeys/:name/disable", jw, a.enableJourney(false)},

		{http.MethodGet, "/users", ur, a.listUsers},
		{http.MethodPost, "/users", uw, a.createUser},
		{http.MethodGet, "/users/:user", ur, a.getUser},
		{http.MethodPatch, "/users/:user", uw, a.patchUser},
		{http.MethodPut, "/users/:user/password", uw, a.setPassword},
		{http.MethodPost, "/users/:user/disable", uw, a.setStatus(identity.StatusDisabled)},
		{http.MethodPost, "/users/:user/enable", uw, a.setStatus(identity.StatusActive)},
		{http.MethodPost, "/users/:user/unlock", uw, a.unlockUser},
		{http.MethodGet, "/users/:user/sessions", ur, a.listSessions},
		{http.MethodDelete, "/users/:user/sessions", uw, a.endSessions},
		{http.MethodDelete, "/users/:user/sessions/:handle", uw, a.endSessions},
		{http.MethodGet, "/users/:user/devices", ur, a.listDevices},
		{http.MethodDelete, "/users/:user/devices/:id", uw, a.removeDevice},
		{http.MethodPut, "/users/:user/devices/:id/pin", uw, a.setPIN},
		{http.MethodDelete, "/users/:user/devices/:id/pin", uw, a.setPIN},
		{http.MethodPost, "/users/:user/recovery-codes", uw, a.newRecoveryCodes},
	}
	for _, r := range routes {
		e.Add(r.method, Prefix+r.path, a.serve(r.scope, r.h))
	}
	e.RouteNotFound(Prefix+"/*", func(c echo.Context) error {
		a.writeError(c, errorf(http.StatusNotFound, CodeNotFound, "There is no admin API endpoint %s %s.", c.Request().Method, c.Request().URL.Path))
		return nil
	})
}

// serve wraps h: headers, authentication, the scope check, and errors rendered as the
// API's JSON errors (never through the REST door's AM-shaped error handler).
func (a *API) serve(scope Scope, h handler) echo.HandlerFunc {
	return func(c echo.Context) error {
		hd := c.Response().Header()
		hd.Set("Cache-Control", "no-store")
		hd.Set("X-Content-Type-Options", "nosniff")
		p, err := a.authenticate(c)
		if err == nil {
			err = p.require(scope)
		}
		if err == nil {
			err = h(c, p)
		}
		if err != nil {
			a.writeError(c, err)
		}
		return nil
	}
}

// writeError renders err: an *Error as it is, a store outage as 503, anything else as a
// 500 whose detail goes to the log only.
func (a *API) writeError(c echo.Context, err error) {
	e, ok := asError(err)
	switch {
	case ok:
	case errors.Is(err, store.ErrUnavailable):
		a.d.Log.Error("admin API: store unavailable", "path", c.Request().URL.Path, "err", err)
		e = errorf(http.StatusServiceUnavailable, CodeStoreUnavailable, "The store cannot be reached right now; nothing was changed. Please try again shortly.")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		e = errorf(http.StatusServiceUnavailable, CodeStoreUnavailable, "The request was cancelled before it finished.")
	default:
		a.d.Log.Error("admin API: request failed", "path", c.Request().URL.Path, "err", err)
		e = errorf(http.StatusInternalServerError, CodeInternal, "The request failed; the server log has the details.")
	}
	if e.Status == http.StatusRequestEntityTooLarge {
		// The rest of an oversized body is not read: close rather than drain it.
		c.Response().Header().Set("Connection", "close")
	}
	_ = c.JSON(e.Status, e)
}

// readBody reads a JSON request body: application/json only, at most MaxBodyBytes.
func (a *API) readBody(c echo.Context) ([]byte, error) {
	r := c.Request()
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return nil, errorf(http.StatusUnsupportedMediaType, CodeContentType, "The body must be JSON, sent with Content-Type: application/json.")
	}
	b, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, a.cfg.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "The body is larger than the server accepts (%d bytes).", a.cfg.MaxBodyBytes)
	}
	if err != nil {
		return nil, errorf(http.StatusBadRequest, CodeInvalid, "The body could not be read.")
	}
	if len(b) == 0 {
		return nil, errorf(http.StatusBadRequest, CodeInvalid, "The body is empty; this request needs a JSON body.")
	}
	return b, nil
}

// decodeBody reads a JSON body into v strictly: unknown fields are an error.
func (a *API) decodeBody(c echo.Context, v any) error {
	b, err := a.readBody(c)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errorf(http.StatusBadRequest, CodeInvalid, "The body is not the JSON this request takes: %v.", err)
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, CodeInvalid, "The body holds more than one JSON value.")
	}
	return nil
}

// event writes the audit event of a change: who (actor), what (action, target) and
// the state before and after, which the caller builds from views that hold no secret
// (redact is applied on top, so a secret slipped into a view is still masked).
func (a *API) event(ctx context.Context, p *principal, action, target string, ev audit.Event, before, after any) {
	ev.Type = "admin." + action
	if ev.Details == nil {
		ev.Details = map[string]any{}
	}
	ev.Details["actor"] = p.Actor
	ev.Details["target"] = target
	if before != nil {
		ev.Details["before"] = redact(before)
	}
	if after != nil {
		ev.Details["after"] = redact(after)
	}
	a.d.Audit.Emit(ctx, ev)
}

func utc(t time.Time) time.Time { return t.UTC() }
