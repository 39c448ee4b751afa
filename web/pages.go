package web

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/arbor-auth/arbor/store"
)

//go:embed templates/*.html
var templateFS embed.FS

// pageNames are the page templates; each is drawn inside layout.html.
var pageNames = []string{"step", "message", "done", "devices", "confirm", "codes", "home"}

// parsePages parses each page with the layout and the shared parts.
func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"asset": assetURL,
		"when":  func(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 UTC") },
		"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	out := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse page %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// pageData is what the layout draws; exactly one of the page fields is set.
type pageData struct {
	Title   string
	Step    *stepView
	Message *messageView
	Done    *doneView
	Devices *devicesView
	Confirm *confirmView
	Codes   *codesView
	Home    *homeView
}

// writePage draws page name into w.
func writePage(w io.Writer, pages map[string]*template.Template, name string, data pageData) error {
	t, ok := pages[name]
	if !ok {
		return fmt.Errorf("no page template %q", name)
	}
	if err := t.ExecuteTemplate(w, "layout", data); err != nil {
		return fmt.Errorf("draw page %s: %w", name, err)
	}
	return nil
}

// render draws a whole page before sending any of it, so a template error becomes an
// error page rather than half a page.
func (s *Server) render(c echo.Context, status int, name string, data pageData) error {
	var buf bytes.Buffer
	if err := writePage(&buf, s.pages, name, data); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// messageView is a page that says one thing: an error, a timeout, a sign-out.
type messageView struct {
	Heading, Text, Detail string
	// Class is the alert's style: error, warning, info or success.
	Class string
	// Link and LinkText offer the way on (start again, sign in).
	Link, LinkText string
}

// pageError is an error that is shown to the user as a page with an HTTP status.
type pageError struct {
	status int
	view   messageView
	cause  error
}

// Error describes the error in a sentence.
func (e *pageError) Error() string {
	if e.cause != nil {
		return e.view.Heading + ": " + e.cause.Error()
	}
	return e.view.Heading + ": " + e.view.Text
}

// Unwrap returns the errors this one wraps, for errors.Is and errors.As.
func (e *pageError) Unwrap() error { return e.cause }

// unavailable is the page for a store outage: the engine left every flow as it was, so
// the user loses nothing by trying again.
var unavailable = messageView{
	Heading: "Temporarily unavailable",
	Text:    "Sign-in is temporarily unavailable. Nothing was lost: reload this page in a moment to try again.",
	Class:   "warning",
}

// renderError draws the page for err. Errors that are not the user's (store outages,
// bugs) are logged; the page never shows their text.
func (s *Server) renderError(c echo.Context, err error) {
	if c.Response().Committed {
		return
	}
	status, view := http.StatusInternalServerError, messageView{
		Heading: "Something went wrong",
		Text:    "Something went wrong on our side, not yours. Please try again.",
		Class:   "error", Link: "/login", LinkText: "Start again",
	}
	var pe *pageError
	switch {
	case errors.As(err, &pe):
		status, view = pe.status, pe.view
		if pe.cause != nil {
			s.log.Info("page refused", "path", c.Request().URL.Path, "status", status, "reason", pe.cause.Error())
		}
	case errors.Is(err, errFormTooLarge):
		status, view = http.StatusRequestEntityTooLarge, messageView{Heading: "Form too large",
			Text: "The form you sent is larger than this server accepts. Nothing was changed.", Class: "error", Link: "/login", LinkText: "Start again"}
	case errors.Is(err, errFormType):
		status, view = http.StatusUnsupportedMediaType, messageView{Heading: "Unexpected form",
			Text: "This page accepts only forms sent by its own pages. Nothing was changed.", Class: "error", Link: "/login", LinkText: "Start again"}
	case errors.Is(err, errFormBad):
		status, view = http.StatusBadRequest, messageView{Heading: "Unreadable form",
			Text: "The form could not be read. Nothing was changed.", Class: "error", Link: "/login", LinkText: "Start again"}
	case errors.Is(err, store.ErrUnavailable):
		status, view = http.StatusServiceUnavailable, unavailable
		c.Response().Header().Set("Retry-After", "5")
		s.log.Error("store unavailable", "path", c.Request().URL.Path, "err", err)
	default:
		s.log.Error("page failed", "path", c.Request().URL.Path, "err", err)
	}
	if rerr := s.render(c, status, "message", pageData{Title: view.Heading, Message: &view}); rerr != nil {
		s.log.Error("error page failed", "err", rerr)
		_ = c.String(status, view.Text)
	}
}

// loginURL is the URL that starts ref's journey again the way it was started.
func (s *Server) loginURL(ref flowRef) string {
	q := url.Values{}
	if ref.Journey != "" && ref.Journey != s.door.Policy(ref.Realm).DefaultJourney {
		q.Set("journey", ref.Journey)
	}
	if ref.Realm != "" && ref.Realm != "/" {
		q.Set("realm", ref.Realm)
	}
	if ref.Goto != "" {
		q.Set("goto", ref.Goto)
	}
	if ref.Locale != "" {
		q.Set("locale", ref.Locale)
	}
	if len(q) == 0 {
		return "/login"
	}
	return "/login?" + q.Encode()
}
