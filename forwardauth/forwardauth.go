// Package forwardauth is the forward-auth door: one endpoint that a reverse proxy asks,
// before each request to an application it protects, whether to let the request
// through (nginx auth_request, Traefik forwardAuth, Caddy forward_auth).
//
// The proxy sends the original request's headers (the session cookie, or an
// Authorization: Bearer session token) and says which URL was asked for: nginx with
// X-Original-URL (and X-Original-Method), Traefik and Caddy with X-Forwarded-Proto,
// X-Forwarded-Host, X-Forwarded-Uri (and X-Forwarded-Method). The answer is
//   - 200 with identity headers (X-Arbor-User, X-Arbor-Realm, X-Arbor-Level,
//     X-Arbor-Factors, X-Arbor-Groups) for a valid session that meets the route's
//     rule, which the proxy copies onto the request to the application;
//   - for a browser (a GET or HEAD asking for HTML) with no valid session, or one below
//     the route's level, a redirect to the browser door's login page running the right
//     journey, with the original URL as goto when the core's redirect policy allows it;
//   - 401 otherwise, with a WWW-Authenticate header (RFC 9470's
//     insufficient_user_authentication when the session is valid but too weak).
//
// nginx's auth_request understands only 2xx, 401 and 403, so a request that names its
// URL with X-Original-URL gets the redirect as a 401 carrying a Location header, which
// the documented nginx configuration turns into a 302; Traefik and Caddy pass the 302
// on as it is.
//
// Only a trusted proxy (the door core's trusted_proxies) is answered: the original URL
// and the client address are the proxy's word, and an untrusted caller gets 403. A
// malformed original URL is a 400 naming the header; a store outage is a 503. Neither
// lets a request through. The door validates sessions, checks levels and applies the
// redirect policy through the door core only.
package forwardauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/sessions"
)

// Identity headers of a 200 answer.
const (
	HeaderUser    = "X-Arbor-User"
	HeaderRealm   = "X-Arbor-Realm"
	HeaderLevel   = "X-Arbor-Level"
	HeaderFactors = "X-Arbor-Factors"
	HeaderGroups  = "X-Arbor-Groups"
)

// maxOriginalURL bounds the original URL a proxy may name.
const maxOriginalURL = 8 << 10

// refreshAfter is how stale a session's last activity may be before a check extends its
// idle timeout: activity behind the proxy keeps the session alive, at one store write
// per session per minute rather than one per proxied request.
const refreshAfter = time.Minute

// Deps are what the door needs.
type Deps struct {
	// Door is the door core: sessions, levels, redirects, trusted proxies.
	Door *door.Core
	// CookieName is the session cookie (default "iPlanetDirectoryPro").
	CookieName string
	// Log is the structured log (default slog.Default()).
	Log *slog.Logger
	// Now is the clock, the sessions' (default time.Now).
	Now func() time.Time
}

// Server answers forward-auth checks.
type Server struct {
	cfg    Config
	door   *door.Core
	cookie string
	log    *slog.Logger
	now    func() time.Time
}

