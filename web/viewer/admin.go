package viewer

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/keys"
	"github.com/arbor-auth/arbor/sessions"
)

// AdminRole is the value of the "roles" attribute that makes a user an admin.
const AdminRole = "admin"

// AdminRealm is the only realm whose users can be admins. Journeys are shared by every
// realm, so a role granted inside a sub-realm (whose users may be imported or managed by
// someone else) must not reach them; this mirrors AM, where only the top-level realm's
// administrators manage the whole server.
const AdminRealm = "/"

// RolesAttribute is the identity attribute holding a user's roles: a JSON list of
// strings, or one comma-separated string.
const RolesAttribute = "roles"

// access is what the gate decided about a request.
type access int

const (
	anonymous access = iota // no valid session: send to the login page
	forbidden               // signed in, but not an admin
	admin
)

// principal is the signed-in admin a request is served for.
type principal struct {
	Username string
	// Handle is the session handle, which CSRF tokens are bound to.
	Handle string
}

// authorize decides whether the session token belongs to an admin. It reads the user
// afresh on every request, so taking the role away or locking the account takes effect
// at once rather than at the session's end.
func authorize(ctx context.Context, sm *sessions.Manager, users *identity.Store, token string) (access, *principal, error) {
	if token == "" {
		return anonymous, nil, nil
	}
	s, err := sm.Validate(ctx, token)
	if errors.Is(err, sessions.ErrInvalid) {
		return anonymous, nil, nil
	}
	if err != nil {
		return anonymous, nil, fmt.Errorf("check session: %w", err)
	}
	ok, err := IsAdmin(ctx, users, s.Realm, s.Username)
	if err != nil {
		return anonymous, nil, fmt.Errorf("session %s: %w", s.Handle, err)
	}
	if !ok {
		return forbidden, nil, nil
	}
	return admin, &principal{Username: s.Username, Handle: s.Handle}, nil
}

// IsAdmin reports whether username of realm may use the journey viewer: an active user
// of AdminRealm with AdminRole in its roles. Other pages use it to show the viewer's
// link only to those it would let in.
func IsAdmin(ctx context.Context, users *identity.Store, realm, username string) (bool, error) {
	if realm != AdminRealm || users == nil {
		return false, nil
	}
	u, err := users.Get(ctx, realm, username)
	if errors.Is(err, identity.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("load user %s: %w", username, err)
	}
	return u.Status == identity.StatusActive && HasRole(u.Attributes[RolesAttribute], AdminRole), nil
}

// HasRole reports whether roles, the value of a user's roles attribute, contains role.
// It accepts a list of strings (as JSON decodes it, []any, or []string) or a single
// comma-separated string; entries are compared exactly after trimming spaces.
func HasRole(roles any, role string) bool {
	var list []string
	switch r := roles.(type) {
	case string:
		list = strings.Split(r, ",")
	case []string:
		list = r
	case []any:
		for _, e := range r {
			if s, ok := e.(string); ok {
				list = append(list, s)
			}
		}
	}
	for _, s := range list {
		if strings.TrimSpace(s) == role {
			return true
		}
	}
	return false
}

// csrfLabel separates the viewer's CSRF tokens from any other use of the CSRF key.
const csrfLabel = "arbor journey viewer\x00"

// csrfToken returns the CSRF token for a session: an HMAC of its handle under the
// CSRF purpose key. It needs no storage, dies with the session, and a token stolen from
// one session is useless in another.
func csrfToken(ring *keys.Ring, handle string) string {
	return base64.RawURLEncoding.EncodeToString(ring.MAC(keys.PurposeCSRF, []byte(csrfLabel+handle)))
}

// csrfValid compares a presented token with the session's in constant time.
func csrfValid(ring *keys.Ring, handle, presented string) bool {
	want := csrfToken(ring, handle)
	return presented != "" && subtle.ConstantTimeCompare([]byte(want), []byte(presented)) == 1
}
