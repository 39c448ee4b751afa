package door

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/sessions"
)

// Authentication levels (AM's AuthLevel).
const (
	// LevelNone is a session that verified no factor.
	LevelNone = 0
	// LevelOneFactor is one kind of factor (a password, or a push alone).
	LevelOneFactor = 10
	// LevelMultiFactor is two or more independent kinds of factor.
	LevelMultiFactor = 20
)

// kind groups factors that are not independent of each other.
func kind(f nodes.Factor) string {
	switch f {
	case nodes.FactorPassword, nodes.FactorPIN:
		return "knowledge"
	case nodes.FactorPush, nodes.FactorOTP:
		return "possession"
	case nodes.FactorRecoveryCode:
		return "backup"
	}
	return "other:" + f
}

// Level is the authentication level the factors reach.
func Level(factors []nodes.Factor) int {
	var kinds []string
	for _, f := range factors {
		if k := kind(f); !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	switch {
	case len(kinds) == 0:
		return LevelNone
	case len(kinds) == 1:
		return LevelOneFactor
	}
	return LevelMultiFactor
}

// RequiredLevel is the level a full session of user needs: LevelMultiFactor when the
// user has a second factor enrolled, else LevelNone (what a journey verifies for a user
// without one is the journey author's decision; the core only stops a second factor
// from being bypassed).
func (c *Core) RequiredLevel(ctx context.Context, realm, user string) (int, error) {
	f, err := c.enrolled(ctx, realm, user)
	if err != nil {
		return 0, err
	}
	return requiredLevel(f), nil
}

func requiredLevel(enrolled []string) int {
	if len(enrolled) > 0 {
		return LevelMultiFactor
	}
	return LevelNone
}

// enrolled returns the kinds of second factor user has enrolled ("push", "otp").
func (c *Core) enrolled(ctx context.Context, realm, user string) ([]string, error) {
	if c.d.Enrollments == nil {
		return nil, nil
	}
	f, err := c.d.Enrollments.SecondFactors(ctx, realm, user)
	if err != nil {
		return nil, fmt.Errorf("enrolled factors of %s: %w", TruncateUser(user), err)
	}
	return f, nil
}

// StepUpJourney is the journey that renews user's session in realm at the level the
// account's factors demand: the realm's step-up journey, or its OTP one for a user
// whose only second factor is an authenticator app.
func (c *Core) StepUpJourney(ctx context.Context, realm, user string) (string, error) {
	f, err := c.enrolled(ctx, realm, user)
	if err != nil {
		return "", err
	}
	return c.stepUpJourney(realm, f), nil
}

func (c *Core) stepUpJourney(realm string, enrolled []string) string {
	p := c.Policy(realm)
	if slices.Contains(enrolled, nodes.FactorOTP) && !slices.Contains(enrolled, nodes.FactorPush) {
		return p.OTPStepUpJourney
	}
	return p.StepUpJourney
}

// Need is what a sensitive action needs of a session.
type Need int

// The needs Authorize checks.
const (
	// NeedManageFactors is removing a device, new recovery codes, opting out.
	NeedManageFactors Need = iota + 1
	// NeedAdmin is an admin page or API.
	NeedAdmin
)

// AdminRole is the value of the roles attribute that makes a user an admin.
const AdminRole = "admin"

// RolesAttribute is the identity attribute holding a user's roles.
const RolesAttribute = "roles"

// StepUpError says the session must be renewed through Journey (in Realm) first.
type StepUpError struct {
	Realm, Journey string
	// Level is the level the action needs.
	Level int
	// Reason says why in a sentence.
	Reason string
}

// Error describes the need.
func (e *StepUpError) Error() string {
	return fmt.Sprintf("step-up through %q needed: %s", e.Journey, e.Reason)
}

// ErrForbidden reports a session that may never do the action (not an admin).
var ErrForbidden = errors.New("not allowed")

// Authorize decides whether sess may do an action needing n: nil, a *StepUpError (go
// through the realm's step-up journey and come back), or ErrForbidden. The session must
// come from Validate, which checked the account is active.
func (c *Core) Authorize(ctx context.Context, sess *sessions.Session, n Need) error {
	if n == NeedAdmin {
		u, err := c.d.Users.Get(ctx, sess.Realm, sess.Username)
		if errors.Is(err, identity.ErrNotFound) {
			return ErrForbidden
		}
		if err != nil {
			return fmt.Errorf("authorize: %w", err)
		}
		if !HasRole(u.Attributes[RolesAttribute], AdminRole) {
			return ErrForbidden
		}
	}
	enrolled, err := c.enrolled(ctx, sess.Realm, sess.Username)
	if err != nil {
		return err
	}
	need := requiredLevel(enrolled)
	stepUp := func(reason string) error {
		return &StepUpError{Realm: sess.Realm, Journey: c.stepUpJourney(sess.Realm, enrolled), Level: need, Reason: reason}
	}
	switch {
	case sess.Restricted:
		return stepUp("this session was granted without the account's second factor")
	case sess.Level < need:
		return stepUp(fmt.Sprintf("this session is at level %d and the account needs %d", sess.Level, need))
	case n == NeedManageFactors && !c.fresh(sess):
		return stepUp("the sign-in is older than " + c.cfg.FreshFor.String())
	}
	return nil
}

// FreshFor is how recent a sign-in must be for managing factors.
func (c *Core) FreshFor() time.Duration { return c.cfg.FreshFor }

// fresh reports whether the session's login is recent enough for a sensitive action.
// Every login creates a new session, so its creation time is the login time.
func (c *Core) fresh(sess *sessions.Session) bool {
	age := c.d.Now().Sub(sess.Created)
	return age >= -time.Minute && age <= c.cfg.FreshFor
}

// HasRole reports whether roles, the value of a user's roles attribute, contains role.
// It reads the attribute as AttributeList does.
func HasRole(roles any, role string) bool {
	return slices.Contains(AttributeList(roles), role)
}

// AttributeList reads a user attribute that holds several values (roles, groups): a
// list of strings (as JSON decodes it, []any, or []string) or a single comma-separated
// string. Entries are trimmed of spaces; empty ones and non-strings are left out.
func AttributeList(v any) []string {
	var list []string
	switch r := v.(type) {
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
	out := make([]string, 0, len(list))
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// TruncateUser shortens a user name for logs (audit.TruncateUser, the one helper).
func TruncateUser(u string) string { return audit.TruncateUser(u) }

func (c *Core) emit(ctx context.Context, e audit.Event) {
	c.d.Audit.Emit(ctx, e)
}
