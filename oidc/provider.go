package oidc

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/cors"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/keys"
	"github.com/arbor-auth/arbor/sessions"
	"github.com/arbor-auth/arbor/store"
)

// doorName names this door in audit events.
const doorName = "oidc"

// Audit events of the door (besides the core's session.logout for endSession).
const (
	// EventAuthorized is an authorization request answered with a code for a session.
	EventAuthorized = "oidc.authorized"
	// EventReplay is a refresh token or code presented again: its grant is revoked.
	EventReplay = "oidc.replay"
	// EventRevoked is a grant revoked through token/revoke.
	EventRevoked = "oidc.revoked"
)

// PurposeAccessToken is the key that seals access tokens (the id of their record).
const PurposeAccessToken = "arbor oidc access token v1"

// AM's endpoint paths under a realm's base ("/oauth2/realms/root/realms/alpha").
const (
	pathAuthorize  = "authorize"
	pathResume     = "authorize/resume"
	pathToken      = "access_token"
	pathUserinfo   = "userinfo"
	pathRevoke     = "token/revoke"
	pathIntrospect = "introspect"
	pathEndSession = "connect/endSession"
	pathSignedOut  = "connect/endSession/done"
	pathKeys       = "connect/jwk_uri"
)

// loginRequiredDescription is AM's words for prompt=none without a session; the
// ForgeRock SDK recognises them and falls back to a redirect login.
const loginRequiredDescription = "The request requires some interaction that is not allowed."

// Options are the server-wide settings the provider shares with the other doors.
type Options struct {
	// PublicURL is the server's public base URL; the issuer is PublicURL plus the
	// realm's path. Empty: the request's host, https when the door core says so.
	PublicURL string
	// CookieName is the session cookie's name.
	CookieName string
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes int64
	// CORSOrigins are origins allowed on every realm besides the clients' own.
	CORSOrigins []string
}

// Deps are the services the provider uses.
type Deps struct {
	Core  *door.Core
	Store store.Store
	Keys  *keys.Ring
	Users door.Users
	// Audit receives the door's events (nil discards them).
	Audit *audit.Logger
	Log   *slog.Logger
	// Now is the clock (default time.Now); it must be the sessions' clock.
	Now func() time.Time
}

// Server is the OpenID Connect door: one provider per realm at AM's paths.
type Server struct {
	opts   Options
	core   *door.Core
	log    *slog.Logger
	realms map[string]*realmProvider // by normalised realm
}

// realmProvider is the provider of one realm.
type realmProvider struct {
	realm    string
	base     string // "/oauth2/realms/root[/realms/x]"
	st       *storage
	op       *op.Provider
	issuer   op.IssuerFromRequest
	handler  http.Handler
	core     *door.Core
	cookie   string
	log      *slog.Logger
	maxBody  int64
	clients  map[string]*client
	acr      map[int]string
	keys     *keys.Ring
	clientOf func(string) (*client, error)
}

// BasePath is the path of realm's endpoints: AM's /oauth2/realms/root[/realms/x].
func BasePath(realm string) string {
	p := "/oauth2/realms/root"
	for _, seg := range strings.Split(strings.Trim(realm, "/"), "/") {
		if seg != "" {
			p += "/realms/" + seg
		}
	}
	return p
}

