// Package api is Arbor's HTTP server (echo): the ForgeRock AM-compatible REST endpoints
// (/json/.../authenticate and /json/.../sessions), the push device endpoints, health
// checks and Prometheus metrics. Browser pages (package web) mount on the same server.
//
// Every error is answered in AM's CREST shape, {"code","reason","message"[,"detail"]},
// so the ForgeRock SDKs classify it as they would AM's. Bad input changes nothing; a
// store outage is a 503 and leaves every flow as it was.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/text/language"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/engine"
	"github.com/arbor-auth/arbor/keys"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/sessions"
	"github.com/arbor-auth/arbor/store"
)

// Config configures the HTTP server.
type Config struct {
	// Realms the server answers for; "/" is always included.
	Realms []string
	// DefaultJourney starts when a request names none (default "login").
	DefaultJourney string
	// CookieName is the session cookie (default "iPlanetDirectoryPro", AM's).
	CookieName string
	// SecureCookies marks cookies Secure; it is also set for requests that arrive over TLS.
	SecureCookies bool
	// SuccessURL is the successUrl of a login with no allowed goto (default "/").
	SuccessURL string
	// AllowedRedirects lists the URL prefixes a goto may point to (besides relative
	// paths on this server). Anything else is ignored: no open redirects.
	AllowedRedirects []string
	// CORSOrigins lists the origins allowed to call the REST API with credentials.
	CORSOrigins []string
	// MaxBodyBytes bounds request bodies (default 64 KiB).
	MaxBodyBytes int64
	// PublicURL is the server's public base URL, for links and push callbacks.
	PublicURL string
	// TrustProxy takes the client IP from X-Forwarded-For / X-Real-IP.
	TrustProxy bool
}

// Server is the HTTP server.
type Server struct {
	cfg      Config
	echo     *echo.Echo
	engine   *engine.Engine
	sessions *sessions.Manager
	store    store.Store
	authIDs  *authIDCodec
	audit    *audit.Logger
	log      *slog.Logger
	metrics  *engine.Metrics
	realms   map[string]bool
	httpReqs *prometheus.CounterVec
	mounts   []mount
}

// Deps are the services the server needs.
type Deps struct {
	Engine   *engine.Engine
	Sessions *sessions.Manager
	Store    store.Store
	Keys     *keys.Ring
	Audit    *audit.Logger
	Log      *slog.Logger
	Metrics  *engine.Metrics
	// Registry and Gatherer are the Prometheus registry metrics are registered with and
	// served from.
	Registry prometheus.Registerer
	Gatherer prometheus.Gatherer
}

// New builds the server and its routes.
func New(cfg Config, d Deps) *Server {
	if cfg.DefaultJourney == "" {
		cfg.DefaultJourney = "login"
	}
	if cfg.CookieName == "" {
		cfg.CookieName = "iPlanetDirectoryPro"
	}
	if cfg.SuccessURL == "" {
		cfg.SuccessURL = "/"
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	s := &Server{
		cfg: cfg, engine: d.Engine, sessions: d.Sessions, store: d.Store, audit: d.Audit,
		log: d.Log, metrics: d.Metrics, realms: map[string]bool{"/": true},
		authIDs: newAuthIDCodec(d.Keys.Key(keys.PurposeAuthID)),
	}
	for _, r := range cfg.Realms {
		if n, err := normalizeRealmParam(r); err == nil {
			s.realms[n] = true
		}
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	if cfg.TrustProxy {
		e.IPExtractor = echo.ExtractIPFromXFFHeader()
	} else {
		e.IPExtractor = echo.ExtractIPDirect()
	}
	if d.Registry != nil {
		s.httpReqs = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arbor_http_requests_total", Help: "HTTP requests served, by route and status code.",
		}, []string{"route", "code"})
		d.Registry.MustRegister(s.httpReqs)
	}
	e.Use(s.recoverAndLog, s.cors)
	e.GET("/health/live", func(c echo.Context) error { return c.JSON(200, map[string]string{"status": "ok"}) })
	e.GET("/health/ready", s.ready)
	if d.Gatherer != nil {
		e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(d.Gatherer, promhttp.HandlerOpts{})))
	}
	e.Any("/json", s.route)
	e.Any("/json/*", s.route)
	s.echo = e
	return s
}

// Echo returns the underlying echo instance, so other doors (web pages, device API) can
// mount on the same server.
func (s *Server) Echo() *echo.Echo { return s.echo }

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// Mount adds handler for requests under /json/.../<resource> (any realm), for example
// the push device API under "push/sns/message".
func (s *Server) Mount(resource string, h http.Handler) {
	s.mounts = append(s.mounts, mount{resource: resource, h: h})
}

type mount struct {
	resource string
	h        http.Handler
}

func (s *Server) route(c echo.Context) error {
	segs, resource := splitResource(c.Request().URL.Path)
	realm, err := realmFromPath(segs)
	if err != nil {
		return amError(http.StatusBadRequest, err.Error())
	}
	if q := c.QueryParam("realm"); q != "" {
		if realm, err = normalizeRealmParam(q); err != nil {
			return amError(http.StatusBadRequest, err.Error())
		}
	}
	if !s.realms[realm] {
		return amError(http.StatusBadRequest, "Invalid realm: "+realm)
	}
	method := c.Request().Method
	switch {
	case resource == "authenticate" && method == http.MethodPost:
		return s.authenticate(c, realm)
	case (resource == "sessions" || resource == "sessions/") && method == http.MethodPost:
		return s.sessionAction(c, realm)
	}
	for _, m := range s.mounts {
		if resource == m.resource || strings.HasPrefix(resource, m.resource+"/") {
			m.h.ServeHTTP(c.Response(), c.Request())
			return nil
		}
	}
	if resource == "authenticate" || resource == "sessions" || resource == "sessions/" {
		return amError(http.StatusMethodNotAllowed, "Method not allowed: use POST")
	}
	return amError(http.StatusNotFound, "Resource '"+resource+"' not found")
}

