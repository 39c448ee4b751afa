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

// DeferringGuard is a BatchGuard whose record of a right secret can ride in a write the
// caller makes anyway (the flow's, see WriteBehind) instead of costing Succeeded's
// round trip.
type DeferringGuard interface {
	BatchGuard
	// AllowDeferred is AllowWith that, for an attempt it allows, also returns the writes
	// that record its success, for the caller to send in place of calling Succeeded.
	// They read nothing and must be right whenever they land, whether the write they
	// ride in wins or not (a right secret is right either way), and if they never land
	// the attempt must stay counted as a failure would, which errs on the safe side.
	AllowDeferred(ctx context.Context, realm, user, clientIP string, reads []store.Op) (record []store.Op, retryAfter time.Duration, err error)
}

// CheckSecretWith is CheckSecret for a check that starts with store reads (the
// account): when g is a BatchGuard, reads run in the batch that counts the attempt and
// check is told so (ran true) and uses their results; otherwise check gets ran false
// and reads for itself.
//
// Two things ride along when the walk provides for them. The door's ReadAhead of the
// user runs in the same batch. And when g is a DeferringGuard, a right secret's record
// goes to ctx.WriteBehind, to be written with the flow's save or its end, so that a
// right secret costs the check's batch alone; outside a walk (no WriteBehind) Succeeded
// writes it at once. The record clears the (user, address) pair with store.OpZero, so
// it is right whenever it lands: the blind subtraction it replaces refused 10 to 40 %
// of concurrent logins of one user from one address (README, Speed, "third round" and
// "fourth round"). Writes a previous check of the request left behind are written
// first, so that this check counts from what they leave.
func CheckSecretWith(ctx *Context, g Guard, au *audit.Logger, user string, refused func(context.Context) error, reads []store.Op, check func(ran bool) (bool, error)) (bool, error) {
	if g == nil {
		return check(false)
	}
	ip := ctx.Request.ClientIP
	if err := ctx.WriteBehind.Flush(ctx.Ctx); err != nil {
		return false, fmt.Errorf("guessing defence: %w", err)
	}
	var (
		wait   time.Duration
		err    error
		ran    bool
		record []store.Op
	)
	bg, batching := g.(BatchGuard)
	dg, deferring := g.(DeferringGuard)
	deferring = deferring && ctx.WriteBehind != nil
	all := ctx.ReadAhead.batch(ctx.Realm, user, reads)
	switch {
	case deferring:
		record, wait, err = dg.AllowDeferred(ctx.Ctx, ctx.Realm, user, ip, all)
	case batching && len(all) > 0:
		wait, err = bg.AllowWith(ctx.Ctx, ctx.Realm, user, ip, all)
	default:
		batching = false
		wait, err = g.Allow(ctx.Ctx, ctx.Realm, user, ip)
	}
	if batching && err == nil {
		copy(reads, all)
		ran = len(reads) > 0
		ctx.ReadAhead.record(all)
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
	if ok && deferring {
		ctx.WriteBehind.Defer(record)
		return true, nil
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