// New builds the provider of every realm the door core serves. cfg is normalised
// first; its errors name the client and field.
func New(cfg Config, o Options, d Deps) (*Server, error) {
	if d.Core == nil || d.Store == nil || d.Keys == nil || d.Users == nil {
		return nil, errors.New("oidc: the door core, store, keys and users are required")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if err := cfg.normalize(func(r string) string { return d.Core.Policy(r).DefaultJourney }); err != nil {
		return nil, fmt.Errorf("oidc: %w", err)
	}
	var errs []error
	byRealm := map[string]map[string]*client{}
	for _, cc := range cfg.Clients {
		if !d.Core.HasRealm(cc.Realm) {
			errs = append(errs, fmt.Errorf("client %q: realm %s is not served (add it to realms)", cc.ClientID, cc.Realm))
			continue
		}
		if byRealm[cc.Realm] == nil {
			byRealm[cc.Realm] = map[string]*client{}
		}
		base := BasePath(cc.Realm)
		byRealm[cc.Realm][cc.ClientID] = &client{cfg: cc, loginURL: func(id string) string {
			return base + "/" + pathResume + "?id=" + url.QueryEscape(id)
		}}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("oidc: %w", errors.Join(errs...))
	}
	var maxRefresh time.Duration
	for _, cc := range cfg.Clients {
		maxRefresh = max(maxRefresh, cc.RefreshTokenLifetime, cc.AccessTokenLifetime)
	}
	ring := newKeyRing(outageStore{d.Store}, d.Keys, cfg.SigningAlg, cfg.KeyRotation, cfg.maxLifetime(), d.Now)
	s := &Server{opts: o, core: d.Core, log: d.Log, realms: map[string]*realmProvider{}}
	for _, realm := range d.Core.Realms() {
		rp, err := s.newRealm(realm, cfg, byRealm[realm], ring, maxRefresh, d)
		if err != nil {
			return nil, fmt.Errorf("oidc: realm %s: %w", realm, err)
		}
		s.realms[realm] = rp
	}
	return s, nil
}

func (s *Server) newRealm(realm string, cfg Config, clients map[string]*client, ring *keyRing, maxRefresh time.Duration, d Deps) (*realmProvider, error) {
	base := BasePath(realm)
	st := &storage{realm: realm, st: outageStore{d.Store}, keys: ring, clients: clients, users: d.Users, core: d.Core,
		sealer: d.Keys.Sealer(PurposeSessionSeal), acr: cfg.ACR, now: d.Now, maxRefresh: maxRefresh, audit: d.Audit}
	var key [32]byte
	copy(key[:], d.Keys.Key(PurposeAccessToken))
	issuer := func(bool) (op.IssuerFromRequest, error) {
		if s.opts.PublicURL != "" {
			iss := strings.TrimSuffix(s.opts.PublicURL, "/") + base
			return func(*http.Request) string { return iss }, nil
		}
		return func(r *http.Request) string {
			scheme := "http"
			if s.core.Secure(r) {
				scheme = "https"
			}
			return scheme + "://" + r.Host + base
		}, nil
	}
	opts := []op.Option{
		op.WithCustomAuthEndpoint(op.NewEndpoint(pathAuthorize)),
		op.WithCustomTokenEndpoint(op.NewEndpoint(pathToken)),
		op.WithCustomUserinfoEndpoint(op.NewEndpoint(pathUserinfo)),
		op.WithCustomRevocationEndpoint(op.NewEndpoint(pathRevoke)),
		op.WithCustomIntrospectionEndpoint(op.NewEndpoint(pathIntrospect)),
		op.WithCustomEndSessionEndpoint(op.NewEndpoint(pathEndSession)),
		op.WithCustomKeysEndpoint(op.NewEndpoint(pathKeys)),
		// CORS is the realm's own (below), for its clients' origins only.
		op.WithCORSOptions(nil),
	}
	if !strings.HasPrefix(s.opts.PublicURL, "https://") {
		opts = append(opts, op.WithAllowInsecure())
	}
	provider, err := op.NewProvider(&op.Config{
		CryptoKey:                key,
		DefaultLogoutRedirectURI: base + "/" + pathSignedOut,
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
	}, st, issuer, opts...)
	if err != nil {
		return nil, err
	}
	iss, _ := issuer(true)
	rp := &realmProvider{realm: realm, base: base, st: st, op: provider, issuer: iss, core: d.Core, cookie: s.opts.CookieName,
		log: d.Log, maxBody: s.opts.MaxBodyBytes, clients: clients, acr: cfg.ACR, keys: d.Keys, clientOf: st.client}
	origins := slices.Clone(s.opts.CORSOrigins)
	for _, c := range clients {
		origins = append(origins, c.cfg.CORSOrigins...)
	}
	rp.handler = cors.New(cors.Options{
		AllowOriginFunc:  func(o string) bool { return slices.Contains(origins, o) },
		AllowCredentials: true,
		AllowedMethods:   []string{http.MethodGet, http.MethodPost},
		AllowedHeaders:   []string{"Accept", "Accept-API-Version", "Authorization", "Content-Type", "X-Requested-With", "X-Requested-Platform"},
		MaxAge:           600,
	}).Handler(http.HandlerFunc(rp.serve))
	return rp, nil
}

// ServeHTTP serves /oauth2/...: the realm's provider, AM's short paths for the root
// realm (/oauth2/authorize, /oauth2/.well-known/openid-configuration), and an OAuth
// error for a realm this server does not serve.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/oauth2/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	var realm, endpoint string
	if !strings.HasPrefix(rest, "realms/") {
		// AM serves the root realm at /oauth2/<endpoint> too (discovery included).
		realm, endpoint = "/", rest
	} else {
		segs := strings.Split(rest, "/")
		i := 0
		var names []string
		for i+1 < len(segs) && segs[i] == "realms" {
			names = append(names, segs[i+1])
			i += 2
		}
		if len(names) == 0 || names[0] != "root" {
			writeError(w, http.StatusNotFound, "invalid_request", "OAuth 2.0 paths are /oauth2/realms/root[/realms/<realm>]/<endpoint>")
			return
		}
		n, err := door.NormalizeRealm(strings.Join(names, "/"))
		if err != nil {
			writeError(w, http.StatusNotFound, "invalid_request", "malformed realm in the path")
			return
		}
		realm, endpoint = n, strings.Join(segs[i:], "/")
	}
	rp, ok := s.realms[realm]
	if !ok {
		writeError(w, http.StatusNotFound, "invalid_request", "no such realm")
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/" + endpoint
	r2.URL.RawPath = ""
	rp.handler.ServeHTTP(w, r2)
}

// writeError answers in RFC 6749's error shape.
func writeError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":%q,"error_description":%q}`, code, description)
}

