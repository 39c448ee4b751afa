// Package viewer is the journey viewer for admins: browser pages that list the stored
// journeys and draw each version as a graph, with validation problems marked on the
// nodes they concern and each node's config and type docs a click (or Enter) away.
//
// Routes (mounted by Register on the server's echo instance):
//
//	GET  /admin/journeys                        every journey, its head version and whether it validates
//	GET  /admin/journeys/{name}[?version=N]     one version drawn, plus the journey's versions
//	GET  /admin/journeys/{name}/graph.json[?version=N]  the data that page draws
//	GET  /admin/journeys/{name}/diff?from=A&to=B  the unified diff of two versions
//	POST /admin/journeys/validate               draw a pasted document (never saved)
//	GET  /admin/_viewer/static/...              the page's CSS and JS, and the vendored dagre
//
// Saving a pasted document and "Make current" (a rollback) are not the viewer's own
// routes: the page's script calls the admin API (/api/admin/v1, package admin) with the
// session cookie, If-Match on the version the page shows as current, and the header
// X-Requested-With: arbor, which is that API's CSRF defence for cookie sessions. So one
// place checks, saves and audits journeys, whoever asks.
//
// Only admins get in: a signed-in user of the top-level realm whose "roles" attribute
// holds "admin" (see HasRole). The pages are server-rendered with html/template; the
// graph is laid out in the browser by the vendored dagre library and drawn as SVG by
// static/viewer.js. Every response carries a strict Content Security Policy (no inline
// script or style), so data reaches the script in a <script type="application/json">
// block, which the browser never executes.
package viewer

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/journeys"
	"github.com/arbor-auth/arbor/keys"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/sessions"
	"github.com/arbor-auth/arbor/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Paths the viewer serves. Static files live outside /admin/journeys/ because a journey
// may be called "static"; the POST-only validate route can share the prefix because a
// GET of /admin/journeys/validate still reaches the journey called "validate".
const (
	BasePath     = "/admin/journeys"
	ValidatePath = BasePath + "/validate"
	StaticPath   = "/admin/_viewer/static"
)

// MaxDocBytes bounds the document POSTed to the validate endpoint. Journeys are a few
// KiB; the bound keeps one request from making the server parse megabytes.
const MaxDocBytes = 256 << 10

// CSRFHeader is the request header the validate endpoint requires, holding the token
// given in the page. A cross-site form cannot set a header, and a cross-site script
// cannot read the token, so a request carrying it came from the viewer itself.
const CSRFHeader = "X-Arbor-CSRF"

// ContentSecurityPolicy is sent with every viewer response. It allows only the
// viewer's own static files: no inline script or style, no framing.
const ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'"

// Config configures the viewer.
type Config struct {
	// CookieName is the session cookie (default "iPlanetDirectoryPro").
	CookieName string
	// LoginURL is where visitors with no session are sent, with a goto back to the
	// page they asked for (default "/login").
	LoginURL string
}

// Deps are the services the viewer reads.
type Deps struct {
	// Journeys is the repository the viewer shows.
	Journeys *journeys.Repo
	// Registry and Nodes are what journeys compile against, as in the engine, so a
	// version is judged valid or not by this server's node types.
	Registry *nodes.Registry
	Nodes    *nodes.Deps
	// Keys derives the CSRF key.
	Keys *keys.Ring
	// Door decides who is an admin (door.Core.Authorize with door.NeedAdmin): an admin
	// with a phone who signed in with the password alone, or with a restricted session,
	// steps up first.
	Door *door.Core
	// Diff returns the unified diff between two versions of a journey, the text the
	// admin API's diff endpoint answers, for the diff page.
	Diff func(ctx context.Context, name string, from, to int) (string, error)
	// Log receives request failures (nil: slog.Default()).
	Log *slog.Logger
}

// Viewer serves the journey viewer.
type Viewer struct {
	cfg   Config
	d     Deps
	pages map[string]*template.Template
}

// New returns a viewer over d. It fails if a service is missing or a template does
// not parse.
func New(cfg Config, d Deps) (*Viewer, error) {
	if cfg.CookieName == "" {
		cfg.CookieName = "iPlanetDirectoryPro"
	}
	if cfg.LoginURL == "" {
		cfg.LoginURL = "/login"
	}
	if d.Journeys == nil || d.Registry == nil || d.Door == nil || d.Keys == nil || d.Diff == nil {
		return nil, errors.New("journey viewer: Journeys, Registry, Door, Keys and Diff are required")
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	v := &Viewer{cfg: cfg, d: d, pages: map[string]*template.Template{}}
	funcs := template.FuncMap{
		"static": func(p string) string { return StaticPath + "/" + p },
		"when":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	}
	for _, p := range []string{"list", "journey", "diff", "error"} {
		t, err := template.New(p).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+p+".html")
		if err != nil {
			return nil, fmt.Errorf("journey viewer: parse template %s: %w", p, err)
		}
		v.pages[p] = t
	}
	return v, nil
}

