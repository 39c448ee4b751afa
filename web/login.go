package web

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/arbor-auth/arbor/door"
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
	realm, err := door.NormalizeRealm(q.Get("realm"))
	if err != nil || !s.door.HasRealm(realm) {
		return &pageError{status: http.StatusNotFound, view: messageView{
			Heading: "Unknown realm", Text: "There is no realm by that name on this server.", Class: "error",
			Link: "/login", LinkText: "Sign in",
		}}
	}
	ref.Realm = realm
	if ref.Journey == "" {
		ref.Journey = s.door.Policy(realm).DefaultJourney
	}
	if !journeyName.MatchString(ref.Journey) {
		return noJourney(ref.Journey)
	}
	if ref.Goto != "" && !s.door.RedirectAllowed(ref.Goto) {
		// Dropped here, and checked again before redirecting: the page never leads off
		// to a place the operator did not allow.
		s.log.Warn("goto ignored: not an allowed redirect", "client_ip", c.RealIP(), "journey", ref.Journey)
		ref.Goto = ""
	}
	ref.Locale = door.ParseLocale(ref.Locale)
	return s.start(c, ref, "", "")
}

// start begins a flow of ref's journey and shows its first step, with alert (why the
// previous attempt ended) above it and prefill in its user name field.
func (s *Server) start(c echo.Context, ref flowRef, alert, prefill string) error {
	ref.FlowID = ""
	cl := s.door.Client(c.Request(), ref.Locale)
	out, err := s.door.Start(c.Request().Context(), door.Start{Door: doorName, Realm: ref.Realm, Journey: ref.Journey, Client: cl})
	if err != nil {
		return s.flowError(c, ref, err)
	}
	return s.respond(c, ref, out, cl, alert, prefill)
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
	cl := s.door.Client(c.Request(), ref.Locale)
	out, err := s.door.Continue(c.Request().Context(), door.Continue{Door: doorName, Realm: ref.Realm, FlowID: ref.FlowID, Answers: answers, Client: cl})
	if err != nil {
		return s.flowError(c, ref, err)
	}
	return s.respond(c, ref, out, cl, "", "")
}

// doorName names this door in audit events.
const doorName = "web"

// respond shows where a step left the flow: the next step, the way on after a success,
// or the first step of a new attempt after a failure.
func (s *Server) respond(c echo.Context, ref flowRef, out *door.Outcome, cl door.Client, alert, prefill string) error {
	res := out.Result
	switch res.Status {
	case engine.NeedInput:
		ref.FlowID = res.FlowID
		s.setFlowCookie(c, ref)
		v := buildStep(stepInput{Callbacks: res.Callbacks, Header: res.Header, Description: res.Description, Stage: res.Stage, Prefill: prefill,
			DeveloperHints: s.cfg.DeveloperHints})
		v.Alert = alert
		v.CSRF = s.csrfToken("flow", res.FlowID)
		return s.render(c, http.StatusOK, "step", pageData{Title: v.Title, Step: &v})
	case engine.Succeeded:
		return s.succeed(c, ref, out, cl)
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
	if out.Refused != nil && out.Refused.Reason == door.ReasonSecondFactor {
		// The account has a second factor: the new attempt is the realm's step-up
		// journey for the factors it has, rather than the one that cannot succeed.
		j, err := s.door.StepUpJourney(c.Request().Context(), ref.Realm, res.Username)
		if err != nil {
			return err
		}
		ref.Journey = j
	}
	return s.start(c, ref, msg, res.Shared.String(nodes.KeyUsername))
}

// succeed turns a finished journey into a session and leaves for the goto, if allowed,
// or for the signed-in page.
func (s *Server) succeed(c echo.Context, ref flowRef, out *door.Outcome, cl door.Client) error {
	s.clearFlowCookie(c)
	ctx := c.Request().Context()
	if old := s.sessionToken(c); old != "" {
		// The browser's earlier session is replaced, not left valid behind the new one.
		_, err := s.door.Logout(ctx, doorName, door.AnyRealm, old, cl, "replaced by a new login")
		if err != nil && !errors.Is(err, sessions.ErrInvalid) {
			s.log.Warn("could not end the previous session", "err", err)
		}
	}
	if out.Session == nil {
		// The core creates a session for every success it lets through.
		return fmt.Errorf("sign-in of %q finished without a session", door.TruncateUser(out.Username))
	}
	c.SetCookie(door.SessionCookie(s.cfg.CookieName, out.Token, out.Session, cl))
	target := "/login/done"
	if ref.Goto != "" && s.door.RedirectAllowed(ref.Goto) {
		target = ref.Goto
	}
	return c.Redirect(http.StatusSeeOther, target)
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
	case errors.Is(err, engine.ErrJourneyNotFound), errors.Is(err, door.ErrJourneyDisabled):
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