// requestInfo is what storage methods need from the HTTP request the library does not
// pass them: the session cookie, AM's service parameter and the client context.
type requestInfo struct {
	session string
	service string
	client  door.Client
	// outage is set when a store call of this request found the store unavailable.
	outage atomic.Bool
}

type infoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	i, _ := ctx.Value(infoKey{}).(*requestInfo)
	return i
}

// serve is one request to the realm's provider (its path relative to the base).
func (rp *realmProvider) serve(w http.ResponseWriter, r *http.Request) {
	if rp.maxBody > 0 && r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, rp.maxBody)
	}
	w.Header().Set("Cache-Control", "no-store")
	info := &requestInfo{service: r.URL.Query().Get("service"), client: rp.core.Client(r, "")}
	if ck, err := r.Cookie(rp.cookie); err == nil {
		info.session = ck.Value
	}
	door.TransportHeaders(w.Header(), info.client)
	r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
	w = &outageAware{ResponseWriter: w, info: info}
	switch r.URL.Path {
	case "/" + pathResume:
		rp.resume(w, r, info)
	case "/" + pathSignedOut:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "You are signed out.")
	case "/healthz", "/ready", "/device_authorization", "/authorize/callback":
		// The library's extras that Arbor does not offer: health is /health/*, the
		// device flow is not supported, and sign-ins return through resume.
		writeError(w, http.StatusNotFound, "invalid_request", "no such endpoint")
	case "/.well-known/openid-configuration":
		rp.discovery(w, r)
	case "/" + pathUserinfo:
		rp.op.ServeHTTP(&bearerErrors{ResponseWriter: w}, r)
	default:
		rp.op.ServeHTTP(w, r)
	}
}

