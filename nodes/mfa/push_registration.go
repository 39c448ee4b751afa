package mfa

import (
	"fmt"
	"time"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/keys"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/push"
)

// PushRegistrationConfig configures push_registration.
type PushRegistrationConfig struct {
	Issuer                string            `json:"issuer" default:"Arbor" min:"1" doc:"Issuer shown in the authenticator app, and used for {{issuer}} in push messages."`
	AccountName           string            `json:"account_name" default:"username" doc:"What names the account in the app: username, or a user attribute such as mail." pattern:"^[A-Za-z][A-Za-z0-9_]*$"`
	Color                 string            `json:"color" default:"032b75" pattern:"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$" doc:"Background colour of the account in the app (hex)."`
	ImageURL              string            `json:"image_url" default:"" doc:"Logo URL shown in the app (https), or empty." pattern:"^(https://.*)?$"`
	GenerateRecoveryCodes bool              `json:"generate_recovery_codes" default:"true" doc:"Generate recovery codes on registration, for recovery_code_display."`
	Timeout               int               `json:"timeout" default:"60" min:"10" max:"3600" doc:"Seconds the QR code stays valid."`
	ScanMessage           map[string]string `json:"scan_message" default:"{\"en\":\"Scan the QR code with your authenticator app to register your device.\"}" doc:"Instruction shown with the QR code, by locale."`
	WaitingMessage        map[string]string `json:"waiting_message" default:"{\"en\":\"Waiting for your device...\"}" doc:"Polling message, by locale."`
}

// PollInterval is how often clients poll a registration (AM's REGISTER_DEVICE_POLL_INTERVAL).
const PollInterval = 2000

// HiddenRegistration is the id of the hidden value carrying the pushauth:// URI (AM's).
const HiddenRegistration = "mfaDeviceRegistration"

// registerPushRegistration adds the push_registration node type to r.
func registerPushRegistration(r *nodes.Registry) {
	nodes.Register(r, nodes.Spec[PushRegistrationConfig]{
		Type:     "push_registration",
		Title:    "Push Registration",
		Category: "mfa",
		Summary:  "Registers a push device: shows a QR code and waits, by polling, until the device answers.",
		Description: "Sends the pushauth:// URI in a HiddenValueCallback with id mfaDeviceRegistration (the QR code's content) and a " +
			"PollingWaitCallback; each poll checks whether the device registered. On success it saves the device, generates recovery " +
			"codes (for recovery_code_display) and makes MFA mandatory for the user. A user who already has a device goes straight to success.",
		Input: true,
		Outcomes: []nodes.Outcome{
			{ID: "success", Label: "Success"}, {ID: "failure", Label: "Failure"}, {ID: "timeout", Label: "Time Out"},
		},
		New: func(c *PushRegistrationConfig, b *nodes.Build) (nodes.Node, error) {
			n := &pushRegistration{cfg: c, svc: servicesOf(b), audit: auditOf(b)}
			if b != nil && b.Deps != nil {
				n.users = b.Deps.Users
				if b.Deps.Keys != nil {
					n.sealer = b.Deps.Keys.Sealer(keys.PurposeFlow)
				}
			}
			return n, nil
		},
	})
}

type pushRegistration struct {
	cfg    *PushRegistrationConfig
	svc    services
	users  *identity.Store
	sealer *keys.Sealer
	audit  *audit.Logger
}

// Process runs the node for one visit of a flow (nodes.Node).
func (n *pushRegistration) Process(ctx *nodes.Context) (nodes.Action, error) {
	if err := n.svc.need(true, true); err != nil || n.sealer == nil {
		return nodes.Action{}, errNoService
	}
	user, err := requireUser(ctx)
	if err != nil {
		return nodes.Action{}, err
	}
	idKey, uriKey := ctx.LocalKey("message_id"), ctx.LocalKey("uri")
	bind := []byte(ctx.FlowID + "\x00" + ctx.NodeID)
	msgID := ctx.Shared.String(idKey)
	if msgID == "" || ctx.Callbacks == nil {
		devs, err := n.svc.devices.Devices(ctx.Ctx, ctx.Realm, user)
		if err != nil {
			return nodes.Action{}, err
		}
		if len(devs) > 0 {
			return nodes.Goto("success"), nil
		}
		reg, err := n.svc.push.BeginRegistration(ctx.Ctx, push.RegistrationRequest{
			Realm: ctx.Realm, Username: user, FlowID: ctx.FlowID, Issuer: n.cfg.Issuer, AccountName: accountName(ctx, n.users, n.cfg.AccountName, user),
			Color: n.cfg.Color, ImageURL: n.cfg.ImageURL, TTL: time.Duration(n.cfg.Timeout) * time.Second,
			BaseURL: ctx.Request.BaseURL,
		})
		if err != nil {
			return nodes.Action{}, err
		}
		ctx.Shared[idKey] = reg.MessageID
		// The URI holds the device's shared secret: the flow keeps it only sealed.
		ctx.Shared[uriKey] = n.sealer.Seal([]byte(reg.URI), bind)
		return n.ask(ctx, reg.URI), nil
	}
	st, err := n.svc.push.RegistrationResult(ctx.Ctx, msgID, ctx.FlowID)
	if err != nil {
		return nodes.Action{}, err
	}
	switch st.Status {
	case push.RegistrationPending:
		uri, err := n.sealer.Open(ctx.Shared.String(uriKey), bind)
		if err != nil {
			return nodes.Action{}, fmt.Errorf("registration state: %w", err)
		}
		return n.ask(ctx, string(uri)), nil
	case push.RegistrationRegistered:
		n.clear(ctx)
		if err := n.svc.registered(ctx, n.audit, user, devices.MethodPush, st.DeviceName, n.cfg.GenerateRecoveryCodes); err != nil {
			return nodes.Action{}, err
		}
		return nodes.Goto("success"), nil
	case push.RegistrationDenied:
		n.clear(ctx)
		return nodes.Goto("failure"), nil
	default:
		n.clear(ctx)
		return nodes.Goto("timeout"), nil
	}
}

func (n *pushRegistration) clear(ctx *nodes.Context) {
	delete(ctx.Shared, ctx.LocalKey("message_id"))
	delete(ctx.Shared, ctx.LocalKey("uri"))
}

func (n *pushRegistration) ask(ctx *nodes.Context, uri string) nodes.Action {
	return nodes.Send(
		nodes.TextOutputCallback(text(n.cfg.ScanMessage, ctx, "Scan the QR code with your authenticator app to register your device."), nodes.MessageInfo),
		nodes.HiddenValueCallback(HiddenRegistration, uri),
		nodes.PollingWaitCallback(PollInterval, text(n.cfg.WaitingMessage, ctx, "Waiting for your device...")),
	)
}

// accountName names the account in the authenticator app: the username, or the user
// attribute attr when it is set and not "username" (falling back to the username).
func accountName(ctx *nodes.Context, users *identity.Store, attr, user string) string {
	if attr == "" || attr == "username" || users == nil {
		return user
	}
	u, err := users.Get(ctx.Ctx, ctx.Realm, user)
	if err != nil {
		return user
	}
	if v, ok := u.Attributes[attr].(string); ok && v != "" {
		return v
	}
	return user
}
