// Package web is Arbor's browser door: server-rendered login pages that step through
// any journey, one HTML form per step, and the "my devices" page where a signed-in user
// manages push devices and recovery codes.
//
// The pages talk to the same engine as the REST door (package api) and render the same
// callbacks: a node never knows which door it is talking to. A browser login ends in a
// real Arbor session, under the same cookie as the REST door's, so /json/sessions sees
// it.
//
// Security model, in short (README.md has the long form):
//   - The flow being stepped through is named only by an HttpOnly, SameSite=Lax cookie
//     on Path=/login, signed with the keys.PurposeCookie key. The flow's state stays in
//     the store.
//   - Every form carries a CSRF token: an HMAC (keys.PurposeCSRF) of the flow id, or of
//     the session handle on account pages, checked in constant time. A POST without a
//     valid token gets a 403 page and changes nothing.
//   - After a login, the browser is redirected only to a goto that api.AllowedRedirect
//     accepts; anything else goes to /login/done.
//   - Every response carries a strict Content-Security-Policy with no inline script or
//     style: the little JavaScript there is (auto-polling, device profile, copy button)
//     lives in a static file and every page works without it.
//   - Removing a device and generating new recovery codes need a fresh login (a session
//     created less than Config.ReauthMaxAge ago), enforced by the server.
package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/engine"
	"github.com/arbor-auth/arbor/keys"
	"github.com/arbor-auth/arbor/sessions"
)

// FlowCookie is the name of the cookie that names the flow a browser is stepping
// through. It is scoped to Path=/login, so no other page ever receives it.
const FlowCookie = "arbor_flow"

// Config configures the browser door. Its zero value is usable: every field has a
// default.
type Config struct {
	// Realms the pages answer for besides "/" (for example "alpha").
	Realms []string
	// DefaultJourney starts when /login names none (default "login").
	DefaultJourney string
	// CookieName is the session cookie, the REST door's (default "iPlanetDirectoryPro").
	CookieName string
	// SecureCookies marks cookies Secure; it is also set for requests that arrive over TLS.
	SecureCookies bool
	// AllowedRedirects lists the URL prefixes a goto may point to, besides paths on this
	// server (see api.AllowedRedirect).
	AllowedRedirects []string
	// MaxBodyBytes bounds a submitted form (default 64 KiB).
	MaxBodyBytes int64
	// PublicURL is the server's public base URL, passed to nodes for the links they build.
	PublicURL string
	// ReauthJourney is the journey that confirms a sensitive action (default "login").
	ReauthJourney string
	// ReauthMaxAge is how recent a login must be for a sensitive action (default 5m).
	ReauthMaxAge time.Duration
}

// Deps are the services the pages use.
type Deps struct {
	// Engine runs the journeys, the same engine as the REST door's.
	Engine *engine.Engine
	// Sessions creates and checks the sessions a login ends in.
	Sessions *sessions.Manager
	// Devices is the push device registry; without it the devices page says that push
	// MFA is not set up.
	Devices *devices.Registry
	// Keys derives the CSRF and cookie signing keys.
	Keys *keys.Ring
	// Audit records device removals, new recovery codes and sign-outs.
	Audit *audit.Logger
	// Log is the structured log (default slog.Default()).
	Log *slog.Logger
	// Now is the clock (default time.Now). It must be the sessions' clock, since the
	// freshness of a login is measured against the session's creation time.
	Now func() time.Time
	// IsAdmin reports whether a user may open the journey viewer, whose link the
	// landing and signed-in pages then show (viewer.IsAdmin). Nil: nobody is.
	IsAdmin func(ctx context.Context, realm, username string) (bool, error)
}

// Server serves the browser pages.
type Server struct {
	cfg       Config
	engine    *engine.Engine
	sessions  *sessions.Manager
	devices   *devices.Registry
	audit     *audit.Logger
	log       *slog.Logger
	now       func() time.Time
	csrfKey   []byte
	cookieKey []byte
	realms    map[string]bool
	pages     map[string]*template.Template
	isAdminFn func(ctx context.Context, realm, username string) (bool, error)
}

// New returns a Server. It fails only if the embedded templates do not parse, which the
// package's tests rule out.
func New(cfg Config, d Deps) (*Server, error) {
	if d.Engine == nil || d.Sessions == nil || d.Keys == nil {
		return nil, errors.New("web: the engine, sessions and keys are required")
	}
	if cfg.DefaultJourney == "" {
		cfg.DefaultJourney = "login"
	}
	if cfg.CookieName == "" {
		cfg.CookieName = "iPlanetDirectoryPro"
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.ReauthJourney == "" {
		cfg.ReauthJourney = "login"
	}
	if cfg.ReauthMaxAge <= 0 {
		cfg.ReauthMaxAge = 5 * time.Minute
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	pages, err := parsePages()
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	s := &Server{
		cfg: cfg, engine: d.Engine, sessions: d.Sessions, devices: d.Devices, audit: d.Audit,
		log: d.Log.With("door", "web"), now: d.Now,
		csrfKey: d.Keys.Key(keys.PurposeCSRF), cookieKey: d.Keys.Key(keys.PurposeCookie),
		realms: map[string]bool{"/": true}, pages: pages, isAdminFn: d.IsAdmin,
	}
	for _, r := range cfg.Realms {
		if n, ok := normalizeRealm(r); ok {
			s.realms[n] = true
		}
	}
	return s, nil
}

// Register adds the pages' routes to e, the API server's echo (api.Server.Echo), so the
// browser door shares its listener, client-IP policy and request logging.
func (s *Server) Register(e *echo.Echo) {
	e.GET("/", s.handle(s.home))
	e.GET("/login", s.handle(s.loginStart))
	e.POST("/login", s.handle(s.loginSubmit))
	e.GET("/login/done", s.handle(s.done))
	e.POST("/login/logout", s.handle(s.logout))
	e.GET("/account/devices", s.handle(s.devicesPage))
	e.GET("/account/devices/confirm", s.handle(s.confirmPage))
	e.POST("/account/devices/remove", s.handle(s.removeDevice))
	e.POST("/account/recovery-codes", s.handle(s.newRecoveryCodes))
	e.GET(assetPrefix+":name", s.asset)
}

// realmPart is one segment of a realm path, as the REST door accepts it.
var realmPart = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// normalizeRealm reads a realm given as a query parameter ("alpha", "/alpha", "root",
// "root/alpha") as the REST door does, and returns its path form ("/alpha").
func normalizeRealm(s string) (string, bool) {
	s = strings.Trim(strings.TrimSpace(s), "/")
	if s == "" || s == "root" {
		return "/", true
	}
	parts := strings.Split(s, "/")
	if parts[0] == "root" {
		parts = parts[1:]
	}
	for _, p := range parts {
		if !realmPart.MatchString(p) {
			return "", false
		}
	}
	return "/" + strings.Join(parts, "/"), true
}

// journeyName is what a journey name in a URL may look like; anything else is refused
// before it reaches the engine.
var journeyName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// handle adapts a page handler: it sets the security headers and turns any error into
// an HTML page, so a browser never sees the API's JSON errors or a raw Go error.
func (s *Server) handle(h func(echo.Context) error) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		pageHeaders(c.Response().Header())
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("panic serving page", "path", c.Request().URL.Path, "panic", r)
				err = fmt.Errorf("panic: %v", r)
			}
			if err != nil {
				s.renderError(c, err)
				err = nil
			}
		}()
		return h(c)
	}
}
