package mfa

import (
	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/oath"
)

// checkCode checks a one-time code the user typed against the user's OATH devices,
// through the guessing defence (nodes.CheckSecret), and audits the result; on
// acceptance the flow records the otp factor. An attempt the defence refuses is
// answered as a wrong code without being checked. Only store failures are errors. The
// code verifier and a push wait that takes a code instead of the push share it, so both
// count and audit attempts the same way.
func checkCode(ctx *nodes.Context, devs *devices.Registry, guard nodes.Guard, au *audit.Logger, user, code string, pol oath.Policy) (devices.CodeResult, error) {
	var res devices.CodeResult
	checked := false
	// Checking a code is one store operation, quick whatever the answer, so a refusal
	// needs no padding to look like a wrong code.
	_, err := nodes.CheckSecret(ctx, guard, au, user, nil, func() (bool, error) {
		var err error
		// After token_pin, only the codes of the devices whose PIN was given count.
		if res, err = devs.VerifyCodeOf(ctx.Ctx, ctx.Realm, user, pinDevices(ctx), code, ctx.Now, pol); err != nil {
			return false, err
		}
		checked = true
		// A reused code is right, only too early again: no guess, so not a failure.
		return res.Outcome == oath.Accepted || res.Outcome == oath.Reused, nil
	})
	if err != nil {
		return devices.CodeResult{}, err
	}
	if !checked { // refused by the defence, which audited it
		return devices.CodeResult{Outcome: oath.Wrong, Registered: true}, nil
	}
	ev := audit.Event{Type: audit.OTPRejected, Realm: ctx.Realm, User: user, FlowID: ctx.FlowID, Node: ctx.NodeID, Client: ctx.Request.ClientIP}
	switch {
	case res.Device != nil:
		ev.Details = map[string]any{"device_id": res.Device.ID}
	case !res.Registered:
		// Counted like any wrong code: whether a user has an app is not for guessing.
		ev.Details = map[string]any{"reason": "no authenticator app registered"}
	}
	switch res.Outcome {
	case oath.Accepted:
		ev.Type = audit.OTPAccepted
		ctx.Shared.AddFactor(nodes.FactorOTP)
	case oath.Reused:
		ev.Type = audit.OTPReused
	}
	au.Emit(ctx.Ctx, ev)
	return res, nil
}

// useRecoveryCode checks a recovery code the user typed, through the guessing defence,
// uses it up when right, and audits the result; on success the flow records the
// recovery_code factor. An attempt the defence refuses is answered as a wrong code
// without being checked. Only store failures are errors. The recovery code collector
// and a push wait that takes a recovery code instead of the push share it.
func useRecoveryCode(ctx *nodes.Context, devs *devices.Registry, guard nodes.Guard, au *audit.Logger, user, code string) (bool, error) {
	checked := false
	// Checking a code is one store operation, quick whatever the answer, so a refusal
	// needs no padding to look like a wrong code.
	ok, err := nodes.CheckSecret(ctx, guard, au, user, nil, func() (bool, error) {
		checked = true
		return devs.UseRecoveryCode(ctx.Ctx, ctx.Realm, user, code)
	})
	if err != nil {
		return false, err
	}
	ev := audit.Event{Type: audit.RecoveryCodeUsed, Realm: ctx.Realm, User: user, FlowID: ctx.FlowID, Node: ctx.NodeID, Client: ctx.Request.ClientIP}
	if !ok {
		if checked { // a refusal is audited as such, not as a wrong code
			ev.Type = audit.RecoveryCodeBad
			au.Emit(ctx.Ctx, ev)
		}
		return false, nil
	}
	au.Emit(ctx.Ctx, ev)
	ctx.Shared.AddFactor(nodes.FactorRecoveryCode)
	return true, nil
}
