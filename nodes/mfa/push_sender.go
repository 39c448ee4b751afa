package mfa

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/push"
	"github.com/arbor-auth/arbor/store"
)

// PushSenderConfig configures push_sender.
type PushSenderConfig struct {
	MessageTimeout int               `json:"message_timeout" default:"120000" min:"5000" max:"900000" doc:"Milliseconds the push stays valid; push_result_verifier treats later answers as expired."`
	UserMessage    map[string]string `json:"user_message" default:"{}" doc:"Text shown on the device, by locale; {{user}} and {{issuer}} are filled in. Empty: \"Login attempt from {{user}} at {{issuer}}\"."`
	Mandatory      bool              `json:"mandatory" default:"false" doc:"Remove the skip option: users who opted out get the push anyway (the skipped outcome disappears)."`
	ContextInfo    bool              `json:"context_info" default:"false" doc:"Share context with the device: remote IP, user agent and, after a device_profile_collector, location."`
	CustomPayload  []string          `json:"custom_payload" default:"[]" doc:"Shared-state keys sent in the push payload (at most 3 KiB of JSON)."`
	PushType       string            `json:"push_type" default:"challenge" enum:"tap|challenge|biometric" doc:"What the user does on the device: tap to accept, challenge (pick the number the login shows, out of three: number matching, the default), or biometric."`
	CaptureFailure bool              `json:"capture_failure" default:"false" doc:"On failure, take the failure outcome and write the reason to PushAuthFailureReason instead of failing the journey."`
	Transaction    bool              `json:"transaction" default:"false" doc:"Send the transaction a transaction_data node took: the device shows its text verbatim (user_message when it is empty) and the approval counts only for that transaction id and text."`
}

func (c *PushSenderConfig) outcomes() []nodes.Outcome {
	out := []nodes.Outcome{{ID: "sent", Label: "Sent"}, {ID: "not_registered", Label: "Not Registered"}}
	if !c.Mandatory {
		out = append(out, nodes.Outcome{ID: "skipped", Label: "Skipped"})
	}
	if c.CaptureFailure {
		out = append(out, nodes.Outcome{ID: "failure", Label: "Failure"})
	}
	return out
}

// registerPushSender adds the push_sender node type to r.
func registerPushSender(r *nodes.Registry) {
	nodes.Register(r, nodes.Spec[PushSenderConfig]{
		Type:     "push_sender",
		Title:    "Push Sender",
		Category: "mfa",
		Summary:  "Sends a push notification to the user's device: number matching by default, rate limited per user.",
		Description: "Sends a push signed with the device's secret and bound to this flow. Outcomes: sent; not_registered when the user has no " +
			"device (mfaMethod is set to push for mfa_registration_options); skipped when the user opted out and the node is not mandatory; " +
			"failure (with capture_failure) on a missing username, a second send in one flow, a store error, a delivery failure or too many " +
			"pushes for the user, with the reason in PushAuthFailureReason (MISSING_USERNAME, SENDER_ALREADY_USED, CTS_ERROR, " +
			"TRANSMISSION_FAILURE, RATE_LIMITED, PAYLOAD_TOO_LARGE). After a token_pin node, the push goes only to a device whose PIN " +
			"the user gave (not_registered if none of them is a push device).",
		OutcomesFor: (*PushSenderConfig).outcomes,
		New: func(c *PushSenderConfig, b *nodes.Build) (nodes.Node, error) {
			t, err := push.ParseType(c.PushType)
			if err != nil {
				return nil, nodes.Problems{{Pointer: b.Pointer + "/push_type", Code: nodes.CodeBadConfig, Message: err.Error()}}
			}
			return &pushSender{cfg: c, typ: t, svc: servicesOf(b)}, nil
		},
	})
}

type pushSender struct {
	cfg *PushSenderConfig
	typ push.Type
	svc services
}

// failure ends in the failure outcome with reason when capture_failure is on, and
// otherwise fails the journey with err (a store error then answers 503, flow intact).
func (n *pushSender) failure(ctx *nodes.Context, reason, message string, err error) (nodes.Action, error) {
	if !n.cfg.CaptureFailure {
		if err == nil {
			err = errors.New(message)
		}
		return nodes.Action{}, fmt.Errorf("push sender: %s: %w", reason, err)
	}
	ctx.Shared[KeyFailureReason] = reason
	ctx.Log.Warn("push not sent", "reason", reason, "err", err)
	// The message ends the login if failure leads there, and otherwise tells the next
	// step (a recovery code, say) why no push came.
	return nodes.Action{Outcome: "failure", FailureMessage: message, StepError: message}, nil
}

