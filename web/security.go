package web

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/arbor-auth/arbor/door"
)

// ContentSecurityPolicy is sent with every page. It allows no inline script or style
// and no third-party origin: the pages' one script and one stylesheet come from this
// server, and the QR code is an inline data: image.
const ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; " +
	"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// pagePolicy is ContentSecurityPolicy with form-action widened to the origins a login may
// be redirected to after its form post (the door core's allowed redirects): browsers
// apply form-action to those redirects too, so a goto to another allowed origin would
// otherwise be blocked after the user signed in.
func pagePolicy(redirectOrigins []string) string {
	if len(redirectOrigins) == 0 {
		return ContentSecurityPolicy
	}
	return strings.Replace(ContentSecurityPolicy, "form-action 'self'", "form-action 'self' "+strings.Join(redirectOrigins, " "), 1)
}

// pageHeaders sets the headers every web response carries, with csp as the
// Content-Security-Policy. Pages are never cached: they hold CSRF tokens, recovery codes
// and registration secrets.
func pageHeaders(h http.Header, csp string) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

// CSRF tokens bind a form to what it acts on: a login flow ("flow", flow id) or a
// signed-in session ("session", session handle). They need no storage: only the server
// holds the key, and the bound value comes from a cookie the attacker cannot read.
func (s *Server) csrfToken(kind, bound string) string {
	return base64.RawURLEncoding.EncodeToString(s.csrfSigner.Sum("csrf", kind, bound))
}

// checkCSRF reports, in constant time, whether token is the one csrfToken gives.
func (s *Server) checkCSRF(token, kind, bound string) bool {
	if bound == "" || len(token) != base64.RawURLEncoding.EncodedLen(sha256.Size) {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(token)
	return err == nil && s.csrfSigner.Verify(got, "csrf", kind, bound)
}

// flowRef is what the flow cookie carries: which flow, and how to start it again.
type flowRef struct {
	// FlowID is the engine's flow id.
	FlowID string `json:"f"`
	// Journey, Realm, Goto and Locale are what the flow was started with, so that an
	// expired or failed flow can be restarted the same way.
	Journey string `json:"j"`
	Realm   string `json:"r"`
	Goto    string `json:"g,omitempty"`
	Locale  string `json:"l,omitempty"`
}

// maxFlowCookie bounds what is decoded; a goto is at most 2 KiB (door.AllowedRedirect).
const maxFlowCookie = 3500

// setFlowCookie names the flow in a cookie signed with the cookie key. It is a browser
// session cookie on purpose: it outlives the flow, so that a form submitted after the
// flow expired is told "timed out" rather than "forbidden".
func (s *Server) setFlowCookie(c echo.Context, ref flowRef) {
	payload, _ := json.Marshal(ref)
	enc := base64.RawURLEncoding.EncodeToString(payload)
	sig := base64.RawURLEncoding.EncodeToString(s.cookieSigner.Sum("flow cookie", enc))
	c.SetCookie(&http.Cookie{
		Name: FlowCookie, Value: enc + "." + sig, Path: "/login", HttpOnly: true,
		Secure: s.secure(c), SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) clearFlowCookie(c echo.Context) {
	c.SetCookie(&http.Cookie{Name: FlowCookie, Value: "", Path: "/login", MaxAge: -1, HttpOnly: true,
		Secure: s.secure(c), SameSite: http.SameSiteLaxMode})
}

// readFlowCookie returns the flow the browser is in, if its cookie is present and
// carries the server's signature.
func (s *Server) readFlowCookie(c echo.Context) (flowRef, bool) {
	ck, err := c.Cookie(FlowCookie)
	if err != nil || len(ck.Value) > maxFlowCookie {
		return flowRef{}, false
	}
	enc, sig, ok := strings.Cut(ck.Value, ".")
	if !ok {
		return flowRef{}, false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !s.cookieSigner.Verify(got, "flow cookie", enc) {
		return flowRef{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return flowRef{}, false
	}
	var ref flowRef
	if err := json.Unmarshal(payload, &ref); err != nil || ref.FlowID == "" {
		return flowRef{}, false
	}
	return ref, true
}

// secure reports whether cookies set on this response must be Secure (door.Core.Secure).
func (s *Server) secure(c echo.Context) bool {
	return s.door.Secure(c.Request())
}

// sessionToken returns the session token the request presents (door.SessionToken: the
// cookie, or a bearer token), or "".
func (s *Server) sessionToken(c echo.Context) string {
	return door.SessionToken(c.Request(), s.cfg.CookieName)
}

// clearSessionCookie clears the session cookie as every door does (door.ClearCookie).
func (s *Server) clearSessionCookie(c echo.Context) {
	c.SetCookie(door.ClearCookie(s.cfg.CookieName, "/", door.Client{Secure: s.secure(c)}))
}

// Errors of reading a form, each rendered as its own page.
var (
	errFormType     = errors.New("the form was not sent as application/x-www-form-urlencoded")
	errFormTooLarge = errors.New("the form is too large")
	errFormBad      = errors.New("the form could not be read")
)

// readForm reads a submitted form, bounded by Config.MaxBodyBytes. Only URL-encoded
// forms are accepted: the pages send nothing else, and multipart parsing would spool
// to disk.
func (s *Server) readForm(c echo.Context) (url.Values, error) {
	r := c.Request()
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/x-www-form-urlencoded" {
		return nil, errFormType
	}
	r.Body = http.MaxBytesReader(c.Response(), r.Body, s.cfg.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errFormTooLarge
		}
		return nil, errFormBad
	}
	return r.PostForm, nil
}
