package admin

import (
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/nodes"
)

// userSummary is a user in lists.
type userSummary struct {
	Username string    `json:"username"`
	Status   string    `json:"status"`
	Locked   bool      `json:"locked"`
	Created  time.Time `json:"created"`
}

// userView is a user as the API shows it: never the password hash.
type userView struct {
	Username   string         `json:"username"`
	Realm      string         `json:"realm"`
	Status     string         `json:"status"`
	Locked     bool           `json:"locked"`
	Attributes map[string]any `json:"attributes"`
	// HasPassword reports whether the user can sign in with a password.
	HasPassword bool `json:"has_password"`
	// MustChangePassword: the next login's password_change node asks for a new one.
	MustChangePassword bool      `json:"must_change_password"`
	Created            time.Time `json:"created"`
	Updated            time.Time `json:"updated"`
}

func viewOf(u *identity.User) *userView {
	attrs := u.Attributes
	if attrs == nil {
		attrs = map[string]any{}
	}
	return &userView{Username: u.Username, Realm: u.Realm, Status: string(u.Status), Locked: u.Status == identity.StatusLocked,
		Attributes: attrs, HasPassword: u.PasswordHash != "", MustChangePassword: u.MustChangePassword,
		Created: utc(u.Created), Updated: utc(u.Updated)}
}

// realm reads ?realm= (default "/"), checks the server serves it and the principal may
// manage it.
func (a *API) realm(c echo.Context, p *principal) (string, error) {
	q := c.QueryParam("realm")
	if q == "" {
		q = "/"
	}
	r, err := door.NormalizeRealm(q)
	if err != nil || !a.d.Door.HasRealm(r) {
		return "", errorf(http.StatusBadRequest, CodeInvalid, "This server has no realm %q.", q)
	}
	if err := p.inRealm(r); err != nil {
		return "", err
	}
	return r, nil
}

// userError maps identity's errors to API errors.
func userError(realm, name string, err error) error {
	switch {
	case errors.Is(err, identity.ErrNotFound):
		return errorf(http.StatusNotFound, CodeUserNotFound, "Realm %s has no user %q.", realm, name)
	case errors.Is(err, identity.ErrExists):
		return errorf(http.StatusConflict, CodeUserExists, "Realm %s already has a user %q.", realm, name)
	case errors.Is(err, identity.ErrInvalid):
		return errorf(http.StatusBadRequest, CodeInvalid, "%s", sentence(err.Error()))
	}
	return err
}