// outageAware turns an error answer given while the store was unavailable into 503
// temporarily_unavailable, whatever the library made of the failure (a 500
// server_error, a 403 at userinfo), so a client retries instead of giving up.
type outageAware struct {
	http.ResponseWriter
	info    *requestInfo
	swallow bool
}

func (o *outageAware) WriteHeader(status int) {
	if status >= 400 && o.info.outage.Load() {
		o.swallow = true
		writeError(o.ResponseWriter, http.StatusServiceUnavailable, "temporarily_unavailable", "the server's store is unavailable; try again shortly")
		return
	}
	o.ResponseWriter.WriteHeader(status)
}

func (o *outageAware) Write(b []byte) (int, error) {
	if o.swallow {
		return len(b), nil
	}
	return o.ResponseWriter.Write(b)
}

// discovery is the library's discovery document, trimmed to what Arbor offers: the
// code flow (no implicit or hybrid response types, no device flow, no JWT bearer
// grant) and PKCE with S256 only.
func (rp *realmProvider) discovery(w http.ResponseWriter, r *http.Request) {
	ctx := op.ContextWithIssuer(r.Context(), rp.issuer(r))
	d := op.CreateDiscoveryConfig(ctx, rp.op, rp.st)
	d.DeviceAuthorizationEndpoint = ""
	d.ResponseTypesSupported = []string{string(zoidc.ResponseTypeCode)}
	d.GrantTypesSupported = []zoidc.GrantType{zoidc.GrantTypeCode, zoidc.GrantTypeRefreshToken, zoidc.GrantTypeClientCredentials}
	d.CodeChallengeMethodsSupported = []zoidc.CodeChallengeMethod{zoidc.CodeChallengeMethodS256}
	d.RequestObjectSigningAlgValuesSupported = nil
	w.Header().Set("Cache-Control", "public, max-age=300")
	op.Discover(w, d)
}

// bearerErrors makes the library's userinfo refusals RFC 6750's: a token it could
// read but the store refused (expired, revoked, the user locked) is 401 invalid_token
// with WWW-Authenticate, not 403.
type bearerErrors struct {
	http.ResponseWriter
}

func (b *bearerErrors) WriteHeader(status int) {
	if status == http.StatusForbidden || status == http.StatusUnauthorized {
		b.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		status = http.StatusUnauthorized
	}
	b.ResponseWriter.WriteHeader(status)
}

