package web

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/sessions"
)

// doneView is the signed-in page.
type doneView struct {
	Username, Realm string
	Created, Ends   time.Time
	CSRF            string
	// Admin shows the journey viewer's link.
	Admin bool
}

// devicesView is the "my devices" page.
type devicesView struct {
	Username  string
	Enabled   bool
	List      []devices.Device
	Apps      []devices.OATHDevice
	CodesLeft int
	CSRF      string
	Notice    string
	FreshFor  string
	// Sessions are the user's live sessions, this one among them.
	Sessions []sessionRow
}

// sessionRow is one of the user's sessions on the account page: enough to recognise
// it (when, where from, with what), never its token.
type sessionRow struct {
	Handle          string
	Created, Access time.Time
	Door, IP, Agent string
	Factors         string
	Current         bool
	Restricted      bool
}

// factorNames are the words the account page uses for the factors a session verified.
var factorNames = map[string]string{
	nodes.FactorPassword: "password", nodes.FactorPush: "push", nodes.FactorOTP: "one-time code",
	nodes.FactorRecoveryCode: "recovery code",
}

// doorWords say through which door a session was earned, in the account page's words.
var doorWords = map[string]string{
	"web": "in a browser", "rest": "through an app", "radius": "through a VPN or gateway (RADIUS)",
	"fortigate": "through a firewall login", "linotp": "through a validation service", "oidc": "through an application",
}

func sessionRows(list []sessions.Session, current string) []sessionRow {
	rows := make([]sessionRow, 0, len(list))
	for _, se := range list {
		names := make([]string, 0, len(se.Factors))
		for _, f := range se.Factors {
			if n, ok := factorNames[f]; ok {
				names = append(names, n)
			} else {
				names = append(names, f)
			}
		}
		rows = append(rows, sessionRow{Handle: se.Handle, Created: se.Created, Access: se.Access,
			Door: cmp.Or(doorWords[se.Props[door.PropDoor]], se.Props[door.PropDoor]), IP: se.Props[door.PropIP], Agent: se.Props[door.PropAgent],
			Factors: strings.Join(names, " + "), Current: se.Handle == current, Restricted: se.Restricted})
	}
	// This browser's session first, then the most recent.
	slices.SortStableFunc(rows, func(a, b sessionRow) int {
		if a.Current != b.Current {
			if a.Current {
				return -1
			}
			return 1
		}
		return b.Created.Compare(a.Created)
	})
	return rows
}

// confirmView asks to confirm a sensitive action after a fresh login.
type confirmView struct {
	Heading, Text, Button string
	Action, Device, CSRF  string
	Danger                bool
	// Hidden are further fields the form posts (a sign-out's request parameters).
	Hidden []hiddenField
	// Cancel is where Cancel leads (default the devices page).
	Cancel string
}

// codesView shows newly generated recovery codes, once.
type codesView struct {
	Codes []string
}

// devicesPath is the devices page; sign-in links come back to it.
const devicesPath = "/account/devices"

// notices are the messages the devices page shows after an action; the query names one
// by key, so no text from the URL reaches the page.
var notices = map[string]string{
	"removed": "The device was removed. It can no longer approve sign-ins.",
	"ended":   "The session was signed out.",
	"others":  "Every other session was signed out.",
}

// signedIn returns the caller's valid session, or nil.
func (s *Server) signedIn(c echo.Context) (*sessions.Session, error) {
	sess, _, err := s.signedInUser(c)
	return sess, err
}

// signedInUser returns the caller's valid session and its account, read once, or nils.
func (s *Server) signedInUser(c echo.Context) (*sessions.Session, *identity.User, error) {
	tok := s.sessionToken(c)
	if tok == "" {
		return nil, nil, nil
	}
	// Refresh, not Validate: browser activity extends the idle timeout as a REST
	// refresh does, and a locked account's session is refused at once.
	sess, u, err := s.door.RefreshUser(c.Request().Context(), door.AnyRealm, tok)
	if errors.Is(err, sessions.ErrInvalid) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("check session: %w", err)
	}
	return sess, u, nil
}

// toLogin sends a browser without a session to sign in and come back to next.
func (s *Server) toLogin(c echo.Context, next string) error {
	return c.Redirect(http.StatusSeeOther, "/login?goto="+url.QueryEscape(next))
}

