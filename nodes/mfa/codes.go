package mfa

import (
	"fmt"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/oath"
)

// checkCode checks a one-time code the user typed against the user's OATH devices,
// behind the guessing defence, and audits the result; on acceptance the flow records
// the otp factor. A throttled attempt is answered as a wrong code without being checked.
// Only store failures are errors. The code verifier and a push wait that takes a code
// instead of the push share it, so both count and audit attempts the same way.
func checkCode(ctx *nodes.Context, devs *devices.Registry, guard nodes.Guard, au *audit.Logger, user, code string, pol oath.Policy) (devices.CodeResult, error) {
	ev := audit.Event{Type: audit.OTPRejected, Realm: ctx.Realm, User: user, FlowID: ctx.FlowID, Node: ctx.NodeID, Client: ctx.Request.ClientIP}
	if guard != nil {
		wait, err := guard.Allow(ctx.Ctx, ctx.Realm, user, ctx.Request.ClientIP)
		if err != nil {
			return devices.CodeResult{}, fmt.Errorf("one-time code: %w", err)
		}
		if wait > 0 {
			ev.Details = map[string]any{"reason": "throttled"}
			au.Emit(ctx.Ctx, ev)
			return devices.CodeResult{Outcome: oath.Wrong, Registered: true}, nil
		}
	}
	res, err := devs.VerifyCode(ctx.Ctx, ctx.Realm, user, code, ctx.Now, pol)
	if err != nil {
		return devices.CodeResult{}, err
	}
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
		if guard != nil {
			if err := guard.Succeeded(ctx.Ctx, ctx.Realm, user, ctx.Request.ClientIP); err != nil {
				return devices.CodeResult{}, fmt.Errorf("one-time code: %w", err)
			}
		}
		ctx.Shared.AddFactor(nodes.FactorOTP)
	case oath.Reused:
		// A right code, only too early again: not a guess, so not counted.
		ev.Type = audit.OTPReused
	default:
		if guard != nil {
			if err := guard.Failed(ctx.Ctx, ctx.Realm, user, ctx.Request.ClientIP); err != nil {
				return devices.CodeResult{}, fmt.Errorf("one-time code: %w", err)
			}
		}
	}
	au.Emit(ctx.Ctx, ev)
	return res, nil
}

// checkRecoveryCode checks a recovery code typed where a code is taken (a push wait
// that allows it) behind the guessing defence, uses it up when right, and audits the
// result; on success the flow records the recovery_code factor. A throttled attempt is
// answered as a wrong code without being checked. Only store failures are errors.
func checkRecoveryCode(ctx *nodes.Context, devs *devices.Registry, guard nodes.Guard, au *audit.Logger, user, code string) (bool, error) {
	ev := audit.Event{Type: audit.RecoveryCodeBad, Realm: ctx.Realm, User: user, FlowID: ctx.FlowID, Node: ctx.NodeID, Client: ctx.Request.ClientIP}
	if guard != nil {
		wait, err := guard.Allow(ctx.Ctx, ctx.Realm, user, ctx.Request.ClientIP)
		if err != nil {
			return false, fmt.Errorf("recovery code: %w", err)
		}
		if wait > 0 {
			ev.Details = map[string]any{"reason": "throttled"}
			au.Emit(ctx.Ctx, ev)
			return false, nil
		}
	}
	ok, err := devs.UseRecoveryCode(ctx.Ctx, ctx.Realm, user, code)
	if err != nil {
		return false, err
	}
	if guard != nil {
		report := guard.Failed
		if ok {
			report = guard.Succeeded
		}
		if err := report(ctx.Ctx, ctx.Realm, user, ctx.Request.ClientIP); err != nil {
			return false, fmt.Errorf("recovery code: %w", err)
		}
	}
	if ok {
		ev.Type = audit.RecoveryCodeUsed
		ctx.Shared.AddFactor(nodes.FactorRecoveryCode)
	}
	au.Emit(ctx.Ctx, ev)
	return ok, nil
}