func (s *Server) ready(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.metrics.StoreError()
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "the store cannot be reached"})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// crestError is AM's error body.
type crestError struct {
	Code    int            `json:"code"`
	Reason  string         `json:"reason"`
	Message string         `json:"message"`
	Detail  map[string]any `json:"detail,omitempty"`
}

// amErr is an error that renders as an AM error body.
type amErr struct {
	status int
	body   crestError
}

// Error describes the error in a sentence.
func (e *amErr) Error() string { return e.body.Message }

func amError(status int, msg string) error {
	return &amErr{status: status, body: crestError{Code: status, Reason: reasonPhrase(status), Message: msg}}
}

func reasonPhrase(status int) string {
	switch status {
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 409:
		return "Conflict"
	case 413:
		return "Request Entity Too Large"
	case 415:
		return "Unsupported Media Type"
	case 503:
		return "Service Unavailable"
	}
	return http.StatusText(status)
}

var errStoreDown = &amErr{status: http.StatusServiceUnavailable, body: crestError{
	Code: 503, Reason: "Service Unavailable",
	Message: "The authentication service cannot reach its store right now. Nothing was lost; please try again shortly.",
}}

func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var ae *amErr
	var he *echo.HTTPError
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, store.ErrUnavailable):
		s.metrics.StoreError()
		s.log.Error("store unavailable", "path", c.Request().URL.Path, "err", err)
		ae = errStoreDown
	case errors.As(err, &he):
		msg, _ := he.Message.(string)
		if msg == "" {
			msg = http.StatusText(he.Code)
		}
		ae = amError(he.Code, msg).(*amErr)
	default:
		s.log.Error("request failed", "path", c.Request().URL.Path, "err", err)
		ae = amError(http.StatusInternalServerError, "Internal server error").(*amErr)
	}
	noStore(c)
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(ae.status)
		return
	}
	_ = c.JSON(ae.status, ae.body)
}

// The values noStore sets, shared by every response: net/http copies header values
// when it writes them, and nothing changes a value slice in place, so sharing them
// saves building the same three slices for every request.
var (
	noStoreCacheControl = []string{"no-cache, no-store, must-revalidate"}
	noStorePragma       = []string{"no-cache"}
	noStoreExpires      = []string{"0"}
)

// noStore marks the response as not to be cached (h.Set with canonical keys).
func noStore(c echo.Context) {
	h := c.Response().Header()
	h["Cache-Control"] = noStoreCacheControl
	h["Pragma"] = noStorePragma
	h["Expires"] = noStoreExpires
}

func (s *Server) recoverAndLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		start := time.Now()
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("panic serving request", "path", c.Request().URL.Path, "panic", r)
				err = amError(http.StatusInternalServerError, "Internal server error")
			}
			if err != nil {
				c.Error(err)
				err = nil
			}
			route := c.Path()
			if s.httpReqs != nil {
				s.httpReqs.WithLabelValues(route, itoa(c.Response().Status)).Inc()
			}
			if s.log.Enabled(c.Request().Context(), slog.LevelDebug) {
				s.log.Debug("http", "method", c.Request().Method, "path", c.Request().URL.Path, "status", c.Response().Status, "dur", time.Since(start))
			}
		}()
		return next(c)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// cors answers cross-origin requests from configured origins with credentials, as the
// ForgeRock SDK in a browser on another origin needs.
func (s *Server) cors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		origin := c.Request().Header.Get("Origin")
		if origin == "" || !s.originAllowed(origin) {
			if c.Request().Method == http.MethodOptions && origin != "" {
				return c.NoContent(http.StatusForbidden)
			}
			return next(c)
		}
		h := c.Response().Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Add("Vary", "Origin")
		if c.Request().Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Accept, Accept-API-Version, Content-Type, X-Requested-With, X-Requested-Platform, "+s.cfg.CookieName)
			h.Set("Access-Control-Max-Age", "600")
			return c.NoContent(http.StatusNoContent)
		}
		return next(c)
	}
}

func (s *Server) originAllowed(origin string) bool {
	for _, o := range s.cfg.CORSOrigins {
		if o == origin {
			return true
		}
	}
	return false
}

// NodeRequest describes an HTTP request for nodes.
func NodeRequest(r *http.Request, clientIP, publicURL string) nodes.Request {
	return nodeRequest(r, clientIP, publicURL, r.URL.Query())
}

// nodeRequest is NodeRequest with the request's query already parsed.
func nodeRequest(r *http.Request, clientIP, publicURL string, query url.Values) nodes.Request {
	var locales []string
	if tags, _, err := language.ParseAcceptLanguage(r.Header.Get("Accept-Language")); err == nil {
		for _, t := range tags {
			locales = append(locales, t.String())
		}
	}
	if q := query.Get("locale"); q != "" {
		locales = append([]string{q}, locales...)
	}
	base := strings.TrimSuffix(publicURL, "/")
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	return nodes.Request{ClientIP: clientIP, UserAgent: r.UserAgent(), Locales: locales, Header: r.Header, BaseURL: base}
}