// stepUp asks the door core whether sess may manage factors. When it may not, the
// browser is sent through the realm's step-up journey (never the password-only one), to
// come back to next: the confirmation page of the action, a GET that changes nothing.
// done reports that the response is decided (a redirect, or err).
func (s *Server) stepUp(c echo.Context, sess *sessions.Session, next string) (done bool, err error) {
	err = s.door.Authorize(c.Request().Context(), sess, door.NeedManageFactors)
	var su *door.StepUpError
	switch {
	case err == nil:
		return false, nil
	case errors.As(err, &su):
		s.log.Info("step-up needed", "session_id", sess.Handle, "journey", su.Journey, "reason", su.Reason)
		q := url.Values{"journey": {su.Journey}, "goto": {next}}
		if sess.Realm != "/" {
			q.Set("realm", sess.Realm)
		}
		return true, c.Redirect(http.StatusSeeOther, "/login?"+q.Encode())
	}
	return true, fmt.Errorf("authorize: %w", err)
}

func (s *Server) sessionCSRF(sess *sessions.Session) string {
	return s.csrfToken("session", sess.Handle)
}

// accountForm reads a POST from an account page: the form, the session and a CSRF token
// bound to that session. A missing session gives a nil session and no error.
func (s *Server) accountForm(c echo.Context) (url.Values, *sessions.Session, error) {
	form, err := s.readForm(c)
	if err != nil {
		return nil, nil, err
	}
	sess, err := s.signedIn(c)
	if err != nil || sess == nil {
		return form, nil, err
	}
	if !s.checkCSRF(form.Get("csrf"), "session", sess.Handle) {
		s.log.Warn("account form refused: invalid CSRF token", "client_ip", c.RealIP(), "session_id", sess.Handle)
		return nil, nil, &pageError{status: http.StatusForbidden, view: messageView{
			Heading: "Form not accepted", Class: "error",
			Text: "This form could not be verified as coming from your account page, so nothing was changed. " +
				"This happens when you signed in again meanwhile, or when another site sent the form.",
			Link: devicesPath, LinkText: "Back to my devices",
		}}
	}
	return form, sess, nil
}

// done serves GET /login/done: who is signed in, with a sign-out button.
func (s *Server) done(c echo.Context) error {
	sess, u, err := s.signedInUser(c)
	if err != nil {
		return err
	}
	if sess == nil {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	ends := sess.MaxEnd
	if sess.IdleEnd.Before(ends) {
		ends = sess.IdleEnd
	}
	v := doneView{Username: sess.Username, Realm: sess.Realm, Created: sess.Created, Ends: ends, CSRF: s.sessionCSRF(sess)}
	if v.Admin, err = s.isAdmin(c, sess, u); err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "done", pageData{Title: "Signed in", Done: &v})
}

// logout serves POST /login/logout.
func (s *Server) logout(c echo.Context) error {
	_, sess, err := s.accountForm(c)
	if err != nil {
		return err
	}
	if sess != nil {
		_, err := s.door.Logout(c.Request().Context(), doorName, door.AnyRealm, s.sessionToken(c), s.door.Client(c.Request(), ""), "")
		if err != nil && !errors.Is(err, sessions.ErrInvalid) {
			return fmt.Errorf("sign out: %w", err)
		}
	}
	s.clearSessionCookie(c)
	v := messageView{Heading: "Signed out", Text: "You have signed out.", Class: "success", Link: "/login", LinkText: "Sign in again"}
	return s.render(c, http.StatusOK, "message", pageData{Title: "Signed out", Message: &v})
}

