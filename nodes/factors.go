package nodes

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Factor names a kind of evidence a node verified during a flow. The door core reads the
// factors of a finished flow to decide the session's authentication level and records
// them on the session (they become OIDC's amr). Values follow RFC 8176 where it has one.
type Factor = string

// The factors built-in nodes record.
const (
	FactorPassword     Factor = "pwd"
	FactorPush         Factor = "push"
	FactorOTP          Factor = "otp"
	FactorRecoveryCode Factor = "recovery_code"
	// FactorPIN is a device's token PIN (the token_pin node): knowledge, like a
	// password, so a PIN and a code are two factors and a PIN and a password one.
	FactorPIN Factor = "pin"
)

// KeyFactors is the shared-state key under which a flow's verified factors are kept, in
// the order they were first verified. It is in the reserved namespace: only nodes write
// it, through AddFactor, so no journey can claim a factor nobody verified.
const KeyFactors = ReservedPrefix + "factors"

// ReservedPrefix starts the shared-state keys that only nodes write (verified factors,
// node-local state): a journey cannot write them, neither at validation (set_state,
// message's state_field) nor at run time. The door core trusts what is under it.
const ReservedPrefix = "arbor."

// KeyRemember is the one key of the reserved namespace a journey may write: set to true,
// it asks that the session cookie outlive the browser session. It claims nothing about
// the user, so a journey setting it weakens no rule.
const KeyRemember = ReservedPrefix + "remember"

// Reserved reports whether key is in the namespace only nodes write (see ReservedPrefix).
func Reserved(key string) bool {
	return strings.HasPrefix(key, ReservedPrefix) && key != KeyRemember
}

// AddFactor records that f was verified in this flow. Recording a factor twice keeps one.
func (s State) AddFactor(f Factor) {
	have := s.Factors()
	if slices.Contains(have, f) {
		return
	}
	list := make([]any, 0, len(have)+1)
	for _, h := range have {
		list = append(list, h)
	}
	s[KeyFactors] = append(list, f)
}

// Factors returns the factors verified so far in this flow, in the order they were first
// verified. It accepts the []any a JSON round trip yields as well as a []string.
func (s State) Factors() []Factor {
	switch v := s[KeyFactors].(type) {
	case []string:
		return slices.Clone(v)
	case []any:
		out := make([]Factor, 0, len(v))
		for _, x := range v {
			if f, ok := x.(string); ok && f != "" {
				out = append(out, f)
			}
		}
		return out
	}
	return nil
}

// Guard defends secrets against online guessing. Every node that checks a secret a user
// typed (password, one-time code, recovery code) asks Allow before checking and reports
// the result with Failed or Succeeded, so the same throttling holds on every door: no
// door can skip it, because no door checks a secret itself. Attempts are counted in the
// store, shared by every instance, per user, per (user, client address) and per client
// address. Unknown users are counted and answered exactly as known ones.
type Guard interface {
	// Allow reports whether an attempt at user's secret from clientIP may be checked now.
	// When it may not, retryAfter is how long until it may (always > 0) and the node
	// answers as for a wrong secret, without checking it.
	Allow(ctx context.Context, realm, user, clientIP string) (retryAfter time.Duration, err error)
	// Failed counts a wrong secret.
	Failed(ctx context.Context, realm, user, clientIP string) error
	// Succeeded clears what a right secret clears (the per-(user, address) count).
	Succeeded(ctx context.Context, realm, user, clientIP string) error
}

// EndUserSessions ends every session of user in the flow's realm because what sessions
// are earned with changed (a factor registered, an opt-out, a password changed): a
// session earned before the change must not outlive it, wherever it is in use. The
// flow's own session, if it creates one, is made when the flow succeeds, after this, so
// it survives. ender is nil only in single-node tests and offline validation, where no
// session exists; then it does nothing.
func EndUserSessions(ctx *Context, ender SessionEnder, user, reason string) error {
	if ender == nil {
		return nil
	}
	if _, err := ender.EndSessions(ctx.Ctx, ctx.Realm, user, "", reason); err != nil {
		return fmt.Errorf("end the sessions of %q after %s: %w", user, reason, err)
	}
	return nil
}
