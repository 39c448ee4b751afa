package nodes

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/store"
)

// GuardOf returns the Guard a node is built with, or nil when the Build has no Deps (a
// journey only being validated).
func GuardOf(b *Build) Guard {
	if b == nil || b.Deps == nil {
		return nil
	}
	return b.Deps.Guard
}

// CheckSecret runs check, which verifies a secret the user typed, under g's guessing
// defence, and reports the result to g. Every node that checks a secret goes through
// it, so all of them are throttled alike.
//
// When g refuses the attempt, check is not run: the refusal is audited
// (audit.ThrottleRefused), refused (if not nil) is called to spend the time a check
// would have taken, and CheckSecret reports false, so the node answers exactly as for a
// wrong secret. A nil g runs check alone (single-node tests). An error from g or from
// check is returned and the node fails closed; check reports a secret that was right
// but does not let the user in (a locked account) as true, since it was no guess.
func CheckSecret(ctx *Context, g Guard, au *audit.Logger, user string, refused func(context.Context) error, check func() (bool, error)) (bool, error) {
	return CheckSecretWith(ctx, g, au, user, refused, nil, func(bool) (bool, error) { return check() })
}

// BatchGuard is a Guard that counts an attempt in one store batch and can carry the
// caller's own reads in it, so that the read of the account whose secret is checked
// costs no round trip of its own.
type BatchGuard interface {
	Guard
	// AllowWith is Allow that also runs reads, store ops on keys of their own, in its
	// batch, and records their results in them, whatever it decides.
	AllowWith(ctx context.Context, realm, user, clientIP string, reads []store.Op) (retryAfter time.Duration, err error)
}

// CheckSecretWith is CheckSecret for a check that starts with store reads (the
// account): when g is a BatchGuard, reads run in the batch that counts the attempt and
// check is told so (ran true) and uses their results; otherwise check gets ran false
// and reads for itself.
func CheckSecretWith(ctx *Context, g Guard, au *audit.Logger, user string, refused func(context.Context) error, reads []store.Op, check func(ran bool) (bool, error)) (bool, error) {
	if g == nil {
		return check(false)
	}
	ip := ctx.Request.ClientIP
	var (
		wait time.Duration
		err  error
		ran  bool
	)
	if bg, ok := g.(BatchGuard); ok && len(reads) > 0 {
		wait, err = bg.AllowWith(ctx.Ctx, ctx.Realm, user, ip, reads)
		ran = err == nil
	} else {
		wait, err = g.Allow(ctx.Ctx, ctx.Realm, user, ip)
	}
	if err != nil {
		return false, fmt.Errorf("guessing defence: %w", err)
	}
	if wait > 0 {
		au.Emit(ctx.Ctx, audit.Event{Type: audit.ThrottleRefused, Realm: ctx.Realm, User: user, Journey: ctx.Journey,
			FlowID: ctx.FlowID, Node: ctx.NodeID, Client: ip, Reason: "too many failed attempts",
			Details: map[string]any{"retry_after_seconds": math.Ceil(wait.Seconds())}})
		if refused != nil {
			if err := refused(ctx.Ctx); err != nil {
				return false, err
			}
		}
		return false, nil
	}
	ok, err := check(ran)
	if err != nil {
		return false, err
	}
	report := g.Failed
	if ok {
		report = g.Succeeded
	}
	if err := report(ctx.Ctx, ctx.Realm, user, ip); err != nil {
		return false, fmt.Errorf("guessing defence: %w", err)
	}
	return ok, nil
}
