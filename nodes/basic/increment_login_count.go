package basic

import (
	"errors"
	"fmt"
	"time"

	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/nodes"
)

// IncrementLoginCountConfig configures the increment login count node.
type IncrementLoginCountConfig struct {
	// CountAttribute is the user attribute that counts logins.
	CountAttribute string `json:"count_attribute" default:"loginCount" pattern:"^[A-Za-z][A-Za-z0-9_]*$" doc:"User attribute that counts the user's logins; it is created at 1."`
	// TimeAttribute is the user attribute that records the last login.
	TimeAttribute string `json:"time_attribute" default:"lastLogin" pattern:"^[A-Za-z][A-Za-z0-9_]*$" doc:"User attribute set to the time of this login (RFC 3339, UTC)."`
}

// registerIncrementLoginCount adds the increment_login_count node type to r.
func registerIncrementLoginCount(r *nodes.Registry) {
	nodes.Register(r, nodes.Spec[IncrementLoginCountConfig]{
		Type:    "increment_login_count",
		Title:   "Increment Login Count",
		Summary: "Counts the user's logins and records the time of the last one.",
		Description: "Adds one to the login count of the account named by shared \"username\" " +
			"and sets its last login time, in one atomic update, then continues. A flow " +
			"with no user name, or with a user that does not exist, fails; a store outage " +
			"leaves the step to be retried. Place it after the checks that identify the " +
			"user. Like AM's Increment Login Count.",
		Category: categoryUtility,
		Outcomes: singleOutcome,
		New: func(c *IncrementLoginCountConfig, b *nodes.Build) (nodes.Node, error) {
			return &incrementLoginCount{cfg: *c, users: usersOf(b)}, nil
		},
	})
}

type incrementLoginCount struct {
	cfg   IncrementLoginCountConfig
	users *identity.Store
}

// Process runs the node for one visit of a flow (nodes.Node).
func (n *incrementLoginCount) Process(ctx *nodes.Context) (nodes.Action, error) {
	if n.users == nil {
		return nodes.Action{}, errNoUsers("increment_login_count")
	}
	name := ctx.Username()
	if name == "" {
		return nodes.Action{}, errors.New("increment_login_count: no username in the flow")
	}
	_, err := n.users.Update(ctx.Ctx, ctx.Realm, name, func(u *identity.User) error {
		if u.Attributes == nil {
			u.Attributes = map[string]any{}
		}
		count, _ := number(u.Attributes[n.cfg.CountAttribute])
		u.Attributes[n.cfg.CountAttribute] = count + 1
		u.Attributes[n.cfg.TimeAttribute] = ctx.Now.UTC().Format(time.RFC3339)
		return nil
	})
	if err != nil {
		return nodes.Action{}, fmt.Errorf("increment_login_count: %w", err)
	}
	return nodes.Goto("outcome"), nil
}
