package adminclient

import (
	"context"
	"net/http"
	"time"
)

// UserSummary is one row of the user list.
type UserSummary struct {
	Username string    `json:"username"`
	Status   string    `json:"status"`
	Locked   bool      `json:"locked"`
	Created  time.Time `json:"created"`
}

// User is one account as the API shows it (never its password hash).
type User struct {
	Username   string         `json:"username"`
	Realm      string         `json:"realm"`
	Status     string         `json:"status"`
	Locked     bool           `json:"locked"`
	Attributes map[string]any `json:"attributes"`
	Created    time.Time      `json:"created"`
	Updated    time.Time      `json:"updated"`
	// HasPassword says whether the account has a password set.
	HasPassword bool `json:"has_password"`
}

// NewUser is the body of a user creation. Password is hashed by the server; an empty
// one makes an account that cannot sign in with a password until one is set.
type NewUser struct {
	Username   string         `json:"username"`
	Password   string         `json:"password,omitempty"`
	Attributes map[string]any `json:"attributes,omitempty"`
	Status     string         `json:"status,omitempty"`
}

// Session is one of a user's sessions (never its token).
type Session struct {
	Handle  string    `json:"handle"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	Level   int       `json:"level"`
	Factors []string  `json:"factors"`
	// Journey is the journey that made the session.
	Journey string `json:"journey"`
	// Restricted marks a session that may only finish a second factor's enrolment.
	Restricted bool `json:"restricted,omitempty"`
}

// Device is one of a user's registered devices (never its secrets).
type Device struct {
	ID       string    `json:"id"`
	Kind     string    `json:"kind"`
	Name     string    `json:"name"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"last_used"`
	// HasPIN says whether the device has a token PIN.
	HasPIN bool `json:"has_pin"`
}

// userPath is /users/{u}[suffix].
func userPath(username, suffix string) string { return "/users/" + seg(username) + suffix }

// ListUsers returns the users of realm ("" for the top-level realm).
func (c *Client) ListUsers(ctx context.Context, realm string) ([]UserSummary, error) {
	var out []UserSummary
	_, err := c.call(ctx, request{method: http.MethodGet, path: "/users", query: realmQuery(realm)}, &out)
	return out, err
}

// CreateUser creates u in realm.
func (c *Client) CreateUser(ctx context.Context, realm string, u NewUser) (*User, error) {
	var out User
	_, err := c.call(ctx, request{method: http.MethodPost, path: "/users", query: realmQuery(realm), body: jsonBody(u)}, &out)
	return &out, err
}

// GetUser returns the user username of realm.
func (c *Client) GetUser(ctx context.Context, realm, username string) (*User, error) {
	var out User
	_, err := c.call(ctx, request{method: http.MethodGet, path: userPath(username, ""), query: realmQuery(realm)}, &out)
	return &out, err
}

// UpdateAttributes merges attrs into the user's attributes; a nil value removes one.
func (c *Client) UpdateAttributes(ctx context.Context, realm, username string, attrs map[string]any) (*User, error) {
	body := jsonBody(struct {
		Attributes map[string]any `json:"attributes"`
	}{attrs})
	var out User
	_, err := c.call(ctx, request{method: http.MethodPatch, path: userPath(username, ""), query: realmQuery(realm), body: body}, &out)
	return &out, err
}

// SetPassword sets the user's password (the server hashes it) and ends the user's
// sessions.
func (c *Client) SetPassword(ctx context.Context, realm, username, password string) error {
	return c.ResetPassword(ctx, realm, username, password, false)
}

// ResetPassword is SetPassword that also flags (mustChange) or unflags the account, so
// that a journey's password_change node asks the user for a new password.
func (c *Client) ResetPassword(ctx context.Context, realm, username, password string, mustChange bool) error {
	body := jsonBody(struct {
		Password   string `json:"password"`
		MustChange bool   `json:"must_change,omitempty"`
	}{password, mustChange})
	_, err := c.call(ctx, request{method: http.MethodPut, path: userPath(username, "/password"), query: realmQuery(realm), body: body}, nil)
	return err
}

// userAction posts one of the user state changes (disable, enable, unlock).
func (c *Client) userAction(ctx context.Context, realm, username, action string) (*User, error) {
	var out User
	_, err := c.call(ctx, request{method: http.MethodPost, path: userPath(username, "/"+action), query: realmQuery(realm)}, &out)
	return &out, err
}

// DisableUser switches the account off and ends all its sessions at once.
func (c *Client) DisableUser(ctx context.Context, realm, username string) (*User, error) {
	return c.userAction(ctx, realm, username, "disable")
}

// EnableUser switches a disabled account back on.
func (c *Client) EnableUser(ctx context.Context, realm, username string) (*User, error) {
	return c.userAction(ctx, realm, username, "enable")
}

// UnlockUser clears a lock (and the failure count that led to it).
func (c *Client) UnlockUser(ctx context.Context, realm, username string) (*User, error) {
	return c.userAction(ctx, realm, username, "unlock")
}

// Sessions lists the user's sessions.
func (c *Client) Sessions(ctx context.Context, realm, username string) ([]Session, error) {
	var out []Session
	_, err := c.call(ctx, request{method: http.MethodGet, path: userPath(username, "/sessions"), query: realmQuery(realm)}, &out)
	return out, err
}

// EndSessions ends the session handle of the user, or all of them if handle is empty.
func (c *Client) EndSessions(ctx context.Context, realm, username, handle string) error {
	p := userPath(username, "/sessions")
	if handle != "" {
		p += "/" + seg(handle)
	}
	_, err := c.call(ctx, request{method: http.MethodDelete, path: p, query: realmQuery(realm)}, nil)
	return err
}

// Devices lists the user's devices.
func (c *Client) Devices(ctx context.Context, realm, username string) ([]Device, error) {
	var out []Device
	_, err := c.call(ctx, request{method: http.MethodGet, path: userPath(username, "/devices"), query: realmQuery(realm)}, &out)
	return out, err
}

// RemoveDevice removes the user's device id.
func (c *Client) RemoveDevice(ctx context.Context, realm, username, id string) error {
	_, err := c.call(ctx, request{method: http.MethodDelete, path: userPath(username, "/devices/"+seg(id)), query: realmQuery(realm)}, nil)
	return err
}

// SetDevicePIN sets the token PIN of the user's device id.
func (c *Client) SetDevicePIN(ctx context.Context, realm, username, id, pin string) error {
	_, err := c.call(ctx, request{method: http.MethodPut, path: userPath(username, "/devices/"+seg(id)+"/pin"), query: realmQuery(realm),
		body: jsonBody(map[string]string{"pin": pin})}, nil)
	return err
}

// ClearDevicePIN removes the token PIN of the user's device id.
func (c *Client) ClearDevicePIN(ctx context.Context, realm, username, id string) error {
	_, err := c.call(ctx, request{method: http.MethodDelete, path: userPath(username, "/devices/"+seg(id)+"/pin"), query: realmQuery(realm)}, nil)
	return err
}

// RecoveryCodes makes new recovery codes for the user (the old ones stop working) and
// returns them; they are shown this once.
func (c *Client) RecoveryCodes(ctx context.Context, realm, username string) ([]string, error) {
	var out struct {
		Codes []string `json:"codes"`
	}
	_, err := c.call(ctx, request{method: http.MethodPost, path: userPath(username, "/recovery-codes"), query: realmQuery(realm)}, &out)
	return out.Codes, err
}
