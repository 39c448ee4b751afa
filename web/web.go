// Package web is Arbor's browser door: server-rendered login pages that step through
// any journey, one HTML form per step, and the "my devices" page where a signed-in user
// manages push devices and recovery codes.
//
// The pages talk to the same door core as the REST door (package api) and render the same
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
//   - After a login, the browser is redirected only to a goto that door.AllowedRedirect
//     accepts; anything else goes to /login/done.
//   - Every response carries a strict Content-Security-Policy with no inline script or
//     style: the little JavaScript there is (auto-polling, device profile, copy button)
//     lives in a static file and every page works without it.
//   - Removing a device and generating new recovery codes need a fresh login at the level
//     the account demands (door.Core.Authorize): otherwise the user goes through the
//     realm's step-up journey (push-mfa by default) and comes back to confirm.
//   - Flows, sessions, realms, redirects and the client address all go through the door
//     core (package door); this package only speaks HTML.
package web

import (
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"regexp"

	"github.com/labstack/echo/v4"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/keys"
)

// FlowCookie is the name of the cookie that names the flow a browser is stepping
// through. It is scoped to Path=/login, so no other page ever receives it.
const FlowCookie = "arbor_flow"

// Config configures the browser door. Its zero value is usable: every field has a
// default. Realms, journeys, redirects, trusted proxies and how recent a sign-in must be
// are the door core's settings (package door).
type Config struct {
	// CookieName is the session cookie, the REST door's (default "iPlanetDirectoryPro").
	CookieName string
	// MaxBodyBytes bounds a submitted form (default 64 KiB).
	MaxBodyBytes int64
	// DeveloperHints shows, under a registration QR code, the command that registers the
	// reference authenticator (arbor device register ...). It is for trying Arbor out
	// (--demo turns it on); end users see only the QR code and its address.
	DeveloperHints bool
}

// Deps are the services the pages use.
type Deps struct {
	// Door is the door core: flows, sessions and the rules about them.
	Door *door.Core
	// Devices is the push device registry; without it the devices page says that push
	// MFA is not set up.
	Devices *devices.Registry
	// Keys derives the CSRF and cookie signing keys.
	Keys *keys.Ring
	// Audit records device removals, new recovery codes and sign-outs.
	Audit *audit.Logger
	// Log is the structured log (default slog.Default()).
	Log *slog.Logger
}

// Server serves the browser pages.
type Server struct {
	cfg     Config
	door    *door.Core
	devices *devices.Registry
	audit   *audit.Logger
	log     *slog.Logger
	// csrfSigner signs the forms' CSRF tokens, cookieSigner the flow cookie.
	csrfSigner   keys.Signer
	cookieSigner keys.Signer
	pages        map[string]*template.Template
	// csp is the pages' Content-Security-Policy (pagePolicy).
	csp string
}

// New returns a Server. It fails only if the embedded templates do not parse, which the
// package's tests rule out.
func New(cfg Config, d Deps) (*Server, error) {
	if d.Door == nil || d.Keys == nil {
		return nil, errors.New("web: the door core and keys are required")
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
	pages, err := parsePages()
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	s := &Server{
		cfg: cfg, door: d.Door, devices: d.Devices, audit: d.Audit, log: d.Log.With("door", "web"),
		csrfSigner: d.Keys.Signer(keys.PurposeCSRF), cookieSigner: d.Keys.Signer(keys.PurposeCookie), pages: pages,
		csp: pagePolicy(d.Door.RedirectOrigins()),
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
	e.POST("/account/sessions/end", s.handle(s.endSessions))
	e.GET(assetPrefix+":name", s.asset)
}

// journeyName is what a journey name in a URL may look like; anything else is refused
// before it reaches the engine.
var journeyName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// handle adapts a page handler: it sets the security headers and turns any error into
// an HTML page, so a browser never sees the API's JSON errors or a raw Go error.
func (s *Server) handle(h func(echo.Context) error) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		pageHeaders(c.Response().Header(), s.csp)
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