// devicesPage serves GET /account/devices.
func (s *Server) devicesPage(c echo.Context) error {
	sess, err := s.signedIn(c)
	if err != nil {
		return err
	}
	if sess == nil {
		// A user of another realm says so with ?realm=, which the login page needs.
		if r, err := door.NormalizeRealm(c.QueryParam("realm")); err == nil && r != "/" && s.door.HasRealm(r) {
			return c.Redirect(http.StatusSeeOther, "/login?"+url.Values{"realm": {r}, "goto": {devicesPath}}.Encode())
		}
		return s.toLogin(c, devicesPath)
	}
	v := devicesView{Username: sess.Username, CSRF: s.sessionCSRF(sess), Notice: notices[c.QueryParam("done")],
		FreshFor: fmt.Sprint(s.door.FreshFor())}
	if m := int(s.door.FreshFor() / time.Minute); m > 0 && s.door.FreshFor()%time.Minute == 0 {
		v.FreshFor = fmt.Sprintf("%d minutes", m)
		if m == 1 {
			v.FreshFor = "1 minute"
		}
	}
	ctx := c.Request().Context()
	list, err := s.door.UserSessions(ctx, sess.Realm, sess.Username)
	if err != nil {
		return fmt.Errorf("list sessions: %w", err)
	}
	v.Sessions = sessionRows(list, sess.Handle)
	if s.devices != nil {
		v.Enabled = true
		if v.List, err = s.devices.Devices(ctx, sess.Realm, sess.Username); err != nil {
			return fmt.Errorf("list devices: %w", err)
		}
		if v.Apps, err = s.devices.OATHDevices(ctx, sess.Realm, sess.Username); err != nil {
			return fmt.Errorf("list authenticator apps: %w", err)
		}
		if v.CodesLeft, err = s.devices.RecoveryCodesLeft(ctx, sess.Realm, sess.Username); err != nil {
			return fmt.Errorf("count recovery codes: %w", err)
		}
	}
	return s.render(c, http.StatusOK, "devices", pageData{Title: "My devices", Devices: &v})
}

// ownedDevice is one of the signed-in user's devices: a push device or an
// authenticator app (one-time codes).
type ownedDevice struct {
	ID, Name string
	App      bool
}

// findDevice returns the signed-in user's device id, or a 404 page.
func (s *Server) findDevice(c echo.Context, sess *sessions.Session, id string) (*ownedDevice, error) {
	notFound := &pageError{status: http.StatusNotFound, view: messageView{
		Heading: "No such device", Class: "error", Text: "You have no device by that name; it may have been removed already.",
		Link: devicesPath, LinkText: "Back to my devices",
	}}
	if s.devices == nil || id == "" || len(id) > 256 {
		return nil, notFound
	}
	ctx := c.Request().Context()
	list, err := s.devices.Devices(ctx, sess.Realm, sess.Username)
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	for _, d := range list {
		if d.ID == id {
			return &ownedDevice{ID: d.ID, Name: d.Name}, nil
		}
	}
	apps, err := s.devices.OATHDevices(ctx, sess.Realm, sess.Username)
	if err != nil {
		return nil, fmt.Errorf("list authenticator apps: %w", err)
	}
	for _, d := range apps {
		if d.ID == id {
			return &ownedDevice{ID: d.ID, Name: d.Name, App: true}, nil
		}
	}
	return nil, notFound
}

// confirmPage serves GET /account/devices/confirm?action=remove&device=ID or
// ?action=codes: where the re-authentication journey comes back to.
func (s *Server) confirmPage(c echo.Context) error {
	sess, err := s.signedIn(c)
	if err != nil {
		return err
	}
	if sess == nil {
		return s.toLogin(c, c.Request().URL.RequestURI())
	}
	// The confirmation comes after any step-up, so that what is confirmed is what is done.
	if done, err := s.stepUp(c, sess, c.Request().URL.RequestURI()); done {
		return err
	}
	v := confirmView{CSRF: s.sessionCSRF(sess)}
	switch c.QueryParam("action") {
	case "remove":
		d, err := s.findDevice(c, sess, c.QueryParam("device"))
		if err != nil {
			return err
		}
		v.Heading, v.Button, v.Action, v.Device, v.Danger = "Remove this device?", "Remove device", "/account/devices/remove", d.ID, true
		v.Text = fmt.Sprintf("“%s” will no longer be able to approve your sign-ins.", d.Name)
		if d.App {
			v.Text = fmt.Sprintf("Codes from “%s” will no longer sign you in.", d.Name)
		}
	case "codes":
		if s.devices == nil {
			return c.Redirect(http.StatusSeeOther, devicesPath)
		}
		v.Heading, v.Button, v.Action = "Generate new recovery codes?", "Generate new codes", "/account/recovery-codes"
		v.Text = "You will get 10 new codes, shown once. Your current codes will stop working."
	default:
		return c.Redirect(http.StatusSeeOther, devicesPath)
	}
	return s.render(c, http.StatusOK, "confirm", pageData{Title: v.Heading, Confirm: &v})
}