// New checks cfg and returns the door, or an error naming every bad setting.
func New(cfg Config, d Deps) (*Server, error) {
	if d.Door == nil {
		return nil, errors.New("forward_auth: the door core is required")
	}
	if err := cfg.normalize(); err != nil {
		return nil, fmt.Errorf("forward_auth: %w", err)
	}
	if !d.Door.HasRealm(cfg.Realm) {
		return nil, fmt.Errorf("forward_auth: realm %s is not served (realms)", cfg.Realm)
	}
	if d.CookieName == "" {
		d.CookieName = "iPlanetDirectoryPro"
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Server{cfg: cfg, door: d.Door, cookie: d.CookieName, log: d.Log.With("door", doorName), now: d.Now}, nil
}

// doorName names this door in logs.
const doorName = "forward_auth"

// Path is the endpoint's path.
func (s *Server) Path() string { return s.cfg.Path }

// Register mounts the endpoint on e, the API server's echo, for every method: nginx's
// subrequest keeps the original method.
func (s *Server) Register(e *echo.Echo) {
	e.Any(s.cfg.Path, func(c echo.Context) error {
		s.ServeHTTP(c.Response(), c.Request())
		return nil
	})
}

// original is the request the proxy asks about.
type original struct {
	url    *url.URL
	method string
	// authRequest is nginx's auth_request, which cannot pass a redirect on.
	authRequest bool
	// accept reports an Accept header asking for HTML; xhr an X-Requested-With of a
	// script.
	accept, xhr bool
}

// ServeHTTP answers one check.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if !s.door.PeerIsTrustedProxy(r) {
		s.log.Warn("forward-auth check refused: the caller is not a trusted proxy", "peer", r.RemoteAddr)
		plain(w, http.StatusForbidden, "Forward-auth answers trusted proxies only: add this proxy's address to trusted_proxies.")
		return
	}
	orig, err := originalRequest(r)
	if err != nil {
		s.log.Warn("forward-auth check refused: bad original request", "client_ip", s.door.ClientIP(r), "err", err)
		plain(w, http.StatusBadRequest, err.Error())
		return
	}
	n := s.cfg.needOf(strings.ToLower(orig.url.Host), candidatePaths(orig.url))
	if n.public {
		w.WriteHeader(http.StatusOK)
		return
	}
	ctx := r.Context()
	tok := s.token(r)
	if tok == "" {
		s.signIn(w, orig, n.req, "")
		return
	}
	sess, user, err := s.door.ValidateUser(ctx, s.cfg.Realm, tok)
	if errors.Is(err, sessions.ErrInvalid) {
		s.signIn(w, orig, n.req, "invalid_token")
		return
	}
	if err != nil {
		s.log.Error("forward-auth check failed: the store cannot be reached", "err", err)
		plain(w, http.StatusServiceUnavailable, "The session store cannot be reached; try again shortly.")
		return
	}
	var su *door.StepUpError
	if err := s.door.Require(ctx, sess, n.req); errors.As(err, &su) {
		s.log.Info("step-up needed", "session_id", sess.Handle, "journey", su.Journey, "reason", su.Reason)
		s.stepUp(w, orig, su)
		return
	} else if err != nil {
		s.log.Error("forward-auth check failed: the store cannot be reached", "session_id", sess.Handle, "err", err)
		plain(w, http.StatusServiceUnavailable, "The session store cannot be reached; try again shortly.")
		return
	}
	if s.now().Sub(sess.Access) > refreshAfter {
		if _, err := s.door.Refresh(ctx, s.cfg.Realm, tok); errors.Is(err, sessions.ErrInvalid) {
			s.signIn(w, orig, n.req, "invalid_token")
			return
		} else if err != nil {
			// The session was valid a moment ago; not extending it is no reason to
			// turn the user away.
			s.log.Warn("could not extend the session's idle timeout", "session_id", sess.Handle, "err", err)
		}
	}
	h.Set(HeaderUser, sess.Username)
	h.Set(HeaderRealm, sess.Realm)
	h.Set(HeaderLevel, strconv.Itoa(sess.Level))
	h.Set(HeaderFactors, strings.Join(sess.Factors, ","))
	if groups := headerList(door.AttributeList(user.Attributes[s.cfg.GroupsAttribute])); len(groups) > 0 {
		h.Set(HeaderGroups, strings.Join(groups, ","))
	}
	w.WriteHeader(http.StatusOK)
}

// token is the session token the original request carries: the session cookie, or an
// Authorization: Bearer token.
func (s *Server) token(r *http.Request) string {
	if ck, err := r.Cookie(s.cookie); err == nil && ck.Value != "" {
		return ck.Value
	}
	if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(tok)
	}
	return ""
}

// signIn answers a request with no valid session: a browser goes to the login page
// (straight to the journey the route needs: the rule's, or one that verifies the
// factors or the level it asks for, else the realm's default), anything else gets 401.
func (s *Server) signIn(w http.ResponseWriter, orig original, req door.Requirement, bearerErr string) {
	journey := req.Journey
	if journey == "" && (req.Level > door.LevelOneFactor || len(req.Factors) > 0) {
		// No session, so no user to choose for: the error is impossible.
		journey, _ = s.door.RequirementJourney(context.Background(), s.cfg.Realm, "", req)
	}
	if browser(orig) {
		s.redirect(w, orig, journey)
		return
	}
	challenge := `Bearer realm="arbor"`
	if bearerErr != "" {
		challenge += `, error="` + bearerErr + `"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	plain(w, http.StatusUnauthorized, "Sign in first.")
}

// stepUp answers a valid session below the route's rule.
func (s *Server) stepUp(w http.ResponseWriter, orig original, su *door.StepUpError) {
	if browser(orig) {
		s.redirect(w, orig, su.Journey)
		return
	}
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="arbor", error="insufficient_user_authentication", error_description=%q`, su.Reason))
	plain(w, http.StatusUnauthorized, "A stronger sign-in is needed: "+su.Reason+".")
}