// Register mounts the viewer's routes on e.
func (v *Viewer) Register(e *echo.Echo) {
	list := v.page(v.list)
	e.GET(BasePath, list)
	e.GET(BasePath+"/", list)
	e.GET(BasePath+"/:name", v.page(v.journey))
	e.GET(BasePath+"/:name/graph.json", v.api(v.graphJSON))
	e.GET(BasePath+"/:name/diff", v.page(v.diff))
	e.POST(ValidatePath, v.api(v.validate))
	e.GET(StaticPath+"/*", v.static)
	// Anything else under the viewer's prefixes gets the viewer's own 404 page (and its
	// headers) rather than the REST door's JSON error.
	e.RouteNotFound(BasePath+"/*", v.notFound)
	e.RouteNotFound(StaticPath+"/*", v.notFound)
}

// securityHeaders are set on every viewer response before anything else happens, so
// error pages and redirects carry them too.
func securityHeaders(c echo.Context) {
	h := c.Response().Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
}

// statusError is an error with the HTTP status and the message to show for it.
type statusError struct {
	status int
	msg    string
}

// Error describes the error in a sentence.
func (e *statusError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) error {
	return &statusError{status: status, msg: fmt.Sprintf(format, args...)}
}

// classify turns an error into the status and message shown to the admin. Internal
// details go to the log, not to the page.
func (v *Viewer) classify(c echo.Context, err error) (int, string) {
	var se *statusError
	switch {
	case errors.As(err, &se):
		return se.status, se.msg
	case errors.Is(err, store.ErrUnavailable):
		v.d.Log.Error("journey viewer: store unavailable", "path", c.Request().URL.Path, "err", err)
		return http.StatusServiceUnavailable, "The store cannot be reached right now. Please try again shortly."
	default:
		v.d.Log.Error("journey viewer: request failed", "path", c.Request().URL.Path, "err", err)
		return http.StatusInternalServerError, "Something went wrong showing this page; the server log has the details."
	}
}

type handler func(c echo.Context, p *principal) error

// gate checks the session cookie and returns who is asking, by the door core's checks
// alone: ValidateUser (the session, and its account still active) and AuthorizeUser
// with NeedAdmin on the account it read (the admin role, at the admin's strongest
// enrolled level), so a page view reads the account once. The viewer keeps
// no admin check of its own, so the rule and its store reads live in one place.
func (v *Viewer) gate(c echo.Context) (access, *principal, error) {
	tok := door.SessionToken(c.Request(), v.cfg.CookieName)
	if tok == "" {
		return anonymous, nil, nil
	}
	ctx := c.Request().Context()
	s, u, err := v.d.Door.ValidateUser(ctx, door.AnyRealm, tok)
	if errors.Is(err, sessions.ErrInvalid) {
		return anonymous, nil, nil
	}
	if err != nil {
		return anonymous, nil, fmt.Errorf("check session: %w", err)
	}
	if s.Realm != AdminRealm {
		return forbidden, nil, nil
	}
	var su *door.StepUpError
	switch err := v.d.Door.AuthorizeUser(ctx, s, u, door.NeedAdmin); {
	case errors.As(err, &su):
		return stepUp, &principal{Username: s.Username, Handle: s.Handle, StepUp: su.Journey}, nil
	case errors.Is(err, door.ErrForbidden):
		return forbidden, nil, nil
	case err != nil:
		return anonymous, nil, err
	}
	return admin, &principal{Username: s.Username, Handle: s.Handle}, nil
}

