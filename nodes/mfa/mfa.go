// Package mfa is the push MFA node family, modelled node for node on ForgeRock AM's:
// mfa_registration_options, push_registration, recovery_code_display,
// get_authenticator_app, opt_out_mfa, push_sender, push_wait, push_result_verifier,
// recovery_code_collector_decision and device_profile_collector.
//
// The nodes share state through AM's shared-state keys (pushMessageId,
// pushNumberChallengeKey, mfaMethod, ...), so journeys read like AM's. They use the
// push service and the device registry of nodes.Deps (Push, Devices); built without
// them (offline validation), they fail closed when run.
package mfa

import (
	"errors"
	"fmt"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/push"
)

// Register adds every push MFA node type to r.
func Register(r *nodes.Registry) {
	registerDeviceProfileCollector(r)
	registerGetAuthenticatorApp(r)
	registerMfaRegistrationOptions(r)
	registerOathRegistration(r)
	registerOathTokenVerifier(r)
	registerOptOutMfa(r)
	registerOtpOrPushCollector(r)
	registerPushRegistration(r)
	registerPushResultVerifier(r)
	registerPushSender(r)
	registerPushWait(r)
	registerRecoveryCodeCollectorDecision(r)
	registerRecoveryCodeDisplay(r)
	registerTokenPIN(r)
	registerTransactionData(r)
}

// Shared-state keys, AM's names.
const (
	KeyMessageID      = "pushMessageId"
	KeyNumber         = "pushNumberChallengeKey"
	KeyTimeout        = "t"
	KeyFailureReason  = "PushAuthFailureReason"
	KeyMFAMethod      = "mfaMethod"
	KeyDeviceProfile  = "deviceProfile"
	KeyRecoveryCodes  = "recoveryCodes"          // transient
	KeyRecoveryDevice = "recoveryCodeDeviceName" // transient
)

// Failure reasons written to PushAuthFailureReason (AM's, plus RATE_LIMITED).
const (
	ReasonMissingUsername = "MISSING_USERNAME"
	ReasonAlreadyUsed     = "SENDER_ALREADY_USED"
	ReasonStore           = "CTS_ERROR"
	ReasonTransmission    = "TRANSMISSION_FAILURE"
	ReasonRateLimited     = "RATE_LIMITED"
	ReasonPayload         = "PAYLOAD_TOO_LARGE"
)

var errNoService = errors.New("the push service is not configured")

type services struct {
	push    *push.Service
	devices *devices.Registry
	// sessions ends a user's sessions after a factor change; nil where no session
	// exists (single-node tests, offline validation).
	sessions nodes.SessionEnder
}

func servicesOf(b *nodes.Build) services {
	if b == nil || b.Deps == nil {
		return services{}
	}
	return services{push: b.Deps.Push, devices: b.Deps.Devices, sessions: b.Deps.Sessions}
}

func (s services) need(push, devs bool) error {
	if (push && s.push == nil) || (devs && s.devices == nil) {
		return errNoService
	}
	return nil
}

func requireUser(ctx *nodes.Context) (string, error) {
	u := ctx.Username()
	if u == "" {
		return "", fmt.Errorf("node %s needs a username in shared state; put a username node before it", ctx.NodeID)
	}
	return u, nil
}

func method(ctx *nodes.Context) string {
	if m := ctx.Shared.String(KeyMFAMethod); m != "" {
		return m
	}
	return devices.MethodPush
}

// confirmationChoice returns the index a ConfirmationCallback answered, if any.
func confirmationChoice(cbs []nodes.Callback) (int, bool) {
	for _, c := range cbs {
		if c.Type == nodes.TypeConfirmation {
			return c.InInt()
		}
	}
	return 0, false
}

func text(m map[string]string, ctx *nodes.Context, fallback string) string {
	return nodes.Localize(m, ctx.Request.Locales, fallback)
}

// sessionEndReasons say, in the audit of the ended sessions, what was registered.
var sessionEndReasons = map[string]string{devices.MethodPush: "push device registered", devices.MethodOATH: "authenticator app registered"}

// registered is what follows a second factor's registration, push or app alike: the
// user is bound to MFA for that method (no opting out), the sessions earned before it
// end, and, when asked, ten new recovery codes go to transient state for
// recovery_code_display, naming the device.
func (s services) registered(ctx *nodes.Context, al *audit.Logger, user, method, deviceName string, codes bool) error {
	if err := s.devices.SetSkip(ctx.Ctx, ctx.Realm, user, method, devices.SkipNotSkippable); err != nil {
		return err
	}
	if err := nodes.EndUserSessions(ctx, s.sessions, user, sessionEndReasons[method]); err != nil {
		return err
	}
	if !codes {
		return nil
	}
	list, err := s.devices.NewRecoveryCodes(ctx.Ctx, ctx.Realm, user)
	if err != nil {
		return err
	}
	ctx.Transient[KeyRecoveryCodes] = list
	ctx.Transient[KeyRecoveryDevice] = deviceName
	al.Emit(ctx.Ctx, audit.Event{Type: audit.RecoveryCodesNew, Realm: ctx.Realm, User: user, FlowID: ctx.FlowID, Node: ctx.NodeID})
	return nil
}
