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
	"github.com/arbor-auth/arbor/store"
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
	return c.requiredLevelAhead(ctx, nil, realm, user)
}

// EnrollmentsReader is Enrollments that can hand its read to a batch of someone else's
// and decide from its result, as devices.Registry does: the door core then reads a
// user's second factors in the batch of the guessing defence that checks the user's
// password (nodes.ReadAhead), which costs a login no round trip of its own.
type EnrollmentsReader interface {
	Enrollments
	// FactorsRead returns the read SecondFactors starts with, false for a user that
	// cannot have factors.
	FactorsRead(realm, user string) (store.Op, bool)
	// SecondFactorsRead is SecondFactors from read, a FactorsRead of the same user
	// already run.
	SecondFactorsRead(ctx context.Context, realm, user string, read *store.Op) ([]string, error)
}

// readAhead makes ra the read-ahead of a step whose success hook decides the required
// level and returns it, or returns nil when the enrollments cannot be read ahead. A
// new one serves each request (ra is the request's own: login.ahead), so the level is
// always decided on a value read in that request.
func (c *Core) readAhead(ra *nodes.ReadAhead) *nodes.ReadAhead {
	if c.factorsRead == nil {
		return nil
	}
	*ra = nodes.ReadAhead{Read: c.factorsRead}
	return ra
}

// requiredLevelAhead is RequiredLevel deciding from ra's read of the user's factors
// when this request made one (a password was checked); otherwise it reads them.
//
// A node of the same walk that changed the factors after the read would make it stale:
// the only ones that do add a device the flow has just verified (OATH registration
// records the OTP factor), which the session's level counts either way, and push
// devices are added by the authenticator's own request, never in a walk.
func (c *Core) requiredLevelAhead(ctx context.Context, ra *nodes.ReadAhead, realm, user string) (int, error) {
	f, err := c.enrolledAhead(ctx, ra, realm, user)
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
	return c.enrolledAhead(ctx, nil, realm, user)
}

// enrolledAhead is enrolled from ra's read of the user's record, if this request made
// one (nil ra: none).
func (c *Core) enrolledAhead(ctx context.Context, ra *nodes.ReadAhead, realm, user string) ([]string, error) {
	if c.d.Enrollments == nil {
		return nil, nil
	}
	var (
		f   []string
		err error
	)
	if read, r, ok := aheadOf(c.d.Enrollments, ra, realm, user); ok {
		f, err = r.SecondFactorsRead(ctx, realm, user, &read)
	} else {
		f, err = c.d.Enrollments.SecondFactors(ctx, realm, user)
	}
	if err != nil {
		return nil, fmt.Errorf("enrolled factors of %s: %w", TruncateUser(user), err)
	}
	return f, nil
}

// aheadOf returns ra's read of user's factors, made in this request, and the reader
// that decides from it; false when none was made.
func aheadOf(e Enrollments, ra *nodes.ReadAhead, realm, user string) (store.Op, EnrollmentsReader, bool) {
	r, ok := e.(EnrollmentsReader)
	if !ok || ra == nil {
		return store.Op{}, nil, false
	}
	want, ok := r.FactorsRead(realm, user)
	if !ok {
		return store.Op{}, nil, false
	}
	read, ok := ra.Result(want.Key)
	return read, r, ok
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
	var u *identity.User
	if n == NeedAdmin {
		var err error
		u, err = c.d.Users.Get(ctx, sess.Realm, sess.Username)
		if errors.Is(err, identity.ErrNotFound) {
			return ErrForbidden
		}
		if err != nil {
			return fmt.Errorf("authorize: %w", err)
		}
	}
	return c.AuthorizeUser(ctx, sess, u, n)
}

// AuthorizeUser is Authorize for a caller that already holds the session's account, as
// ValidateUser and RefreshUser return it, so that a page checking the admin role reads
// the account once. u must be sess's account; a nil u is no admin.
func (c *Core) AuthorizeUser(ctx context.Context, sess *sessions.Session, u *identity.User, n Need) error {
	if n == NeedAdmin && (u == nil || !HasRole(u.Attributes[RolesAttribute], AdminRole)) {
		return ErrForbidden
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