// page wraps an HTML page handler: headers, the admin gate (anonymous visitors go to
// the login page and come back), and errors rendered as HTML pages.
func (v *Viewer) page(h handler) echo.HandlerFunc {
	return func(c echo.Context) error {
		securityHeaders(c)
		acc, p, err := v.gate(c)
		switch {
		case err != nil:
			v.renderError(c, err)
			return nil
		case acc == anonymous:
			return c.Redirect(http.StatusSeeOther, v.cfg.LoginURL+"?goto="+queryEscape(c.Request().URL.RequestURI()))
		case acc == stepUp:
			return c.Redirect(http.StatusSeeOther, v.cfg.LoginURL+"?journey="+queryEscape(p.StepUp)+"&goto="+queryEscape(c.Request().URL.RequestURI()))
		case acc == forbidden:
			v.renderError(c, errorf(http.StatusForbidden, "The journey viewer is for admins. Your account does not have the %q role.", AdminRole))
			return nil
		}
		if err := h(c, p); err != nil {
			v.renderError(c, err)
		}
		return nil
	}
}

// api wraps a JSON handler: headers, the admin gate (401 or 403, not a redirect: a
// script cannot follow one to a login page), and errors as JSON.
func (v *Viewer) api(h handler) echo.HandlerFunc {
	return func(c echo.Context) error {
		securityHeaders(c)
		acc, p, err := v.gate(c)
		switch {
		case err != nil:
		case acc == anonymous:
			err = errorf(http.StatusUnauthorized, "Sign in as an admin to use the journey viewer.")
		case acc == stepUp:
			err = errorf(http.StatusUnauthorized, "Sign in again through %q, with your second factor, to use the journey viewer.", p.StepUp)
		case acc == forbidden:
			err = errorf(http.StatusForbidden, "The journey viewer is for admins.")
		default:
			err = h(c, p)
		}
		if err != nil {
			status, msg := v.classify(c, err)
			return c.JSON(status, map[string]any{"code": status, "reason": http.StatusText(status), "message": msg})
		}
		return nil
	}
}

// queryEscape escapes s for a query value, leaving '/' readable: it is allowed there
// (RFC 3986) and makes "goto=/admin/journeys" what it says.
func queryEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "%2F", "/")
}

// pageData is what every page template gets.
type pageData struct {
	Title string
	// User is the signed-in admin's name; empty on error pages shown before sign-in.
	User string
}

type listRow struct {
	Name, Description string
	Version, Nodes    int
	Valid             bool
	Problems          int
}

type listData struct {
	pageData
	Rows []listRow
}

func (v *Viewer) list(c echo.Context, p *principal) error {
	ctx := c.Request().Context()
	names, err := v.d.Journeys.Names(ctx)
	if err != nil {
		return err
	}
	opts, err := v.compileOptions(ctx)
	if err != nil {
		return err
	}
	d := listData{pageData: pageData{Title: "Journeys", User: p.Username}}
	for _, name := range names {
		ver, doc, err := v.doc(ctx, name, 0)
		if err != nil {
			return err
		}
		g := BuildGraph(doc, ver, opts)
		d.Rows = append(d.Rows, listRow{Name: name, Description: g.Description, Version: ver,
			Nodes: countKind(g, KindNode), Valid: g.Valid, Problems: len(g.Problems)})
	}
	return v.render(c, http.StatusOK, "list", d)
}

func countKind(g *Graph, kind string) int {
	n := 0
	for _, v := range g.Nodes {
		if v.Kind == kind {
			n++
		}
	}
	return n
}

type versionRow struct {
	Version int
	Saved   time.Time
	Source  string
	// Actor is who saved the version through the admin API (empty: loaded at start).
	Actor   string
	Viewing bool
	Head    bool
}

type journeyData struct {
	pageData
	Name     string
	Version  int
	Head     int
	Versions []versionRow
	// DiffFrom is the version the compare form starts from: the viewed one, or the one
	// before the head when the head is viewed.
	DiffFrom int
	Graph    *Graph
	// Doc is the viewed version pretty-printed, to start the validate area with.
	Doc  string
	CSRF string
}