// redirect sends a browser to the login page of journey (empty: the realm's default),
// coming back to the original URL if the redirect policy allows it.
func (s *Server) redirect(w http.ResponseWriter, orig original, journey string) {
	q := url.Values{}
	if journey != "" {
		q.Set("journey", journey)
	}
	if s.cfg.Realm != "/" {
		q.Set("realm", s.cfg.Realm)
	}
	back := orig.url.String()
	if strings.HasPrefix(s.cfg.LoginURL, "/") {
		// The login page is on the application's host, so the way back is a path on
		// this host, which the redirect policy always admits.
		back = orig.url.RequestURI()
	}
	if s.door.RedirectAllowed(back) {
		q.Set("goto", back)
	} else {
		s.log.Warn("original URL not passed as goto: not an allowed redirect (allowed_redirects)", "host", orig.url.Host)
	}
	target := s.cfg.LoginURL
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	w.Header().Set("Location", target)
	if orig.authRequest {
		plain(w, http.StatusUnauthorized, "Sign in first.")
		return
	}
	plain(w, http.StatusFound, "Sign in first.")
}

// browser reports whether the original request is a page load a redirect helps: a GET
// or HEAD asking for HTML, not a script's request.
func browser(orig original) bool {
	return (orig.method == http.MethodGet || orig.method == http.MethodHead) &&
		orig.accept && !orig.xhr
}

func plain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
}

// headerList keeps the values that can travel in a comma-separated header.
func headerList(vals []string) []string {
	out := vals[:0:0]
	for _, v := range vals {
		if !strings.ContainsAny(v, ",\r\n\x00") {
			out = append(out, v)
		}
	}
	return out
}

// originalRequest reads what the proxy says was asked for.
func originalRequest(r *http.Request) (original, error) {
	o := original{}
	accept := r.Header.Get("Accept")
	o.accept = strings.Contains(accept, "text/html")
	o.xhr = strings.EqualFold(r.Header.Get("X-Requested-With"), "XMLHttpRequest")
	if raw := r.Header.Get("X-Original-URL"); raw != "" {
		o.authRequest = true
		o.method = methodOf(r, "X-Original-Method")
		u, err := parseOriginal(raw)
		if err != nil {
			return o, fmt.Errorf("X-Original-URL: %w", err)
		}
		o.url = u
		return o, nil
	}
	proto, host, uri := r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-Host"), r.Header.Get("X-Forwarded-Uri")
	if proto == "" || host == "" || uri == "" {
		return o, errors.New("the proxy must say which URL was asked for: X-Original-URL (nginx), or X-Forwarded-Proto, X-Forwarded-Host and X-Forwarded-Uri (Traefik, Caddy)")
	}
	if proto = strings.ToLower(strings.TrimSpace(proto)); proto != "http" && proto != "https" {
		return o, fmt.Errorf("X-Forwarded-Proto %q is not http or https", proto)
	}
	if strings.ContainsAny(host, ",/@?#\\ ") {
		return o, fmt.Errorf("X-Forwarded-Host %q is not one host", host)
	}
	if !strings.HasPrefix(uri, "/") || strings.HasPrefix(uri, "//") {
		return o, fmt.Errorf("X-Forwarded-Uri %q is not a path", uri)
	}
	o.method = methodOf(r, "X-Forwarded-Method")
	u, err := parseOriginal(proto + "://" + host + uri)
	if err != nil {
		return o, fmt.Errorf("X-Forwarded-Host and X-Forwarded-Uri: %w", err)
	}
	o.url = u
	return o, nil
}

func methodOf(r *http.Request, header string) string {
	if m := r.Header.Get(header); m != "" {
		return strings.ToUpper(m)
	}
	return r.Method
}

// parseOriginal parses an absolute http(s) URL as a proxy forwards it.
func parseOriginal(raw string) (*url.URL, error) {
	if len(raw) > maxOriginalURL {
		return nil, fmt.Errorf("longer than %d bytes", maxOriginalURL)
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return nil, errors.New("has a control character")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("not a URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.User != nil || u.Opaque != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q is not an absolute http(s) URL without user or fragment", raw)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%q has no host", raw)
	}
	if p := u.EscapedPath(); p != "" && !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("%q has no absolute path", raw)
	}
	if strings.ContainsAny(u.Path, "\\\x00") {
		return nil, fmt.Errorf("%q has a backslash or NUL in its path", raw)
	}
	return u, nil
}

// candidatePaths are the readings of u's path rules are matched against: decoded and
// as sent, each with dot segments resolved.
func candidatePaths(u *url.URL) []string {
	decoded := cleanPath(u.Path)
	raw := cleanPath(u.EscapedPath())
	if raw == decoded {
		return []string{decoded}
	}
	return []string{decoded, raw}
}

func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	return path.Clean("/" + p)
}
