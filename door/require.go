package door

import (
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
	// Journey is the journey that earns such a session; empty is the realm's step-up
	// journey.
	Journey string
}

// Require checks a valid session (from Validate) against r: nil when it meets r, else a
// *StepUpError naming the journey to go through (r.Journey, or the realm's step-up
// journey) and saying what is missing. A restricted session counts at the level it
// reached, which is below its account's.
func (c *Core) Require(sess *sessions.Session, r Requirement) error {
	var missing []string
	for _, f := range r.Factors {
		if !slices.Contains(sess.Factors, f) {
			missing = append(missing, f)
		}
	}
	if sess.Level >= r.Level && len(missing) == 0 {
		return nil
	}
	journey := r.Journey
	if journey == "" {
		journey = c.Policy(sess.Realm).StepUpJourney
	}
	reason := fmt.Sprintf("this session is at level %d and %d is needed", sess.Level, r.Level)
	if len(missing) > 0 {
		reason = "this session has not verified " + strings.Join(missing, ", ")
	}
	return &StepUpError{Realm: sess.Realm, Journey: journey, Level: r.Level, Reason: reason}
}