func sentence(s string) string {
	s = strings.TrimPrefix(s, "identity: ")
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// target names a user in audit events.
func target(realm, user string) string {
	if realm == "/" {
		return "user:/" + user
	}
	return "user:" + realm + "/" + user
}

// user loads the user of the request (realm checked).
func (a *API) user(c echo.Context, p *principal) (string, *identity.User, error) {
	realm, err := a.realm(c, p)
	if err != nil {
		return "", nil, err
	}
	name := c.Param("user")
	u, err := a.d.Users.Get(c.Request().Context(), realm, name)
	if err != nil {
		return "", nil, userError(realm, name, err)
	}
	return realm, u, nil
}

func (a *API) listUsers(c echo.Context, p *principal) error {
	realm, err := a.realm(c, p)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	names, err := a.d.Users.List(ctx, realm)
	if err != nil {
		return err
	}
	out := make([]userSummary, 0, len(names))
	for _, n := range names {
		u, err := a.d.Users.Get(ctx, realm, n)
		if errors.Is(err, identity.ErrNotFound) {
			continue // the index may lag a delete
		}
		if err != nil {
			return err
		}
		out = append(out, userSummary{Username: u.Username, Status: string(u.Status), Locked: u.Status == identity.StatusLocked, Created: utc(u.Created)})
	}
	return c.JSON(http.StatusOK, out)
}

func (a *API) createUser(c echo.Context, p *principal) error {
	realm, err := a.realm(c, p)
	if err != nil {
		return err
	}
	var body struct {
		Username   string         `json:"username"`
		Password   *string        `json:"password"`
		Attributes map[string]any `json:"attributes"`
		Status     string         `json:"status"`
	}
	if err := a.decodeBody(c, &body); err != nil {
		return err
	}
	ctx := c.Request().Context()
	u := &identity.User{Realm: realm, Username: body.Username, Attributes: body.Attributes, Status: identity.Status(body.Status)}
	if body.Password != nil {
		if u.PasswordHash, err = a.d.Users.Hash(ctx, *body.Password); err != nil {
			return userError(realm, body.Username, err)
		}
	}
	if err := a.d.Users.Create(ctx, u); err != nil {
		return userError(realm, body.Username, err)
	}
	v := viewOf(u)
	a.event(ctx, p, "user.created", target(realm, u.Username), audit.Event{Realm: realm, User: u.Username}, nil, v)
	return c.JSON(http.StatusCreated, v)
}

func (a *API) getUser(c echo.Context, p *principal) error {
	_, u, err := a.user(c, p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, viewOf(u))
}

func (a *API) patchUser(c echo.Context, p *principal) error {
	realm, err := a.realm(c, p)
	if err != nil {
		return err
	}
	var body struct {
		Attributes map[string]any `json:"attributes"`
	}
	if err := a.decodeBody(c, &body); err != nil {
		return err
	}
	if len(body.Attributes) == 0 {
		return errorf(http.StatusBadRequest, CodeInvalid, "The body must be {\"attributes\": {name: value or null}} with at least one attribute.")
	}
	for k := range body.Attributes {
		if k == "" || strings.HasPrefix(k, nodes.ReservedPrefix) {
			return errorf(http.StatusBadRequest, CodeInvalid, "Attribute %q cannot be set: names are not empty and %q is reserved for Arbor.", k, nodes.ReservedPrefix)
		}
	}
	ctx := c.Request().Context()
	name := c.Param("user")
	var before *userView
	u, err := a.d.Users.Update(ctx, realm, name, func(u *identity.User) error {
		before = viewOf(u)
		before.Attributes = cloneMap(before.Attributes)
		if u.Attributes == nil {
			u.Attributes = map[string]any{}
		}
		for k, v := range body.Attributes {
			if v == nil {
				delete(u.Attributes, k)
			} else {
				u.Attributes[k] = v
			}
		}
		return nil
	})
	if err != nil {
		return userError(realm, name, err)
	}
	after := viewOf(u)
	a.event(ctx, p, "user.updated", target(realm, u.Username), audit.Event{Realm: realm, User: u.Username},
		map[string]any{"attributes": before.Attributes}, map[string]any{"attributes": after.Attributes})
	return c.JSON(http.StatusOK, after)
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (a *API) setPassword(c echo.Context, p *principal) error {
	realm, err := a.realm(c, p)
	if err != nil {
		return err
	}
	var body struct {
		Password   string `json:"password"`
		MustChange bool   `json:"must_change"`
	}
	if err := a.decodeBody(c, &body); err != nil {
		return err
	}
	ctx := c.Request().Context()
	name := c.Param("user")
	if err := a.d.Users.ResetPassword(ctx, realm, name, body.Password, body.MustChange); err != nil {
		return userError(realm, name, err)
	}
	ended, err := a.d.Door.EndSessions(ctx, realm, name, "", "password set by an admin")
	if err != nil {
		return err
	}
	a.event(ctx, p, "user.password_set", target(realm, name), audit.Event{Realm: realm, User: name},
		nil, map[string]any{"password": "changed", "must_change_password": body.MustChange, "sessions_ended": ended})
	return c.NoContent(http.StatusNoContent)
}

func (a *API) setStatus(status identity.Status) handler {
	return func(c echo.Context, p *principal) error {
		realm, u, err := a.user(c, p)
		if err != nil {
			return err
		}
		ctx := c.Request().Context()
		before := u.Status
		if err := a.d.Users.SetStatus(ctx, realm, u.Username, status); err != nil {
			return userError(realm, u.Username, err)
		}
		after := map[string]any{"status": status}
		if status != identity.StatusActive {
			// At once, on every instance: the sessions are deleted from the store.
			n, err := a.d.Door.EndSessions(ctx, realm, u.Username, "", "account "+string(status)+" by an admin")
			if err != nil {
				return err
			}
			after["sessions_ended"] = n
		}
		action := "user.enabled"
		if status == identity.StatusDisabled {
			action = "user.disabled"
		}
		a.event(ctx, p, action, target(realm, u.Username), audit.Event{Realm: realm, User: u.Username}, map[string]any{"status": before}, after)
		return a.answerUser(c, realm, u.Username)
	}
}

func (a *API) answerUser(c echo.Context, realm, name string) error {
	u, err := a.d.Users.Get(c.Request().Context(), realm, name)
	if err != nil {
		return userError(realm, name, err)
	}
	return c.JSON(http.StatusOK, viewOf(u))
}

func (a *API) unlockUser(c echo.Context, p *principal) error {
	realm, u, err := a.user(c, p)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	unlocked, err := a.d.Users.Unlock(ctx, realm, u.Username)
	if err != nil {
		return userError(realm, u.Username, err)
	}
	after := identity.StatusActive
	if !unlocked {
		after = u.Status
	}
	a.event(ctx, p, "user.unlocked", target(realm, u.Username), audit.Event{Realm: realm, User: u.Username},
		map[string]any{"status": u.Status}, map[string]any{"status": after, "unlocked": unlocked})
	return a.answerUser(c, realm, u.Username)
}

// sessionView is a session as the API shows it: its handle, never its token.
type sessionView struct {
	Handle     string    `json:"handle"`
	Created    time.Time `json:"created"`
	Expires    time.Time `json:"expires"`
	Level      int       `json:"level"`
	Factors    []string  `json:"factors"`
	Journey    string    `json:"journey"`
	Restricted bool      `json:"restricted,omitempty"`
}

func (a *API) listSessions(c echo.Context, p *principal) error {
	realm, u, err := a.user(c, p)
	if err != nil {
		return err
	}
	list, err := a.d.Door.UserSessions(c.Request().Context(), realm, u.Username)
	if err != nil {
		return err
	}
	out := make([]sessionView, 0, len(list))
	for _, s := range list {
		exp := s.IdleEnd
		if s.MaxEnd.Before(exp) {
			exp = s.MaxEnd
		}
		f := s.Factors
		if f == nil {
			f = []string{}
		}
		out = append(out, sessionView{Handle: s.Handle, Created: utc(s.Created), Expires: utc(exp), Level: s.Level, Factors: f,
			Journey: s.Journey, Restricted: s.Restricted})
	}
	return c.JSON(http.StatusOK, out)
}

func (a *API) endSessions(c echo.Context, p *principal) error {
	realm, u, err := a.user(c, p)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	handle := c.Param("handle")
	if handle == "" {
		n, err := a.d.Door.EndSessions(ctx, realm, u.Username, "", "ended by an admin")
		if err != nil {
			return err
		}
		a.event(ctx, p, "user.sessions_ended", target(realm, u.Username), audit.Event{Realm: realm, User: u.Username},
			nil, map[string]any{"sessions_ended": n})
		return c.NoContent(http.StatusNoContent)
	}
	ok, err := a.d.Door.EndSession(ctx, "admin", realm, u.Username, handle, a.d.Door.Client(c.Request(), ""), "ended by an admin")
	if err != nil {
		return err
	}
	if !ok {
		return errorf(http.StatusNotFound, CodeNotFound, "User %q has no live session %q.", u.Username, handle)
	}
	a.event(ctx, p, "user.session_ended", target(realm, u.Username), audit.Event{Realm: realm, User: u.Username, Session: handle},
		map[string]any{"session": handle}, nil)
	return c.NoContent(http.StatusNoContent)
}

// deviceView is a second-factor device as the API shows it: no secret, no push token.
type deviceView struct {
	ID       string     `json:"id"`
	Kind     string     `json:"kind"`
	Name     string     `json:"name"`
	Created  time.Time  `json:"created"`
	LastUsed *time.Time `json:"last_used"`
	// HasPIN says whether the device has a token PIN (never the PIN or its hash).
	HasPIN bool `json:"has_pin"`
}

func lastUsed(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func (a *API) devicesOf(c echo.Context, realm, user string) ([]deviceView, error) {
	out := []deviceView{}
	if a.d.Devices == nil {
		return out, nil
	}
	ctx := c.Request().Context()
	push, err := a.d.Devices.Devices(ctx, realm, user)
	if err != nil {
		return nil, err
	}
	for _, d := range push {
		out = append(out, deviceView{ID: d.ID, Kind: "push", Name: d.Name, Created: utc(d.Created), LastUsed: lastUsed(d.LastUsed), HasPIN: d.PINHash != ""})
	}
	otp, err := a.d.Devices.OATHDevices(ctx, realm, user)
	if err != nil {
		return nil, err
	}
	for _, d := range otp {
		out = append(out, deviceView{ID: d.ID, Kind: "otp", Name: d.Name, Created: utc(d.Created), LastUsed: lastUsed(d.LastUsed), HasPIN: d.PINHash != ""})
	}
	return out, nil
}

func (a *API) listDevices(c echo.Context, p *principal) error {
	realm, u, err := a.user(c, p)
	if err != nil {
		return err
	}
	out, err := a.devicesOf(c, realm, u.Username)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// deviceOf returns user's device id as the API shows it, or the not-found error for a
// device the user does not have (another user's included).
func (a *API) deviceOf(c echo.Context, realm, user, id string) (*deviceView, error) {
	list, err := a.devicesOf(c, realm, user)
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i].ID == id && a.d.Devices != nil {
			return &list[i], nil
		}
	}
	return nil, errNoDevice(user, id)
}

// errNoDevice answers a device the user does not have: unknown, or another user's.
func errNoDevice(user, id string) error {
	return errorf(http.StatusNotFound, CodeNotFound, "User %q has no device %q.", user, id)
}

// setPIN sets (PUT, {"pin": "..."}) or clears (DELETE) the token PIN of a user's
// device, which the token_pin node checks. The PIN is hashed by the registry, never
// answered, logged or audited: the event says only whether the device has one.
func (a *API) setPIN(c echo.Context, p *principal) error {
	realm, u, err := a.user(c, p)
	if err != nil {
		return err
	}
	id := c.Param("id")
	before, err := a.deviceOf(c, realm, u.Username, id)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	action := "device.pin_cleared"
	if c.Request().Method == http.MethodPut {
		var body struct {
			PIN string `json:"pin"`
		}
		if err := a.decodeBody(c, &body); err != nil {
			return err
		}
		if err := devices.CheckPIN(body.PIN); err != nil {
			return errorf(http.StatusBadRequest, CodePINInvalid, "The PIN must be %d to %d characters; this one has %d.",
				devices.MinPINLength, devices.MaxPINLength, utf8.RuneCountInString(body.PIN))
		}
		err = a.d.Devices.SetPIN(ctx, realm, u.Username, id, body.PIN)
		action = "device.pin_set"
	} else {
		err = a.d.Devices.ClearPIN(ctx, realm, u.Username, id)
	}
	if errors.Is(err, devices.ErrNotFound) {
		return errNoDevice(u.Username, id)
	}
	if err != nil {
		return err
	}
	after := *before
	after.HasPIN = action == "device.pin_set"
	a.event(ctx, p, action, target(realm, u.Username), audit.Event{Realm: realm, User: u.Username}, before, after)
	return c.JSON(http.StatusOK, after)
}

func (a *API) removeDevice(c echo.Context, p *principal) error {
	realm, u, err := a.user(c, p)
	if err != nil {
		return err
	}
	id := c.Param("id")
	before, err := a.deviceOf(c, realm, u.Username, id)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := a.d.Devices.Revoke(ctx, realm, u.Username, id); err != nil {
		if errors.Is(err, devices.ErrNotFound) {
			return errNoDevice(u.Username, id)
		}
		return err
	}
	a.event(ctx, p, "device.removed", target(realm, u.Username), audit.Event{Realm: realm, User: u.Username}, before, nil)
	// The registry's own event, as for a device removed by its owner.
	a.d.Audit.Emit(ctx, audit.Event{Type: audit.DeviceRevoked, Realm: realm, User: u.Username,
		Details: map[string]any{"device_id": id, "actor": p.Actor}})
	return c.NoContent(http.StatusNoContent)
}

func (a *API) newRecoveryCodes(c echo.Context, p *principal) error {
	realm, u, err := a.user(c, p)
	if err != nil {
		return err
	}
	if a.d.Devices == nil {
		return errorf(http.StatusNotFound, CodeNotFound, "This server keeps no second factors.")
	}
	ctx := c.Request().Context()
	left, err := a.d.Devices.RecoveryCodesLeft(ctx, realm, u.Username)
	if err != nil {
		return err
	}
	codes, err := a.d.Devices.NewRecoveryCodes(ctx, realm, u.Username)
	if err != nil {
		return err
	}
	a.event(ctx, p, "user.recovery_codes_generated", target(realm, u.Username), audit.Event{Realm: realm, User: u.Username},
		map[string]any{"codes_left": left}, map[string]any{"codes_left": len(codes)})
	a.d.Audit.Emit(ctx, audit.Event{Type: audit.RecoveryCodesNew, Realm: realm, User: u.Username, Details: map[string]any{"actor": p.Actor}})
	return c.JSON(http.StatusOK, map[string]any{"codes": codes})
}