// resume is where an authorization request goes after the library validated and
// stored it, and where the browser door sends the user back after a sign-in: a session
// that satisfies the request completes it at once; otherwise the user is sent to sign
// in (or, with prompt=none, the client gets login_required).
func (rp *realmProvider) resume(w http.ResponseWriter, r *http.Request, info *requestInfo) {
	ctx := op.ContextWithIssuer(r.Context(), rp.issuer(r))
	r = r.WithContext(ctx)
	a, err := rp.st.authRequest(ctx, r.URL.Query().Get("id"))
	if err != nil {
		if errors.Is(err, errNotFound) {
			http.Error(w, "This sign-in request is unknown or has expired. Go back to the application and sign in again.", http.StatusBadRequest)
			return
		}
		rp.unavailable(w, err)
		return
	}
	if a.IsDone {
		http.Error(w, "This sign-in request was already completed. Go back to the application.", http.StatusBadRequest)
		return
	}
	c, err := rp.clientOf(a.ClientID)
	if err != nil {
		http.Error(w, "This application is no longer registered.", http.StatusBadRequest)
		return
	}
	if a.LoginSent && r.Header.Get("Sec-Fetch-Mode") == "navigate" {
		// A browser back from the sign-in pages reached here through the redirects
		// that follow the login form's POST, and browsers hold every redirect of that
		// chain to the login page's CSP form-action 'self': Chromium blocks the
		// redirect to the client's origin. A page that continues there is allowed.
		w = &continuePage{ResponseWriter: w}
	}
	var sess *sessions.Session
	if info.session != "" {
		sess, err = rp.core.Validate(ctx, rp.realm, info.session)
		if errors.Is(err, sessions.ErrInvalid) {
			sess = nil
		} else if err != nil {
			rp.unavailable(w, err)
			return
		}
	}
	journey := a.Journey
	if journey == "" && len(c.cfg.Journeys) > 0 {
		journey = c.cfg.Journeys[0]
	}
	if a.LoginSent && !rp.boundTo(r, a.ID) {
		// Sent to sign in from one browser, back in another: a link someone else
		// started, which must not complete with this browser's session.
		http.Error(w, "This sign-in request was started in another browser. Go back to the application and sign in again.", http.StatusBadRequest)
		return
	}
	if sess != nil && rp.satisfies(a, c, sess) {
		rp.complete(w, r, a, sess, info.session)
		return
	}
	switch {
	case slices.Contains(a.Prompt, zoidc.PromptNone):
		_ = rp.st.DeleteAuthRequest(ctx, a.ID)
		op.AuthRequestError(w, r, a, zoidc.ErrLoginRequired().WithDescription(loginRequiredDescription), rp.op)
		return
	case a.LoginSent:
		_ = rp.st.DeleteAuthRequest(ctx, a.ID)
		op.AuthRequestError(w, r, a, zoidc.ErrAccessDenied().WithDescription("the sign-in did not give a session this application accepts"), rp.op)
		return
	}
	a.LoginSent = true
	http.SetCookie(w, rp.bindingCookie(a.ID, info.client))
	if err := rp.st.saveAuthRequest(ctx, a); err != nil {
		if errors.Is(err, errNotFound) {
			http.Error(w, "This sign-in request has expired. Go back to the application and sign in again.", http.StatusBadRequest)
			return
		}
		rp.unavailable(w, err)
		return
	}
	q := url.Values{"journey": {journey}, "goto": {rp.base + "/" + pathResume + "?id=" + url.QueryEscape(a.ID)}}
	if rp.realm != "/" {
		q.Set("realm", rp.realm)
	}
	if a.Locale != "" {
		q.Set("locale", a.Locale)
	}
	http.Redirect(w, r, "/login?"+q.Encode(), http.StatusFound)
}

// PurposeRequestBinding keys the cookie that binds an authorization request sent to
// sign in to the browser it was sent from.
const PurposeRequestBinding = "arbor oidc request binding v1"

// bindingCookie binds request id to this browser for the sign-in: an HMAC of the id
// under a per-request name, so parallel requests (two tabs, an iframe) do not clash.
func (rp *realmProvider) bindingCookie(id string, cl door.Client) *http.Cookie {
	return &http.Cookie{Name: bindingName(id), Value: base64.RawURLEncoding.EncodeToString(rp.keys.MAC(PurposeRequestBinding, []byte(id))),
		Path: rp.base + "/" + pathResume, MaxAge: int(authRequestTTL / time.Second), HttpOnly: true, Secure: cl.Secure, SameSite: http.SameSiteLaxMode}
}

func bindingName(id string) string { return "arbor_oidc_" + digest(id)[:12] }

