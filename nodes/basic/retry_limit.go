package basic

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/store"
)

// RetryLimitConfig configures the retry limit decision.
type RetryLimitConfig struct {
	// Limit is how many times the flow may go to "retry".
	Limit int `json:"retry_limit" default:"3" min:"1" doc:"How many times the flow may go to \"retry\" before it goes to \"reject\"."`
	// SaveOnUser keeps the count on the user account across journeys.
	SaveOnUser bool `json:"save_on_user" default:"false" doc:"Save the count on the user, so it survives the journey. Without a known user the count is kept in the flow."`
}

// retryAttributePrefix starts the user attribute holding a saved count; the journey
// name and node id follow, so every retry limit node counts on its own.
const retryAttributePrefix = "retry_limit_count."

// registerRetryLimit adds the retry_limit node type to r.
func registerRetryLimit(r *nodes.Registry) {
	nodes.Register(r, nodes.Spec[RetryLimitConfig]{
		Type:    "retry_limit",
		Title:   "Retry Limit Decision",
		Summary: "Lets a flow retry a limited number of times.",
		Description: "Counts its visits. While the count is below the limit the node adds " +
			"one and goes to \"retry\"; then it goes to \"reject\". The count lives in the " +
			"flow's shared state (\"<node id>.retry_count\"), or, with save_on_user, on the " +
			"user account (attribute \"" + retryAttributePrefix + "<journey>.<node id>\"), where " +
			"\"reject\" or a successful end of the journey clears it. A username with no account is counted " +
			"the same way (in the store, for 30 days), so the count does not tell which names have accounts. " +
			"On \"retry\" the next step says how many attempts are left (an error TextOutputCallback). " +
			"Like AM's Retry Limit Decision.",
		Category: categoryDecision,
		Outcomes: []nodes.Outcome{{ID: "retry", Label: "Retry"}, {ID: "reject", Label: "Reject"}},
		New: func(c *RetryLimitConfig, b *nodes.Build) (nodes.Node, error) {
			return &retryLimit{limit: c.Limit, onUser: c.SaveOnUser, users: usersOf(b), store: storeOf(b)}, nil
		},
	})
}

type retryLimit struct {
	limit  int
	onUser bool
	users  *identity.Store
	store  store.Store
}

// unknownCountTTL is how long the count of a username that has no account is kept.
// Such counts live in the store, not on an account, and anyone can make them for any
// name, so they are forgotten after a while; a month is far longer than anyone could
// wait to see a difference from an account's count, which is kept until reject or
// success.
const unknownCountTTL = 30 * 24 * time.Hour

// Process runs the node for one visit of a flow (nodes.Node).
func (n *retryLimit) Process(ctx *nodes.Context) (nodes.Action, error) {
	key := ctx.LocalKey("retry_count")
	if n.onUser && ctx.Username() != "" {
		if n.users == nil {
			return nodes.Action{}, errNoUsers("retry_limit")
		}
		outcome, count, err := n.countOnUser(ctx)
		switch {
		case err == nil:
			if outcome == "retry" {
				// Kept in the flow too, as AM does, so later nodes can read it.
				ctx.Shared[key] = count
				return n.retry(count), nil
			}
			return nodes.Goto(outcome), nil
		case !errors.Is(err, identity.ErrNotFound):
			return nodes.Action{}, err
		}
		// No such user. AM counts in the flow then, which tells an attacker which names
		// have accounts (their counts survive a new journey); an unknown name's count is
		// kept in the store instead and behaves exactly like an account's.
		outcome, count, err = n.countUnknown(ctx)
		if err != nil {
			return nodes.Action{}, err
		}
		if outcome == "retry" {
			ctx.Shared[key] = count
			return n.retry(count), nil // the same message as an account's
		}
		return nodes.Goto(outcome), nil
	}
	c, _ := ctx.Shared.Int(key)
	if c < n.limit {
		ctx.Shared[key] = c + 1
		return n.retry(c + 1), nil
	}
	return nodes.Goto("reject"), nil
}

// retry goes to "retry" telling the user how many tries remain: the limit counts
// retries, so after the count-th retry there are limit-count+1 tries left.
func (n *retryLimit) retry(count int) nodes.Action {
	left := n.limit - count + 1
	msg := fmt.Sprintf("%d attempts left.", left)
	if left == 1 {
		msg = "1 attempt left."
	}
	return nodes.Action{Outcome: "retry", StepError: msg}
}

// Complete clears the count saved on the user when the journey succeeds, as AM's
// Retry Limit Decision does, so earlier failures do not shorten the user's next login.
func (n *retryLimit) Complete(ctx *nodes.Context, success bool) error {
	if !success || !n.onUser || n.users == nil || ctx.Username() == "" {
		return nil
	}
	attr := retryAttributePrefix + ctx.Journey + "." + ctx.NodeID
	// One read when nothing is saved (the usual case), one read and one write otherwise.
	_, err := n.users.Update(ctx.Ctx, ctx.Realm, ctx.Username(), func(u *identity.User) error {
		if _, saved := u.Attributes[attr]; !saved {
			return store.ErrNoChange
		}
		delete(u.Attributes, attr)
		return nil
	})
	if errors.Is(err, identity.ErrNotFound) {
		return nil
	}
	return err
}

// countUnknown counts like countOnUser for a username that has no account, in a store
// counter named after the realm, a hash of the folded username, the journey and the
// node. Incr keeps concurrent flows from both taking the last retry, as the account's
// update does.
func (n *retryLimit) countUnknown(ctx *nodes.Context) (outcome string, count int, err error) {
	if n.store == nil {
		return "", 0, fmt.Errorf("retry_limit: no store configured")
	}
	sum := sha256.Sum256([]byte(strings.ToLower(ctx.Username())))
	key := "retry_limit:{" + ctx.Realm + "}:" + hex.EncodeToString(sum[:16]) + ":" + ctx.Journey + "." + ctx.NodeID
	c, err := n.store.Incr(ctx.Ctx, key, 1, unknownCountTTL)
	if err != nil {
		return "", 0, fmt.Errorf("retry_limit: count: %w", err)
	}
	if c <= int64(n.limit) {
		return "retry", int(c), nil
	}
	// Reject clears the count, as on an account; Delete does not reach counters.
	if _, err := n.store.Incr(ctx.Ctx, key, -c, unknownCountTTL); err != nil {
		return "", 0, fmt.Errorf("retry_limit: clear the count: %w", err)
	}
	return "reject", int(c - 1), nil
}

// countOnUser reads, bumps or clears the count on the user in one atomic update, so two
// concurrent flows of one user cannot both take the last retry.
func (n *retryLimit) countOnUser(ctx *nodes.Context) (outcome string, count int, err error) {
	attr := retryAttributePrefix + ctx.Journey + "." + ctx.NodeID
	_, err = n.users.Update(ctx.Ctx, ctx.Realm, ctx.Username(), func(u *identity.User) error {
		// The update may be retried on a conflict, so derive everything afresh each time.
		c, _ := number(u.Attributes[attr])
		if c < n.limit {
			if u.Attributes == nil {
				u.Attributes = map[string]any{}
			}
			u.Attributes[attr] = c + 1
			outcome, count = "retry", c+1
			return nil
		}
		delete(u.Attributes, attr)
		outcome, count = "reject", c
		return nil
	})
	return outcome, count, err
}