// removeDevice serves POST /account/devices/remove.
func (s *Server) removeDevice(c echo.Context) error {
	form, sess, err := s.accountForm(c)
	if err != nil {
		return err
	}
	if sess == nil {
		return s.toLogin(c, devicesPath)
	}
	d, err := s.findDevice(c, sess, form.Get("device"))
	if err != nil {
		return err
	}
	if done, err := s.stepUp(c, sess, devicesPath+"/confirm?action=remove&device="+url.QueryEscape(d.ID)); done {
		return err
	}
	ctx := c.Request().Context()
	if err := s.devices.Revoke(ctx, sess.Realm, sess.Username, d.ID); err != nil && !errors.Is(err, devices.ErrNotFound) {
		return fmt.Errorf("remove device: %w", err)
	}
	s.audit.Emit(ctx, audit.Event{Type: audit.DeviceRevoked, Realm: sess.Realm, User: sess.Username, Session: sess.Handle,
		Client: c.RealIP(), Details: map[string]any{"device_id": d.ID, "device_name": d.Name, "app": d.App, "by": "account page"}})
	if err := s.door.EndOtherSessions(ctx, doorName, sess, s.door.Client(c.Request(), ""), "device removed"); err != nil {
		return fmt.Errorf("end other sessions: %w", err)
	}
	s.log.Info("device removed", "session_id", sess.Handle, "user", audit.TruncateUser(sess.Username), "device_id", d.ID)
	return c.Redirect(http.StatusSeeOther, devicesPath+"?done=removed")
}

// newRecoveryCodes serves POST /account/recovery-codes. The codes are shown in the
// response itself, never redirected to: they exist in clear only here, once.
func (s *Server) newRecoveryCodes(c echo.Context) error {
	_, sess, err := s.accountForm(c)
	if err != nil {
		return err
	}
	if sess == nil {
		return s.toLogin(c, devicesPath)
	}
	if s.devices == nil {
		return c.Redirect(http.StatusSeeOther, devicesPath)
	}
	if done, err := s.stepUp(c, sess, devicesPath+"/confirm?action=codes"); done {
		return err
	}
	ctx := c.Request().Context()
	codes, err := s.devices.NewRecoveryCodes(ctx, sess.Realm, sess.Username)
	if err != nil {
		return fmt.Errorf("new recovery codes: %w", err)
	}
	s.audit.Emit(ctx, audit.Event{Type: audit.RecoveryCodesNew, Realm: sess.Realm, User: sess.Username, Session: sess.Handle,
		Client: c.RealIP(), Details: map[string]any{"by": "account page"}})
	if err := s.door.EndOtherSessions(ctx, doorName, sess, s.door.Client(c.Request(), ""), "new recovery codes"); err != nil {
		return fmt.Errorf("end other sessions: %w", err)
	}
	v := codesView{Codes: codes}
	return s.render(c, http.StatusOK, "codes", pageData{Title: "Your new recovery codes", Codes: &v})
}

// endSessions serves POST /account/sessions/end: session=HANDLE signs out one of the
// user's other sessions, session=others all of them. Signing out protects the account,
// so it needs no fresh login; a restricted session (a login below the account's level)
// steps up first, since it may be the intruder the real user wants out.
func (s *Server) endSessions(c echo.Context) error {
	form, sess, err := s.accountForm(c)
	if err != nil {
		return err
	}
	if sess == nil {
		return s.toLogin(c, devicesPath)
	}
	if sess.Restricted {
		if done, err := s.stepUp(c, sess, devicesPath); done {
			return err
		}
	}
	ctx := c.Request().Context()
	cl := s.door.Client(c.Request(), "")
	switch h := form.Get("session"); {
	case h == "others":
		if err := s.door.EndOtherSessions(ctx, doorName, sess, cl, "signed out by the user"); err != nil {
			return fmt.Errorf("end other sessions: %w", err)
		}
		return c.Redirect(http.StatusSeeOther, devicesPath+"?done=others")
	case h == "" || h == sess.Handle:
		// This browser's own session ends through Sign out, which also clears the cookie.
		return &pageError{status: http.StatusBadRequest, view: messageView{Heading: "Nothing to sign out", Class: "error",
			Text: "Choose another session to sign out, or use Sign out for this one.", Link: devicesPath, LinkText: "Back to my account"}}
	default:
		ended, err := s.door.EndSession(ctx, doorName, sess.Realm, sess.Username, h, cl, "signed out by the user")
		if err != nil {
			return fmt.Errorf("end session: %w", err)
		}
		if !ended {
			return &pageError{status: http.StatusNotFound, view: messageView{Heading: "No such session", Class: "error",
				Text: "That session has ended already.", Link: devicesPath, LinkText: "Back to my account"}}
		}
		return c.Redirect(http.StatusSeeOther, devicesPath+"?done=ended")
	}
}
