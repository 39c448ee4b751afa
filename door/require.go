package door

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/sessions"
)

// Requirement is what a protected resource asks of a session beyond being valid: an
// authentication level, and factors that must have been verified (a path behind
// forward-auth that needs push, say).
type Requirement struct {
	// Level is the least authentication level (LevelOneFactor, LevelMultiFactor).
	Level int
	// Factors must all be among the session's verified factors.
	Factors []nodes.Factor
	// Journey is the journey that earns such a session; empty lets RequirementJourney
	// choose.
	Journey string
}

// Require checks a valid session (from Validate) against r: nil when it meets r, else a
// *StepUpError naming the journey to go through (RequirementJourney) and saying what is
// missing. A restricted session counts at the level it reached, which is below its
// account's.
func (c *Core) Require(ctx context.Context, sess *sessions.Session, r Requirement) error {
	var missing []string
	for _, f := range r.Factors {
		if !slices.Contains(sess.Factors, f) {
			missing = append(missing, f)
		}
	}
	if sess.Level >= r.Level && len(missing) == 0 {
		return nil
	}
	journey, err := c.RequirementJourney(ctx, sess.Realm, sess.Username, r)
	if err != nil {
		return err
	}
	reason := fmt.Sprintf("this session is at level %d and %d is needed", sess.Level, r.Level)
	if len(missing) > 0 {
		reason = "this session has not verified " + strings.Join(missing, ", ")
	}
	return &StepUpError{Realm: sess.Realm, Journey: journey, Level: r.Level, Reason: reason}
}

// RequirementJourney is the journey that meets r in realm: r.Journey; else, when r names
// push, the realm's step-up journey, and when it names otp (and not push) its OTP one;
// else user's step-up journey (StepUpJourney), or the realm's when the user is not
// known yet ("").
func (c *Core) RequirementJourney(ctx context.Context, realm, user string, r Requirement) (string, error) {
	p := c.Policy(realm)
	switch {
	case r.Journey != "":
		return r.Journey, nil
	case slices.Contains(r.Factors, nodes.FactorPush):
		return p.StepUpJourney, nil
	case slices.Contains(r.Factors, nodes.FactorOTP):
		return p.OTPStepUpJourney, nil
	case user == "":
		return p.StepUpJourney, nil
	}
	return c.StepUpJourney(ctx, realm, user)
}