// boundTo reports whether r carries the binding cookie of request id (constant time).
func (rp *realmProvider) boundTo(r *http.Request, id string) bool {
	ck, err := r.Cookie(bindingName(id))
	if err != nil {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(ck.Value)
	return err == nil && rp.keys.Verify(PurposeRequestBinding, []byte(id), got)
}

// satisfies reports whether sess may answer a: it comes from the journey asked for
// (or, with none asked, one of the client's journeys), and it is fresh enough for
// prompt=login (newer than the request) and max_age.
func (rp *realmProvider) satisfies(a *authRequest, c *client, sess *sessions.Session) bool {
	if a.Journey != "" && sess.Journey != a.Journey {
		return false
	}
	if a.Journey == "" && !slices.Contains(c.cfg.Journeys, sess.Journey) {
		return false
	}
	if slices.Contains(a.Prompt, zoidc.PromptLogin) && (!a.LoginSent || sess.Created.Before(a.Created)) {
		// Only a sign-in this request sent the user to counts.
		return false
	}
	if a.MaxAge != nil && *a.MaxAge > 0 && rp.st.now().Sub(sess.Created) > time.Duration(*a.MaxAge)*time.Second {
		return false
	}
	// The library turns prompt=login into max_age=0: that is "newer than the request",
	// checked above, not "zero seconds old".
	return true
}

// complete records who signed in and answers the client with a code.
func (rp *realmProvider) complete(w http.ResponseWriter, r *http.Request, a *authRequest, sess *sessions.Session, token string) {
	ctx := r.Context()
	a.Subject, a.AuthTime, a.AMR, a.SID, a.IsDone = sess.Username, sess.Created, sess.Factors, sess.Handle, true
	a.ACR = rp.acrOf(sess.Level)
	if err := rp.st.saveAuthRequest(ctx, a); err != nil {
		rp.unavailable(w, err)
		return
	}
	if err := rp.st.rememberSession(ctx, sess, token); err != nil {
		rp.unavailable(w, err)
		return
	}
	if a.LoginSent {
		ck := rp.bindingCookie(a.ID, infoFrom(ctx).client)
		ck.Value, ck.MaxAge = "", -1
		http.SetCookie(w, ck)
	}
	rp.st.emit(ctx, audit.Event{Type: EventAuthorized, Realm: rp.realm, User: sess.Username, Journey: sess.Journey,
		Session: sess.Handle, Details: map[string]any{"client_id": a.ClientID, "level": sess.Level}})
	rp.log.Info("oidc authorization", "client_id", a.ClientID, "session_id", sess.Handle, "realm", rp.realm,
		"user", door.TruncateUser(sess.Username), "level", sess.Level)
	op.AuthResponse(a, rp.op, w, r)
}

// acrOf names a session level: the configured name, else the number.
func (rp *realmProvider) acrOf(level int) string {
	if n, ok := rp.acr[level]; ok {
		return n
	}
	return strconv.Itoa(level)
}

// unavailable answers a store failure with 503, never a half-done request.
func (rp *realmProvider) unavailable(w http.ResponseWriter, err error) {
	rp.log.Error("oidc: store failure", "err", err)
	if store.IsUnavailable(err) {
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the server's store is unavailable; try again shortly")
		return
	}
	writeError(w, http.StatusInternalServerError, "server_error", "internal error")
}

// continuePage turns a redirect into a page that continues to the same place by itself
// (a meta refresh, and a link without it), for a browser that may not be redirected
// (see resume).
type continuePage struct {
	http.ResponseWriter
	replaced bool
}

func (p *continuePage) WriteHeader(status int) {
	loc := p.Header().Get("Location")
	if (status != http.StatusFound && status != http.StatusSeeOther) || loc == "" {
		p.ResponseWriter.WriteHeader(status)
		return
	}
	p.replaced = true
	h := p.Header()
	h.Del("Location")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; base-uri 'none'; frame-ancestors 'none'")
	p.ResponseWriter.WriteHeader(http.StatusOK)
	esc := html.EscapeString(loc)
	fmt.Fprintf(p.ResponseWriter, `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=%s"><title>Back to the application</title></head>`+
		`<body><p><a href="%s">Continue to the application</a>.</p></body></html>`, esc, esc)
}

func (p *continuePage) Write(b []byte) (int, error) {
	if p.replaced {
		return len(b), nil // the library's redirect body; the page was written instead
	}
	return p.ResponseWriter.Write(b)
}
