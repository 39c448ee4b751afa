package basic

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/nodes"
)

// StagePasswordChange is the stage of password_change's step, so that a door can tell
// it from a login's password step (the FortiGate-style door answers 4).
const StagePasswordChange = "PasswordChange"

// maxNewPassword bounds a new password: hashing cost grows with it, and nobody types more.
const maxNewPassword = 256

// PasswordChangeConfig configures the password_change node.
type PasswordChangeConfig struct {
	// RequiredOnly asks only users whose account says must_change_password.
	RequiredOnly bool `json:"required_only" default:"true" doc:"Ask only users whose account is flagged must_change_password (an administrator's reset); the others take \"not_required\" at once. False asks everyone (a password change journey)."`
	// MinLength is the shortest new password accepted, in characters.
	MinLength int `json:"min_length" default:"8" min:"1" max:"256" doc:"The shortest new password accepted, in characters."`
	// Prompt and Confirm label the two inputs, by locale.
	Prompt  map[string]string `json:"prompt" default:"{\"en\":\"New password\"}" doc:"Label of the first new-password input, by locale."`
	Confirm map[string]string `json:"confirm" default:"{\"en\":\"Confirm new password\"}" doc:"Label of the second new-password input, by locale."`
	// Header is shown above the step, by locale.
	Header map[string]string `json:"header" default:"{\"en\":\"Change your password\"}" doc:"Header of the step, by locale."`
}

func (c *PasswordChangeConfig) outcomes() []nodes.Outcome {
	if c.RequiredOnly {
		return []nodes.Outcome{{ID: "changed", Label: "Changed"}, {ID: "not_required", Label: "Not required"}}
	}
	return []nodes.Outcome{{ID: "changed", Label: "Changed"}}
}

func registerPasswordChange(r *nodes.Registry) {
	nodes.Register(r, nodes.Spec[PasswordChangeConfig]{
		Type:    "password_change",
		Title:   "Password Change",
		Summary: "Asks for a new password twice and makes it the user's password.",
		Description: "For the flow's user (identified before it). With required_only (the " +
			"default) it asks only when the account is flagged must_change_password and " +
			"otherwise goes to \"not_required\". Sends two PasswordCallbacks on a step whose " +
			"stage is " + StagePasswordChange + "; the new password must be typed the same " +
			"twice, be at least min_length characters (at most 256), not be the user name " +
			"and not be the current password, or the step is asked again with the reason. " +
			"Then it stores the new hash, clears the flag, ends every other session of the " +
			"user and goes to \"changed\". Audited as password.changed (password.refused " +
			"with the rule broken). A store outage fails the flow.",
		Category:    categoryUtility,
		Input:       true,
		OutcomesFor: (*PasswordChangeConfig).outcomes,
		New: func(c *PasswordChangeConfig, b *nodes.Build) (nodes.Node, error) {
			return &passwordChange{cfg: *c, users: usersOf(b), audit: auditOf(b), sessions: sessionsOf(b)}, nil
		},
	})
}

type passwordChange struct {
	cfg      PasswordChangeConfig
	users    *identity.Store
	audit    *audit.Logger
	sessions nodes.SessionEnder
}

// Why a new password is refused: the user reads these, and password.refused events
// carry them as the reason.
const (
	msgPasswordMismatch = "The two new passwords are not the same."
	msgPasswordShort    = "The new password must have at least %d characters."
	msgPasswordLong     = "The new password must have at most %d characters."
	msgPasswordIsName   = "The new password must not be your user name."
	msgPasswordSame     = "The new password must not be your current password."
)

// Process runs the node for one visit of a flow (nodes.Node).
func (n *passwordChange) Process(ctx *nodes.Context) (nodes.Action, error) {
	if n.users == nil {
		return nodes.Action{}, errNoUsers("password_change")
	}
	user := ctx.Username()
	if user == "" {
		return nodes.Action{}, errors.New("password_change: the flow has not identified a user")
	}
	if n.cfg.RequiredOnly && ctx.Callbacks == nil {
		u, err := n.users.Get(ctx.Ctx, ctx.Realm, user)
		if err != nil {
			return nodes.Action{}, fmt.Errorf("password_change: %w", err)
		}
		if !u.MustChangePassword {
			return nodes.Goto("not_required"), nil
		}
	}
	var typed []string
	for _, cb := range ctx.Callbacks {
		if cb.Type == nodes.TypePassword {
			typed = append(typed, cb.InString())
		}
	}
	if len(typed) != 2 || typed[0] == "" && typed[1] == "" {
		return n.ask(ctx, ""), nil
	}
	if reason := n.check(user, typed[0], typed[1]); reason != "" {
		return n.refuse(ctx, user, reason), nil
	}
	err := n.users.ChangePassword(ctx.Ctx, ctx.Realm, user, typed[0])
	if errors.Is(err, identity.ErrSamePassword) {
		return n.refuse(ctx, user, msgPasswordSame), nil
	}
	if err != nil {
		return nodes.Action{}, fmt.Errorf("password_change: %w", err)
	}
	n.audit.Emit(ctx.Ctx, audit.Event{Time: ctx.Now, Type: audit.PasswordChanged, Realm: ctx.Realm, User: user,
		Journey: ctx.Journey, FlowID: ctx.FlowID, Node: ctx.NodeID, Client: ctx.Request.ClientIP})
	// Sessions earned with the old password must not outlive it. The flow's own
	// session does not exist yet, so none is kept.
	if err := nodes.EndUserSessions(ctx, n.sessions, user, "password changed"); err != nil {
		return nodes.Action{}, fmt.Errorf("password_change: %w", err)
	}
	return nodes.Goto("changed"), nil
}

// check applies the policy that needs no store: the same twice, the length, not the
// user name. It returns why the password is refused, or "".
func (n *passwordChange) check(user, p1, p2 string) string {
	// Both are the user's own input; constant time anyway, as for every secret.
	if subtle.ConstantTimeCompare([]byte(p1), []byte(p2)) != 1 {
		return msgPasswordMismatch
	}
	switch l := utf8.RuneCountInString(p1); {
	case l < n.cfg.MinLength:
		return fmt.Sprintf(msgPasswordShort, n.cfg.MinLength)
	case len(p1) > maxNewPassword:
		return fmt.Sprintf(msgPasswordLong, maxNewPassword)
	}
	if strings.EqualFold(strings.TrimSpace(p1), user) {
		return msgPasswordIsName
	}
	return ""
}

func (n *passwordChange) refuse(ctx *nodes.Context, user, reason string) nodes.Action {
	n.audit.Emit(ctx.Ctx, audit.Event{Time: ctx.Now, Type: audit.PasswordRefused, Realm: ctx.Realm, User: user,
		Journey: ctx.Journey, FlowID: ctx.FlowID, Node: ctx.NodeID, Client: ctx.Request.ClientIP, Reason: reason})
	return n.ask(ctx, reason)
}

func (n *passwordChange) ask(ctx *nodes.Context, problem string) nodes.Action {
	loc := ctx.Request.Locales
	return nodes.Action{
		Stage:     StagePasswordChange,
		Header:    nodes.Localize(n.cfg.Header, loc, "Change your password"),
		StepError: problem,
		Callbacks: []nodes.Callback{
			nodes.PasswordCallback(nodes.Localize(n.cfg.Prompt, loc, "New password")),
			nodes.PasswordCallback(nodes.Localize(n.cfg.Confirm, loc, "Confirm new password")),
		},
	}
}