func (v *Viewer) journey(c echo.Context, p *principal) error {
	ctx := c.Request().Context()
	name := c.Param("name")
	want, err := versionParam(c)
	if err != nil {
		return err
	}
	if !journeys.ValidName(name) {
		return errorf(http.StatusNotFound, "There is no journey called %q.", name)
	}
	vers, err := v.d.Journeys.Versions(ctx, name)
	if errors.Is(err, journeys.ErrNotFound) || (err == nil && len(vers) == 0) {
		return errorf(http.StatusNotFound, "There is no journey called %q.", name)
	}
	if err != nil {
		return fmt.Errorf("journey %q: %w", name, err)
	}
	head := vers[len(vers)-1].Version
	if want == 0 {
		want = head
	}
	i := slices.IndexFunc(vers, func(x journeys.Version) bool { return x.Version == want })
	if i < 0 {
		return errorf(http.StatusNotFound, "Journey %q has no version %d (its versions are 1 to %d).", name, want, head)
	}
	opts, err := v.compileOptions(ctx)
	if err != nil {
		return err
	}
	d := journeyData{
		pageData: pageData{Title: name, User: p.Username},
		Name:     name, Version: want, Head: head,
		Graph: BuildGraph(vers[i].Doc, want, opts),
		Doc:   prettyJSON(vers[i].Doc),
		CSRF:  csrfToken(v.d.Keys, p.Handle),
	}
	for k := len(vers) - 1; k >= 0; k-- {
		x := vers[k]
		d.Versions = append(d.Versions, versionRow{Version: x.Version, Saved: x.Saved, Source: x.Source, Actor: x.Actor,
			Viewing: x.Version == want, Head: x.Version == head})
	}
	d.DiffFrom = want
	if want == head && len(vers) > 1 {
		d.DiffFrom = vers[len(vers)-2].Version
	}
	return v.render(c, http.StatusOK, "journey", d)
}

// diffLine is one line of a unified diff, with its kind: "file" (the ---/+++ header),
// "hunk" (@@), "add", "del" or "ctx".
type diffLine struct {
	Kind, Text string
}

type diffData struct {
	pageData
	Name     string
	From, To int
	// Versions are the journey's version numbers, newest first, for the compare form.
	Versions []int
	Lines    []diffLine
}

// diff shows the unified diff between two versions (?from=A&to=B), as the admin API's
// diff endpoint computes it, each line marked by its kind.
func (v *Viewer) diff(c echo.Context, p *principal) error {
	ctx := c.Request().Context()
	name := c.Param("name")
	if !journeys.ValidName(name) {
		return errorf(http.StatusNotFound, "There is no journey called %q.", name)
	}
	var ft [2]int
	for i, q := range []string{"from", "to"} {
		n, err := strconv.Atoi(c.QueryParam(q))
		if err != nil || n < 1 {
			return errorf(http.StatusBadRequest, "Say which versions to compare: ?from=A&to=B, both version numbers.")
		}
		ft[i] = n
	}
	vers, err := v.d.Journeys.Versions(ctx, name)
	if errors.Is(err, journeys.ErrNotFound) || (err == nil && len(vers) == 0) {
		return errorf(http.StatusNotFound, "There is no journey called %q.", name)
	}
	if err != nil {
		return fmt.Errorf("journey %q: %w", name, err)
	}
	d := diffData{pageData: pageData{Title: name + " diff", User: p.Username}, Name: name, From: ft[0], To: ft[1]}
	for k := len(vers) - 1; k >= 0; k-- {
		d.Versions = append(d.Versions, vers[k].Version)
	}
	for _, n := range ft {
		if !slices.Contains(d.Versions, n) {
			return errorf(http.StatusNotFound, "Journey %q has no version %d.", name, n)
		}
	}
	text, err := v.d.Diff(ctx, name, ft[0], ft[1])
	if err != nil {
		return fmt.Errorf("diff journey %q %d..%d: %w", name, ft[0], ft[1], err)
	}
	for _, l := range strings.SplitAfter(text, "\n") {
		l = strings.TrimSuffix(l, "\n")
		if l == "" {
			continue
		}
		kind := "ctx"
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
			kind = "file"
		case strings.HasPrefix(l, "@@"):
			kind = "hunk"
		case strings.HasPrefix(l, "+"):
			kind = "add"
		case strings.HasPrefix(l, "-"):
			kind = "del"
		}
		d.Lines = append(d.Lines, diffLine{Kind: kind, Text: l})
	}
	return v.render(c, http.StatusOK, "diff", d)
}

func (v *Viewer) graphJSON(c echo.Context, _ *principal) error {
	ctx := c.Request().Context()
	name := c.Param("name")
	want, err := versionParam(c)
	if err != nil {
		return err
	}
	if !journeys.ValidName(name) {
		return errorf(http.StatusNotFound, "There is no journey called %q.", name)
	}
	ver, doc, err := v.doc(ctx, name, want)
	if err != nil {
		return err
	}
	opts, err := v.compileOptions(ctx)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, BuildGraph(doc, ver, opts))
}

