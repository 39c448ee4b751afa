package viewer

import (
	"crypto/sha256"
	"encoding/base64"

	"github.com/arbor-auth/arbor/door"
	"github.com/arbor-auth/arbor/keys"
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
	stepUp                  // an admin, below the level the account demands
	admin
)

// principal is the signed-in admin a request is served for.
type principal struct {
	Username string
	// Handle is the session handle, which CSRF tokens are bound to.
	Handle string
	// StepUp is the journey to go through first (access stepUp).
	StepUp string
}

// HasRole reports whether roles, the value of a user's roles attribute, contains role
// (door.HasRole: a list of strings, or one comma-separated string).
func HasRole(roles any, role string) bool { return door.HasRole(roles, role) }

// csrfLabel separates the viewer's CSRF tokens from any other use of the CSRF key.
const csrfLabel = "arbor journey viewer"

// csrfToken returns the CSRF token for a session: an HMAC of its handle under the
// CSRF purpose key. It needs no storage, dies with the session, and a token stolen from
// one session is useless in another.
func csrfToken(ring *keys.Ring, handle string) string {
	return base64.RawURLEncoding.EncodeToString(ring.Signer(keys.PurposeCSRF).Sum(csrfLabel, handle))
}

// csrfValid compares a presented token with the session's in constant time.
func csrfValid(ring *keys.Ring, handle, presented string) bool {
	tag, err := base64.RawURLEncoding.DecodeString(presented)
	return err == nil && len(tag) == sha256.Size && ring.Signer(keys.PurposeCSRF).Verify(tag, csrfLabel, handle)
}
