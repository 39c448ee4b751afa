package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	"golang.org/x/text/language"

	"github.com/arbor-auth/arbor/api"
	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/engine"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/sessions"
)

// defaultFailure is shown when a journey fails without saying why.
const defaultFailure = "Sign-in failed. Check your details and try again."

// loginStart serves GET /login?journey=NAME[&realm=R][&goto=URL][&locale=L]: it starts
// the journey and shows its first step. A GET always starts a new flow, so a login link
// is also how a signed-in user confirms who they are before a sensitive action.
func (s *Server) loginStart(c echo.Context) error {
	q := c.QueryParams()
	ref := flowRef{Journey: q.Get("journey"), Goto: q.Get("goto"), Locale: q.Get("locale")}
	if ref.Journey == "" {
		ref.Journey = s.cfg.DefaultJourney
	}
	if !journeyName.MatchString(ref.Journey) {
		return noJourney(ref.Journey)
	}
	realm, ok := normalizeRealm(q.Get("realm"))
	if !ok || !s.realms[realm] {
		return &pageError{status: http.StatusNotFound, view: messageView{
			Heading: "Unknown realm", Text: "There is no realm by that name on this server.", Class: "error",
			Link: "/login", LinkText: "Sign in",
		}}
	}
	ref.Realm = realm
	if ref.Goto != "" && !api.AllowedRedirect(ref.Goto, s.cfg.AllowedRedirects) {
		// Dropped here, and checked again before redirecting: the page never leads off
		// to a place the operator did not allow.
		s.log.Warn("goto ignored: not an allowed redirect", "client_ip", c.RealIP(), "journey", ref.Journey)
		ref.Goto = ""
	}
	if ref.Locale != "" {
		if _, err := language.Parse(ref.Locale); err != nil || len(ref.Locale) > 35 {
			ref.Locale = ""
		}
	}
	return s.start(c, ref, "", "")
}

// start begins a flow of ref's journey and shows its first step, with alert (why the
// previous attempt ended) above it and prefill in its user name field.
func (s *Server) start(c echo.Context, ref flowRef, alert, prefill string) error {
	ref.FlowID = ""
	var ns newSession
	res, err := s.engine.Start(c.Request().Context(), engine.StartRequest{Journey: ref.Journey, Realm: ref.Realm, Request: s.nodeRequest(c, ref)}, s.sessionHook(&ns))
	if err != nil {
		return s.flowError(c, ref, err)
	}
	return s.respond(c, ref, res, alert, prefill, &ns)
}

// loginSubmit serves POST /login: one answered step of the flow the cookie names.
func (s *Server) loginSubmit(c echo.Context) error {
	form, err := s.readForm(c)
	if err != nil {
		return err
	}
	ref, ok := s.readFlowCookie(c)
	if !ok || !s.checkCSRF(form.Get("csrf"), "flow", ref.FlowID) {
		s.log.Warn("login form refused: no valid flow cookie and CSRF token", "client_ip", c.RealIP(), "flow_cookie", ok)
		return s.forbidden(ref, ok)
	}
	answers, err := parseAnswers(form)
	if err != nil {
		return badStep(s.loginURL(ref), err)
	}
	var ns newSession
	res, err := s.engine.Continue(c.Request().Context(), ref.FlowID, ref.Realm, answers, s.nodeRequest(c, ref), s.sessionHook(&ns))
	if err != nil {
		return s.flowError(c, ref, err)
	}
	return s.respond(c, ref, res, "", "", &ns)
}

// newSession is the session a successful step created.
type newSession struct {
	token string
	sess  *sessions.Session
}

// sessionHook creates the session inside the engine's success hook, before the flow is
// recorded as finished: a store failure then leaves the step retryable instead of
// losing the sign-in, and a lost race logs the session out again.
func (s *Server) sessionHook(ns *newSession) engine.StepOption {
	return engine.OnSuccess(func(ctx context.Context, res *engine.Result) (func(), error) {
		if res.Username == "" {
			return nil, nil // succeed shows the "sign-in incomplete" page
		}
		tok, sess, err := s.sessions.Create(ctx, res.Username, res.Realm, res.Journey, nil)
		if err != nil {
			return nil, fmt.Errorf("create session: %w", err)
		}
		ns.token, ns.sess = tok, sess
		return func() { _, _ = s.sessions.Logout(context.WithoutCancel(ctx), tok) }, nil
	})
}

// respond shows where a step left the flow: the next step, the way on after a success,
// or the first step of a new attempt after a failure.
func (s *Server) respond(c echo.Context, ref flowRef, res *engine.Result, alert, prefill string, ns *newSession) error {
	switch res.Status {
	case engine.NeedInput:
		ref.FlowID = res.FlowID
		s.setFlowCookie(c, ref)
		v := buildStep(stepInput{Callbacks: res.Callbacks, Header: res.Header, Description: res.Description, Stage: res.Stage, Prefill: prefill})
		v.Alert = alert
		v.CSRF = s.csrfToken("flow", res.FlowID)
		return s.render(c, http.StatusOK, "step", pageData{Title: v.Title, Step: &v})
	case engine.Succeeded:
		return s.succeed(c, ref, res, ns)
	}
	msg := res.FailureMessage
	if msg == "" {
		msg = defaultFailure
	}
	if alert != "" {
		// The new attempt failed at once as well: say so instead of trying forever.
		s.clearFlowCookie(c)
		return &pageError{status: http.StatusUnauthorized, view: messageView{
			Heading: "Sign-in failed", Text: msg, Class: "error", Link: s.loginURL(ref), LinkText: "Try again",
		}}
	}
	// The failure is shown on the first step of a new attempt, with the name the user
	// typed, so trying again is one password away. The new flow's cookie replaces the
	// finished one's.
	return s.start(c, ref, msg, res.Shared.String(nodes.KeyUsername))
}