func (v *Viewer) validate(c echo.Context, p *principal) error {
	if !csrfValid(v.d.Keys, p.Handle, c.Request().Header.Get(CSRFHeader)) {
		return errorf(http.StatusForbidden, "Missing or wrong %s header: reload the page and try again.", CSRFHeader)
	}
	body := http.MaxBytesReader(c.Response(), c.Request().Body, MaxDocBytes)
	doc, err := io.ReadAll(body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return errorf(http.StatusRequestEntityTooLarge, "The document is larger than %d KiB.", MaxDocBytes>>10)
	}
	if err != nil {
		return errorf(http.StatusBadRequest, "Could not read the document: %v", err)
	}
	opts, err := v.compileOptions(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, BuildGraph(doc, 0, opts))
}

// versionParam reads ?version=N: absent means the head (0); anything but a positive
// integer is a version that does not exist.
func versionParam(c echo.Context) (int, error) {
	s := c.QueryParam("version")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, errorf(http.StatusNotFound, "%q is not a version: versions are numbered from 1.", s)
	}
	return n, nil
}

// doc returns version want of name (0: the head) and its document. It goes through the
// repository's compiled cache; a version that no longer compiles is not in it, and is
// then read from the version list so that it can still be shown with its problems.
func (v *Viewer) doc(ctx context.Context, name string, want int) (int, []byte, error) {
	if want == 0 {
		h, err := v.d.Journeys.HeadVersion(ctx, name)
		if errors.Is(err, journeys.ErrNotFound) {
			return 0, nil, errorf(http.StatusNotFound, "There is no journey called %q.", name)
		}
		if err != nil {
			return 0, nil, err
		}
		want = h
	}
	c, err := v.d.Journeys.Get(ctx, name, want)
	if err == nil {
		return want, c.Raw, nil
	}
	if errors.Is(err, journeys.ErrNotFound) {
		return 0, nil, errorf(http.StatusNotFound, "Journey %q has no version %d.", name, want)
	}
	var inv *journeys.InvalidError
	if !errors.As(err, &inv) {
		return 0, nil, err
	}
	vers, err := v.d.Journeys.Versions(ctx, name)
	if err != nil {
		return 0, nil, err
	}
	for _, x := range vers {
		if x.Version == want {
			return want, x.Doc, nil
		}
	}
	return 0, nil, errorf(http.StatusNotFound, "Journey %q has no version %d.", name, want)
}

// compileOptions are the engine's, with inner journeys checked against the stored
// names, as saving a journey checks them.
func (v *Viewer) compileOptions(ctx context.Context) (journeys.CompileOptions, error) {
	names, err := v.d.Journeys.Names(ctx)
	if err != nil {
		return journeys.CompileOptions{}, fmt.Errorf("list journeys: %w", err)
	}
	known := map[string]bool{}
	for _, n := range names {
		known[n] = true
	}
	return journeys.CompileOptions{Registry: v.d.Registry, Deps: v.d.Nodes, Lookup: func(n string) bool { return known[n] }}, nil
}

func prettyJSON(doc []byte) string {
	var b bytes.Buffer
	if err := json.Indent(&b, doc, "", "  "); err != nil {
		return string(doc)
	}
	return b.String()
}

// render executes a page into a buffer first, so that a template failure is a clean
// 500 rather than half a page.
func (v *Viewer) render(c echo.Context, status int, page string, data any) error {
	var b bytes.Buffer
	if err := v.pages[page].ExecuteTemplate(&b, "layout", data); err != nil {
		return fmt.Errorf("render %s page: %w", page, err)
	}
	return c.HTMLBlob(status, b.Bytes())
}

type errorData struct {
	pageData
	Status  int
	Message string
}

func (v *Viewer) renderError(c echo.Context, err error) {
	status, msg := v.classify(c, err)
	d := errorData{pageData: pageData{Title: http.StatusText(status)}, Status: status, Message: msg}
	if rerr := v.render(c, status, "error", d); rerr != nil {
		v.d.Log.Error("journey viewer: render error page", "err", rerr)
		_ = c.String(status, msg)
	}
}

func (v *Viewer) notFound(c echo.Context) error {
	securityHeaders(c)
	v.renderError(c, errorf(http.StatusNotFound, "There is no such page in the journey viewer."))
	return nil
}

// static serves the embedded static files. Directory listings are not served.
func (v *Viewer) static(c echo.Context) error {
	securityHeaders(c)
	p := path.Clean("/" + c.Param("*"))
	b, err := fs.ReadFile(staticFS, "static"+p)
	if err != nil {
		return v.notFound(c)
	}
	ct := mime.TypeByExtension(path.Ext(p))
	if ct == "" {
		ct = "text/plain; charset=utf-8"
	}
	return c.Blob(http.StatusOK, ct, b)
}
