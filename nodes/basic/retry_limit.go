package basic

import (
	"errors"
	"fmt"

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

func init() {
	add(func(r *nodes.Registry) {
		nodes.Register(r, nodes.Spec[RetryLimitConfig]{
			Type:    "retry_limit",
			Title:   "Retry Limit Decision",
			Summary: "Lets a flow retry a limited number of times.",
			Description: "Counts its visits. While the count is below the limit the node adds " +
				"one and goes to \"retry\"; then it goes to \"reject\". The count lives in the " +
				"flow's shared state (\"<node id>.retry_count\"), or, with save_on_user, on the " +
				"user account (attribute \"" + retryAttributePrefix + "<journey>.<node id>\"), where " +
				"\"reject\" or a successful end of the journey clears it. On \"retry\" the next step says how many attempts are " +
				"left (an error TextOutputCallback). Like AM's Retry Limit Decision.",
			Category: categoryDecision,
			Outcomes: []nodes.Outcome{{ID: "retry", Label: "Retry"}, {ID: "reject", Label: "Reject"}},
			New: func(c *RetryLimitConfig, b *nodes.Build) (nodes.Node, error) {
				return &retryLimit{limit: c.Limit, onUser: c.SaveOnUser, users: usersOf(b)}, nil
			},
		})
	})
}

type retryLimit struct {
	limit  int
	onUser bool
	users  *identity.Store
}

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
		// No such user: count in the flow, as AM does.
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
