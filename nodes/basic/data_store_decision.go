package basic

import (
	"errors"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/store"
)

// KeyAuthenticatedUser is the shared-state key where data_store_decision records the
// account whose password it verified.
const KeyAuthenticatedUser = "authenticated_user"

// KeyLockedOut is set (to true) in shared state when the right password was given for
// an account that is locked or disabled. Only that answer reveals the lock, to someone
// who knows the password: a door may then say "locked out" (the FortiGate-style door's
// -4) where a wrong password or an unknown user gets the plain failure. It is in the
// reserved namespace, so no journey can set it.
const KeyLockedOut = nodes.ReservedPrefix + "locked_out"

// DataStoreDecisionConfig is empty: the node checks the realm's identity store.
type DataStoreDecisionConfig struct{}

// registerDataStoreDecision adds the data_store_decision node type to r.
func registerDataStoreDecision(r *nodes.Registry) {
	nodes.Register(r, nodes.Spec[DataStoreDecisionConfig]{
		Type:    "data_store_decision",
		Title:   "Data Store Decision",
		Summary: "Checks the collected user name and password against the identity store.",
		Description: "Verifies shared \"username\" and transient \"password\" in the flow's " +
			"realm. Goes to \"true\" when they match an active account (and records it in " +
			"shared \"" + KeyAuthenticatedUser + "\"); to \"false\" for an unknown user, a wrong " +
			"or missing password, or a locked account (\"User Locked Out.\"). Every wrong " +
			"answer takes the same time, so the outcome does not tell which it was. Guesses " +
			"are throttled per user and client address (the server's guessing defence): an " +
			"attempt made too early is answered as a wrong password without being checked. " +
			"On \"true\" the flow has verified the factor \"pwd\". A store outage fails the " +
			"flow. Like AM's Data Store Decision.",
		Category: categoryDecision,
		Outcomes: decisionOutcome,
		New: func(_ *DataStoreDecisionConfig, b *nodes.Build) (nodes.Node, error) {
			return &dataStoreDecision{users: usersOf(b), guard: nodes.GuardOf(b), audit: auditOf(b)}, nil
		},
	})
}

// errWrongCredentials is shown when a journey asks again after "false": one message for
// an unknown user, a wrong password and a locked account, so it tells nothing apart.
const errWrongCredentials = "The username or password is not correct."

type dataStoreDecision struct {
	users *identity.Store
	guard nodes.Guard
	audit *audit.Logger
}

// Process runs the node for one visit of a flow (nodes.Node).
func (n *dataStoreDecision) Process(ctx *nodes.Context) (nodes.Action, error) {
	if n.users == nil {
		return nodes.Action{}, errNoUsers("data_store_decision")
	}
	// A missing password is a journey without a password collector before this node,
	// not a guess by the client, so answering at once leaks nothing.
	// A failed check must not leave an earlier success standing when a journey loops
	// back here with another name.
	delete(ctx.Shared, KeyAuthenticatedUser)
	delete(ctx.Shared, KeyLockedOut)
	password, ok := ctx.Transient[nodes.KeyPassword].(string)
	if !ok {
		return nodes.Goto("false"), nil
	}
	var u *identity.User
	var authErr error
	// A refused attempt waits as long as a verification takes and answers as a wrong
	// password, so neither the answer nor its timing tells the two apart.
	// The account is read in the batch that counts the attempt, when the guard can.
	var reads []store.Op
	if read, ok := n.users.UserRead(ctx.Realm, ctx.Username()); ok {
		reads = []store.Op{read}
	}
	right, err := nodes.CheckSecretWith(ctx, n.guard, n.audit, ctx.Username(), n.users.WaitVerifyTime, reads, func(ran bool) (bool, error) {
		var read *store.Op
		if ran {
			read = &reads[0]
		}
		u, authErr = n.users.AuthenticateRead(ctx.Ctx, ctx.Realm, ctx.Username(), password, read)
		switch {
		case authErr == nil, errors.Is(authErr, identity.ErrLocked):
			return true, nil // the right password, even to a locked account: no guess
		case errors.Is(authErr, identity.ErrInvalidCredentials), errors.Is(authErr, identity.ErrNotFound):
			return false, nil
		}
		return false, authErr
	})
	switch {
	case err != nil:
		return nodes.Action{}, err
	case !right:
		return nodes.Action{Outcome: "false", StepError: errWrongCredentials}, nil
	case authErr != nil: // locked
		ctx.Shared[KeyLockedOut] = true
		return nodes.Action{Outcome: "false", FailureMessage: "User Locked Out.", StepError: errWrongCredentials}, nil
	}
	name := u.Username
	if name == "" {
		name = ctx.Username()
	}
	// Boxed once for both keys (a string in an interface is an allocation).
	boxed := any(name)
	ctx.Shared[KeyAuthenticatedUser] = boxed
	// The canonical spelling from the store, so sessions and devices name the user
	// the same way however the user typed it.
	ctx.Shared[nodes.KeyUsername] = boxed
	ctx.Shared.AddFactor(nodes.FactorPassword)
	return nodes.Goto("true"), nil
}
