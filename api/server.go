// Package api is Arbor's HTTP server (echo): the ForgeRock AM-compatible REST endpoints
// (/json/.../authenticate, with AM's zero-page login, and /json/.../sessions), AM's
// serverinfo and journey configuration endpoints that frodo-cli manages journeys with
// (amconfig.go), the push device endpoints, health checks and Prometheus metrics.
// Browser pages (package web) mount on the same server.
//
// Every error is answered in AM's CREST shape, {"code","reason","message"[,"detail"]},
// so the ForgeRock SDKs classify it as they would AM's. Bad input changes nothing; a
// store outage is a 503 and leaves every flow as it was.
package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/engine"
	"github.com/arbor-auth/arbor/keys"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/store"
)

// Config configures the HTTP server. What every door shares (realms, redirects, trusted
// proxies, cookie security) is the door core's configuration (package door).
type Config struct {
	// CookieName is the session cookie (default "iPlanetDirectoryPro", AM's).
	CookieName string
	// CORSOrigins lists the origins allowed to call the REST API with credentials.
	CORSOrigins []string
	// MaxBodyBytes bounds request bodies (default 64 KiB).
	MaxBodyBytes int64
	// MetricsToken, when set, is the bearer token /metrics demands.
	MetricsToken string
	// MetricsElsewhere keeps /metrics off this server (it has its own listener).
	MetricsElsewhere bool
	// ZeroPageLogin lets the first POST of /json/authenticate carry the user name and
	// password in X-OpenAM-Username and X-OpenAM-Password, as AM's REST API does
	// (frodo-cli and amster log in this way).
	ZeroPageLogin bool
	// Now is the clock authIds are issued and checked with (default time.Now); it must be
	// the engine's, since an authId lives as long as its flow.
	Now func() time.Time
}

// Server is the HTTP server.
type Server struct {
	cfg      Config
	echo     *echo.Echo
	door     *door.Core
	store    store.Store
	authIDs  *authIDCodec
	audit    *audit.Logger
	log      *slog.Logger
	metrics  *engine.Metrics
	httpReqs *prometheus.CounterVec
	mounts   []mount
	trees    *amTrees // nil without Deps.Journeys
	noCORS   []string // path prefixes cors leaves alone
}

// Deps are the services the server needs.
type Deps struct {
	// Door is the door core every flow and session goes through.
	Door    *door.Core
	Store   store.Store
	Keys    *keys.Ring
	Audit   *audit.Logger
	Log     *slog.Logger
	Metrics *engine.Metrics
	// Registry and Gatherer are the Prometheus registry metrics are registered with and
	// served from.
	Registry prometheus.Registerer
	Gatherer prometheus.Gatherer
	// Journeys and Nodes, when set, serve AM's journey configuration endpoints
	// (realm-config/authentication/authenticationtrees, see amconfig.go) to admins.
	Journeys JourneyStore
	Nodes    *nodes.Registry
}