// rateLimitMessage says that the user had too many pushes and when the next is allowed.
func rateLimitMessage(err error, now time.Time) string {
	const msg = "Too many push notifications were sent to this account."
	var rl *push.RateLimitError
	if !errors.As(err, &rl) {
		return msg + " Wait a few minutes and try again."
	}
	mins := int(math.Ceil(rl.Until.Sub(now).Minutes()))
	switch {
	case mins <= 1:
		return msg + " Pushes are allowed again in a minute."
	default:
		return fmt.Sprintf("%s Pushes are allowed again in %d minutes.", msg, mins)
	}
}

// Process runs the node for one visit of a flow (nodes.Node).
func (n *pushSender) Process(ctx *nodes.Context) (nodes.Action, error) {
	if err := n.svc.need(true, true); err != nil {
		return nodes.Action{}, err
	}
	user := ctx.Username()
	if user == "" {
		return n.failure(ctx, ReasonMissingUsername, "No user to send a push to.", nil)
	}
	if ctx.Shared.Has(KeyMessageID) {
		return n.failure(ctx, ReasonAlreadyUsed, "A push was already sent in this login.", nil)
	}
	delete(ctx.Shared, KeyFailureReason)
	if !n.cfg.Mandatory {
		skip, err := n.svc.devices.SkipState(ctx.Ctx, ctx.Realm, user, devices.MethodPush)
		if err != nil {
			return n.failure(ctx, ReasonStore, "The push service is unavailable.", err)
		}
		if skip == devices.SkipSkippable {
			return nodes.Goto("skipped"), nil
		}
	}
	req := push.SendRequest{
		Realm: ctx.Realm, Username: user, FlowID: ctx.FlowID, PushType: n.typ,
		Message: nodes.Localize(n.cfg.UserMessage, ctx.Request.Locales, ""), Timeout: time.Duration(n.cfg.MessageTimeout) * time.Millisecond,
		ClientIP: ctx.Request.ClientIP,
		// After token_pin, only a device whose PIN was given.
		Devices: pinDevices(ctx),
	}
	if n.cfg.ContextInfo {
		info := map[string]any{"remoteIp": ctx.Request.ClientIP, "userAgent": ctx.Request.UserAgent}
		if p, ok := ctx.Shared[KeyDeviceProfile].(map[string]any); ok && p["location"] != nil {
			info["location"] = p["location"]
		}
		req.ContextInfo = info
	}
	if n.cfg.Transaction {
		id := ctx.Shared.String(KeyTransactionID)
		if id == "" {
			return nodes.Action{}, fmt.Errorf("push sender: no transaction in this flow (%s missing); put a transaction_data node before it", KeyTransactionID)
		}
		req.Transaction = &push.Transaction{ID: id, Text: ctx.Shared.String(KeyTransactionData)}
	}
	if len(n.cfg.CustomPayload) > 0 {
		req.Payload = map[string]any{}
		for _, k := range n.cfg.CustomPayload {
			if v, ok := ctx.Shared[k]; ok {
				req.Payload[k] = v
			}
		}
	}
	sent, err := n.svc.push.Send(ctx.Ctx, req)
	switch {
	case err == nil:
	case errors.Is(err, push.ErrNotRegistered):
		ctx.Shared[KeyMFAMethod] = devices.MethodPush
		return nodes.Goto("not_registered"), nil
	case errors.Is(err, push.ErrRateLimited):
		return n.failure(ctx, ReasonRateLimited, rateLimitMessage(err, ctx.Now), err)
	case errors.Is(err, push.ErrPayloadTooLarge):
		return n.failure(ctx, ReasonPayload, "The push payload is too large.", err)
	case errors.Is(err, push.ErrTransmission):
		return n.failure(ctx, ReasonTransmission, "The push notification could not be delivered.", err)
	case errors.Is(err, store.ErrUnavailable):
		return n.failure(ctx, ReasonStore, "The push service is unavailable.", err)
	default:
		return n.failure(ctx, ReasonTransmission, "The push notification could not be sent.", err)
	}
	ctx.Shared[KeyMessageID] = sent.MessageID
	if n.cfg.Transaction {
		ctx.Shared[KeyTransactionDevice] = sent.DeviceID
	}
	ctx.Shared[KeyTimeout] = n.cfg.MessageTimeout
	if sent.Number > 0 {
		ctx.Shared[KeyNumber] = sent.Number
	} else {
		delete(ctx.Shared, KeyNumber)
	}
	return nodes.Goto("sent"), nil
}
