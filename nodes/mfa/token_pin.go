package mfa

import (
	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/nodes"
)

// KeyPINDevices is where token_pin leaves the ids of the devices whose token PIN the
// user gave. When it is set, oath_token_verifier (and a code typed at push_wait) only
// accepts a code of those devices, and push_sender only pushes to one of them: the PIN
// belongs to the token, so the PIN of one token and the code of another do not make a
// login. It is in the reserved namespace, so no journey can write it.
const KeyPINDevices = nodes.ReservedPrefix + "pin_devices"

// TokenPINConfig configures token_pin.
type TokenPINConfig struct {
	Prompt map[string]string `json:"prompt" default:"{\"en\":\"PIN\"}" doc:"Label of the PIN input, by locale."`
}

// registerTokenPIN adds the token_pin node type to r.
func registerTokenPIN(r *nodes.Registry) {
	nodes.Register(r, nodes.Spec[TokenPINConfig]{
		Type:     "token_pin",
		Title:    "Token PIN",
		Category: "mfa",
		Summary:  "Asks for the PIN of one of the user's devices (LinOTP's token PIN) and checks it.",
		Description: "Sends a PasswordCallback for the PIN an administrator set on a device (push or authenticator app; " +
			"PUT /api/admin/v1/users/{user}/devices/{id}/pin or arbor users devices pin). The PIN is checked, in constant " +
			"time, against every device of the user that has one (only argon2id hashes are stored); a device without a PIN " +
			"never matches. Attempts go through the guessing defence like passwords: a wrong PIN counts as a failure, and an " +
			"attempt made too early is answered as a wrong PIN without being checked. Outcomes: true (the flow records the " +
			"pin factor, knowledge like a password, and the matching devices: oath_token_verifier and push_sender then use " +
			"only those devices) or false. Put it on a page after the username node, or after one.",
		Input:    true,
		Outcomes: []nodes.Outcome{{ID: "true", Label: "True"}, {ID: "false", Label: "False"}},
		New: func(c *TokenPINConfig, b *nodes.Build) (nodes.Node, error) {
			return &tokenPIN{cfg: c, svc: servicesOf(b), guard: nodes.GuardOf(b), audit: auditOf(b)}, nil
		},
	})
}

// errWrongPIN is shown when a journey asks again after "false".
const errWrongPIN = "That PIN is not right."

type tokenPIN struct {
	cfg   *TokenPINConfig
	svc   services
	guard nodes.Guard
	audit *audit.Logger
}

// Process runs the node for one visit of a flow (nodes.Node).
func (n *tokenPIN) Process(ctx *nodes.Context) (nodes.Action, error) {
	if err := n.svc.need(false, true); err != nil {
		return nodes.Action{}, err
	}
	pin := ""
	if cb, ok := nodes.Find(ctx.Callbacks, nodes.TypePassword); ok {
		pin = cb.InString() // not trimmed: spaces may be part of a PIN
	}
	if pin == "" {
		// Asked before the user is known, too: on a page the username comes with it.
		return nodes.Send(nodes.PasswordCallback(text(n.cfg.Prompt, ctx, "PIN"))), nil
	}
	user, err := requireUser(ctx)
	if err != nil {
		return nodes.Action{}, err
	}
	// Until a PIN matches, the flow may use no device: a journey that goes on after
	// "false" cannot fall back to every device.
	ctx.Shared[KeyPINDevices] = []string{}
	var matched []string
	right, err := nodes.CheckSecret(ctx, n.guard, n.audit, user, n.svc.devices.WaitPINTime, func() (bool, error) {
		var err error
		matched, err = n.svc.devices.MatchPIN(ctx.Ctx, ctx.Realm, user, pin)
		return len(matched) > 0, err
	})
	if err != nil {
		return nodes.Action{}, err
	}
	ev := audit.Event{Type: audit.PINRejected, Realm: ctx.Realm, User: user, FlowID: ctx.FlowID, Node: ctx.NodeID, Client: ctx.Request.ClientIP}
	if !right {
		n.audit.Emit(ctx.Ctx, ev)
		return nodes.Action{Outcome: "false", StepError: errWrongPIN}, nil
	}
	ev.Type, ev.Details = audit.PINAccepted, map[string]any{"device_ids": matched}
	n.audit.Emit(ctx.Ctx, ev)
	ctx.Shared[KeyPINDevices] = matched
	ctx.Shared.AddFactor(nodes.FactorPIN)
	return nodes.Goto("true"), nil
}

// pinDevices returns the devices a flow may use after token_pin (KeyPINDevices), or
// nil when no token_pin ran, which means every device. It reads the []any a JSON round
// trip yields as well as a []string.
func pinDevices(ctx *nodes.Context) []string {
	switch v := ctx.Shared[KeyPINDevices].(type) {
	case []string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	if ctx.Shared.Has(KeyPINDevices) {
		return []string{} // set to something unreadable: no device
	}
	return nil
}
