package basic

import (
	"errors"
	"fmt"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/nodes"
)

// AccountLockoutConfig configures the account lockout node.
type AccountLockoutConfig struct {
	// Action is what to do to the account.
	Action string `json:"lock_action" default:"lock" enum:"lock|unlock" doc:"\"lock\" locks the flow's user out (no password login succeeds until unlocked) and ends all their sessions; \"unlock\" makes a locked account active again (a disabled one stays disabled)."`
}

// registerAccountLockout adds the account_lockout node type to r.
func registerAccountLockout(r *nodes.Registry) {
	nodes.Register(r, nodes.Spec[AccountLockoutConfig]{
		Type:    "account_lockout",
		Title:   "Account Lockout",
		Summary: "Locks or unlocks the flow's user account.",
		Description: "Sets the status of the account named by shared \"username\" to locked " +
			"or active, then continues. Locking ends all the user's sessions at once and " +
			"is audited; unlocking leaves an account an administrator disabled as it is. A flow with no user name, or " +
			"with a user that does not exist, fails. Typically placed after a retry " +
			"limit's \"reject\". Like AM's Account Lockout.",
		Category: categoryUtility,
		Outcomes: singleOutcome,
		New: func(c *AccountLockoutConfig, b *nodes.Build) (nodes.Node, error) {
			return &accountLockout{lock: c.Action == "lock", users: usersOf(b), audit: auditOf(b), sessions: sessionsOf(b)}, nil
		},
	})
}

type accountLockout struct {
	lock     bool
	users    *identity.Store
	audit    *audit.Logger
	sessions nodes.SessionEnder
}

// Process runs the node for one visit of a flow (nodes.Node).
func (n *accountLockout) Process(ctx *nodes.Context) (nodes.Action, error) {
	if n.users == nil {
		return nodes.Action{}, errNoUsers("account_lockout")
	}
	name := ctx.Username()
	if name == "" {
		return nodes.Action{}, errors.New("account_lockout: no username in the flow")
	}
	if !n.lock {
		if _, err := n.users.Unlock(ctx.Ctx, ctx.Realm, name); err != nil {
			return nodes.Action{}, fmt.Errorf("account_lockout: %w", err)
		}
		return nodes.Goto("outcome"), nil
	}
	if err := n.users.SetStatus(ctx.Ctx, ctx.Realm, name, identity.StatusLocked); err != nil {
		return nodes.Action{}, fmt.Errorf("account_lockout: %w", err)
	}
	n.audit.Emit(ctx.Ctx, audit.Event{
		Time: ctx.Now, Type: audit.AccountLocked, Realm: ctx.Realm, User: name,
		Journey: ctx.Journey, FlowID: ctx.FlowID, Node: ctx.NodeID, Client: ctx.Request.ClientIP,
		Reason: "account_lockout node",
	})
	// At once, not on each session's next validation: a session in use elsewhere must
	// not outlive the lock by a single request.
	if n.sessions != nil {
		if _, err := n.sessions.EndSessions(ctx.Ctx, ctx.Realm, name, "", "account locked"); err != nil {
			return nodes.Action{}, fmt.Errorf("account_lockout: %w", err)
		}
	}
	return nodes.Goto("outcome"), nil
}