// succeed turns a finished journey into a session and leaves for the goto, if allowed,
// or for the signed-in page.
func (s *Server) succeed(c echo.Context, ref flowRef, res *engine.Result, ns *newSession) error {
	s.clearFlowCookie(c)
	if res.Username == "" {
		return &pageError{status: http.StatusInternalServerError, view: messageView{
			Heading: "Sign-in incomplete", Class: "error", Link: s.loginURL(ref), LinkText: "Start again",
			Text: "This sign-in journey finished without saying who you are, so no session was started. Please tell the administrator.",
		}}
	}
	ctx := c.Request().Context()
	if old := s.sessionToken(c); old != "" {
		// The browser's earlier session is replaced, not left valid behind the new one.
		prev, err := s.sessions.Logout(ctx, old)
		switch {
		case err == nil:
			s.audit.Emit(ctx, audit.Event{Type: audit.SessionLogout, Realm: prev.Realm, User: prev.Username, Session: prev.Handle,
				Client: c.RealIP(), Reason: "replaced by a new login"})
		case !errors.Is(err, sessions.ErrInvalid):
			s.log.Warn("could not end the previous session", "err", err)
		}
	}
	if ns.sess == nil {
		return fmt.Errorf("sign-in of %q finished without a session", res.Username)
	}
	tok, sess := ns.token, ns.sess
	s.setSessionCookie(c, tok, sess.MaxEnd)
	s.log.Info("session created", "session_id", sess.Handle, "flow_id", res.FlowID, "user", res.Username, "realm", res.Realm)
	target := "/login/done"
	if ref.Goto != "" && api.AllowedRedirect(ref.Goto, s.cfg.AllowedRedirects) {
		target = ref.Goto
	}
	return c.Redirect(http.StatusSeeOther, target)
}

// nodeRequest describes the request for nodes, with the locale the flow was started
// with (a ?locale= on the first page) ahead of the browser's languages.
func (s *Server) nodeRequest(c echo.Context, ref flowRef) nodes.Request {
	req := api.NodeRequest(c.Request(), c.RealIP(), s.cfg.PublicURL)
	if ref.Locale != "" && (len(req.Locales) == 0 || req.Locales[0] != ref.Locale) {
		req.Locales = append([]string{ref.Locale}, req.Locales...)
	}
	return req
}

// flowError turns an engine error into the page that explains it.
func (s *Server) flowError(c echo.Context, ref flowRef, err error) error {
	var ie *engine.InputError
	switch {
	case errors.Is(err, engine.ErrFlowNotFound):
		s.clearFlowCookie(c)
		return &pageError{status: http.StatusGone, cause: err, view: messageView{
			Heading: "Sign-in timed out", Class: "warning",
			Text: "Your sign-in timed out, start again.", Link: s.loginURL(ref), LinkText: "Start again",
		}}
	case errors.Is(err, engine.ErrJourneyNotFound):
		return noJourney(ref.Journey)
	case errors.As(err, &ie):
		return badStep(s.loginURL(ref), err)
	case errors.Is(err, engine.ErrStepConflict):
		return &pageError{status: http.StatusConflict, cause: err, view: messageView{
			Heading: "Already sent", Class: "warning",
			Text: "This page was sent twice at the same moment, and the other one was used.",
			Link: s.loginURL(ref), LinkText: "Start again",
		}}
	case errors.Is(err, engine.ErrRealmMismatch):
		s.clearFlowCookie(c)
		return badStep(s.loginURL(ref), err)
	}
	return fmt.Errorf("journey %s: %w", ref.Journey, err)
}

func noJourney(name string) error {
	return &pageError{status: http.StatusNotFound, view: messageView{
		Heading: "No such sign-in", Class: "error", Link: "/login", LinkText: "Sign in",
		Text: fmt.Sprintf("There is no sign-in journey named %q.", name),
	}}
}

// badStep is the page for a form that does not answer the step the flow waits on: a
// form from an older page, or one edited by hand. The flow is unchanged.
func badStep(restart string, err error) error {
	return &pageError{status: http.StatusBadRequest, cause: err, view: messageView{
		Heading: "This page is out of date", Class: "error",
		Text: "The answers sent do not fit the step this sign-in is at, so nothing was changed.",
		Link: restart, LinkText: "Start again",
	}}
}

// forbidden is the page for a form without a valid CSRF token or flow cookie.
func (s *Server) forbidden(ref flowRef, known bool) error {
	link := "/login"
	if known {
		link = s.loginURL(ref)
	}
	return &pageError{status: http.StatusForbidden, view: messageView{
		Heading: "Form not accepted", Class: "error",
		Text: "This form could not be verified as coming from this sign-in page, so nothing was changed. " +
			"This happens when cookies are blocked, when another sign-in was started in this browser meanwhile, or when another site sent the form.",
		Link: link, LinkText: "Start again",
	}}
}