// New builds the server and its routes.
func New(cfg Config, d Deps) *Server {
	if cfg.CookieName == "" {
		cfg.CookieName = "iPlanetDirectoryPro"
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	s := &Server{
		cfg: cfg, door: d.Door, store: d.Store, audit: d.Audit, log: d.Log, metrics: d.Metrics,
		authIDs: newAuthIDCodec(d.Keys.Key(keys.PurposeAuthID)),
	}
	if d.Journeys != nil {
		s.trees = &amTrees{s: s, repo: d.Journeys, reg: d.Nodes}
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	// One client-address policy for every door on this listener: the door core's, which
	// believes X-Forwarded-For only from the configured trusted proxies.
	e.IPExtractor = d.Door.ClientIP
	if d.Registry != nil {
		s.httpReqs = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arbor_http_requests_total", Help: "HTTP requests served, by route and status code.",
		}, []string{"route", "code"})
		d.Registry.MustRegister(s.httpReqs)
	}
	// One middleware, not two: echo chains the middleware of e.Use anew on every
	// request, one closure each.
	e.Use(s.middleware)
	e.GET("/health/live", func(c echo.Context) error { return c.JSON(200, map[string]string{"status": "ok"}) })
	e.GET("/health/ready", s.ready)
	if d.Gatherer != nil && !cfg.MetricsElsewhere {
		e.GET("/metrics", echo.WrapHandler(MetricsHandler(d.Gatherer, cfg.MetricsToken)))
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
	realm, err := door.RealmFromPath(segs)
	if err != nil {
		return amError(http.StatusBadRequest, err.Error())
	}
	if q := queryOf(c.Request()).Get("realm"); q != "" {
		if realm, err = door.NormalizeRealm(q); err != nil {
			return amError(http.StatusBadRequest, err.Error())
		}
	}
	if !s.door.HasRealm(realm) {
		return amError(http.StatusBadRequest, "Invalid realm: "+realm)
	}
	method := c.Request().Method
	switch {
	case resource == "authenticate" && method == http.MethodPost:
		return s.authenticate(c, realm)
	case (resource == "sessions" || resource == "sessions/") && method == http.MethodPost:
		return s.sessionAction(c, realm)
	}
	if ok, err := s.amConfig(c, realm, resource); ok {
		return err
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

// middleware is what every request on the server goes through: recoverAndLog around
// cors around the route's handler.
func (s *Server) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error { return s.recoverAndLog(c, next) }
}

// recoverAndLog serves c with next through cors, and answers a panic or an error,
// counts the request in the metrics and logs it at debug level.
func (s *Server) recoverAndLog(c echo.Context, next echo.HandlerFunc) (err error) {
	start := time.Now()
	if s.door.Secure(c.Request()) {
		// Over https (directly, behind a trusted proxy, or by the public URL), the
		// browser is told to stay on https.
		c.Response().Header().Set("Strict-Transport-Security", door.HSTS)
	}
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
			s.httpReqs.WithLabelValues(route, statusLabel(c.Response().Status)).Inc()
		}
		if s.log.Enabled(c.Request().Context(), slog.LevelDebug) {
			s.log.Debug("http", "method", c.Request().Method, "path", c.Request().URL.Path, "status", c.Response().Status, "dur", time.Since(start))
		}
	}()
	return s.cors(c, next)
}

// statusLabel is the metrics label of an HTTP status: the common ones without
// formatting (strconv.Itoa allocates for numbers past 99).
func statusLabel(code int) string {
	switch code {
	case http.StatusOK:
		return "200"
	case http.StatusNoContent:
		return "204"
	case http.StatusFound:
		return "302"
	case http.StatusSeeOther:
		return "303"
	case http.StatusBadRequest:
		return "400"
	case http.StatusUnauthorized:
		return "401"
	case http.StatusForbidden:
		return "403"
	case http.StatusNotFound:
		return "404"
	case http.StatusConflict:
		return "409"
	case http.StatusTooManyRequests:
		return "429"
	case http.StatusInternalServerError:
		return "500"
	case http.StatusServiceUnavailable:
		return "503"
	}
	return strconv.Itoa(code)
}

// NoCORS takes every path under prefix out of the server's CORS handling, whatever
// cors_origins says: the admin API offers none (no other origin may drive it with an
// admin's cookie), and the OpenID Connect door answers its own, for its clients' origins
// and with the Authorization header the SDK sends. Call it before the server serves.
func (s *Server) NoCORS(prefix string) { s.noCORS = append(s.noCORS, prefix) }

// cors answers cross-origin requests from configured origins with credentials, as the
// ForgeRock SDK in a browser on another origin needs, and serves the others with next.
func (s *Server) cors(c echo.Context, next echo.HandlerFunc) error {
	for _, p := range s.noCORS {
		if strings.HasPrefix(c.Request().URL.Path, p) {
			return next(c)
		}
	}
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

func (s *Server) originAllowed(origin string) bool {
	for _, o := range s.cfg.CORSOrigins {
		if o == origin {
			return true
		}
	}
	return false
}

// splitResource splits "/json/realms/root/realms/alpha/authenticate" into the realm
// segments and the resource path after them ("authenticate", "sessions",
// "push/sns/message").
func splitResource(path string) (realmSegs []string, resource string) {
	p := strings.TrimPrefix(path, "/json")
	p = strings.Trim(p, "/")
	if p == "" {
		return nil, ""
	}
	segs := strings.Split(p, "/")
	i := 0
	for i+1 < len(segs) && segs[i] == "realms" {
		i += 2
	}
	return segs[:i], strings.Join(segs[i:], "/")
}

// MetricsHandler serves the Prometheus metrics of g; when token is not empty it demands
// "Authorization: Bearer <token>", compared in constant time.
func MetricsHandler(g prometheus.Gatherer, token string) http.Handler {
	h := promhttp.HandlerFor(g, promhttp.HandlerOpts{})
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "metrics need a bearer token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
