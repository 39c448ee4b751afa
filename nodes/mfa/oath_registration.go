package mfa

import (
	"fmt"
	"strings"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/identity"
	"github.com/arbor-auth/arbor/keys"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/oath"
)

// OATHRegistrationConfig configures oath_registration.
type OATHRegistrationConfig struct {
	Issuer                string            `json:"issuer" default:"Arbor" min:"1" doc:"Issuer shown in the authenticator app."`
	AccountName           string            `json:"account_name" default:"username" pattern:"^[A-Za-z][A-Za-z0-9_]*$" doc:"What names the account in the app: username, or a user attribute such as mail."`
	Kind                  string            `json:"kind" default:"totp" enum:"totp|hotp" doc:"totp: time-based codes (the default, what every app supports); hotp: counter-based codes."`
	Algorithm             string            `json:"algorithm" default:"SHA1" enum:"SHA1|SHA256|SHA512" doc:"HMAC hash of the codes. Many apps only support SHA1."`
	Digits                int               `json:"digits" default:"6" min:"6" max:"8" doc:"Code length: 6 or 8."`
	Period                int               `json:"period" default:"30" min:"10" max:"300" doc:"Seconds a time-based code lasts."`
	DeviceName            string            `json:"device_name" default:"Authenticator app" min:"1" doc:"Name the device gets in the user's device list."`
	GenerateRecoveryCodes bool              `json:"generate_recovery_codes" default:"true" doc:"Generate recovery codes on registration, for recovery_code_display."`
	MaxAttempts           int               `json:"max_attempts" default:"3" min:"1" max:"10" doc:"Wrong confirmation codes before the failure outcome."`
	ScanMessage           map[string]string `json:"scan_message" default:"{\"en\":\"Scan the QR code with your authenticator app, then enter the code it shows.\"}" doc:"Instruction shown with the QR code, by locale."`
	Prompt                map[string]string `json:"prompt" default:"{\"en\":\"Code from your app\"}" doc:"Prompt for the confirmation code, by locale."`
	WrongCodeMessage      map[string]string `json:"wrong_code_message" default:"{\"en\":\"That code is not right. Enter the code your app shows now.\"}" doc:"Shown when a confirmation code is wrong, by locale."`
}

// Validate checks what the schema cannot say.
func (c *OATHRegistrationConfig) Validate() error {
	if c.Digits != 6 && c.Digits != 8 {
		return nodes.Problems{{Pointer: "/digits", Message: fmt.Sprintf("digits must be 6 or 8, not %d", c.Digits)}}
	}
	return nil
}

func (c *OATHRegistrationConfig) params() oath.Params {
	p := oath.Params{Kind: oath.Kind(c.Kind), Algorithm: c.Algorithm, Digits: c.Digits}
	if p.Kind == oath.TOTP {
		p.Period = c.Period
	}
	return p
}

// registerOathRegistration adds the oath_registration node type to r.
func registerOathRegistration(r *nodes.Registry) {
	nodes.Register(r, nodes.Spec[OATHRegistrationConfig]{
		Type:     "oath_registration",
		Title:    "OATH Registration",
		Category: "mfa",
		Summary:  "Registers an authenticator app for one-time codes: shows an otpauth:// QR code and stores the device once the user enters a code it shows.",
		Description: "Sends the otpauth:// URI in a HiddenValueCallback with id mfaDeviceRegistration (the QR code's content, which the " +
			"SDK's FRQRCode reads) and a NameCallback for a code from the app. The device is stored only when that code is right, so a " +
			"user who scanned badly is never locked out; the code counts as used and the flow records the otp factor. On success it " +
			"generates recovery codes (for recovery_code_display) and makes MFA mandatory for the user. Outcomes: success; failure after " +
			"max_attempts wrong codes, or when the user already has an app registered (a second one is added on the devices page's terms, " +
			"not by a login).",
		Input:    true,
		Outcomes: []nodes.Outcome{{ID: "success", Label: "Success"}, {ID: "failure", Label: "Failure"}},
		New: func(c *OATHRegistrationConfig, b *nodes.Build) (nodes.Node, error) {
			n := &oathRegistration{cfg: c, params: c.params(), svc: servicesOf(b), audit: auditOf(b)}
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

type oathRegistration struct {
	cfg    *OATHRegistrationConfig
	params oath.Params
	svc    services
	users  *identity.Store
	sealer *keys.Sealer
	audit  *audit.Logger
}

// Process runs the node for one visit of a flow (nodes.Node).
func (n *oathRegistration) Process(ctx *nodes.Context) (nodes.Action, error) {
	if err := n.svc.need(false, true); err != nil || n.sealer == nil {
		return nodes.Action{}, errNoService
	}
	user, err := requireUser(ctx)
	if err != nil {
		return nodes.Action{}, err
	}
	uriKey, triesKey := ctx.LocalKey("uri"), ctx.LocalKey("tries")
	bind := []byte(ctx.FlowID + "\x00" + ctx.NodeID)
	sealed := ctx.Shared.String(uriKey)
	if sealed == "" || ctx.Callbacks == nil {
		have, err := n.svc.devices.OATHDevices(ctx.Ctx, ctx.Realm, user)
		if err != nil {
			return nodes.Action{}, err
		}
		if len(have) > 0 {
			n.clear(ctx)
			return nodes.Action{Outcome: "failure", FailureMessage: "An authenticator app is already registered for this account."}, nil
		}
		_, uri, err := oath.NewKey(oath.KeyRequest{Issuer: n.cfg.Issuer, Account: accountName(ctx, n.users, n.cfg.AccountName, user), Params: n.params})
		if err != nil {
			return nodes.Action{}, fmt.Errorf("oath registration: %w", err)
		}
		// The URI holds the secret: the flow keeps it only sealed, bound to this node.
		ctx.Shared[uriKey] = n.sealer.Seal([]byte(uri), bind)
		delete(ctx.Shared, triesKey)
		return n.ask(ctx, uri, ""), nil
	}
	raw, err := n.sealer.Open(sealed, bind)
	if err != nil {
		return nodes.Action{}, fmt.Errorf("oath registration state: %w", err)
	}
	uri := string(raw)
	code := ""
	if cb, ok := nodes.Find(ctx.Callbacks, nodes.TypeName); ok {
		code = strings.TrimSpace(cb.InString())
	}
	if code == "" {
		return n.ask(ctx, uri, ""), nil
	}
	key, err := oath.ParseKey(uri)
	if err != nil {
		return nodes.Action{}, fmt.Errorf("oath registration state: %w", err)
	}
	res, err := oath.Verify(key.Params, key.Secret, oath.State{Counter: key.Counter}, code, ctx.Now, oath.DefaultPolicy)
	if err != nil {
		return nodes.Action{}, fmt.Errorf("oath registration: %w", err)
	}
	if res.Outcome != oath.Accepted {
		tries, _ := ctx.Shared.Int(triesKey)
		tries++
		if tries >= n.cfg.MaxAttempts {
			n.clear(ctx)
			return nodes.Action{Outcome: "failure", FailureMessage: "The authenticator app could not be registered."}, nil
		}
		ctx.Shared[triesKey] = tries
		return n.ask(ctx, uri, text(n.cfg.WrongCodeMessage, ctx, "That code is not right. Enter the code your app shows now.")), nil
	}
	// The confirmation code counts as used: the state Verify returned remembers it.
	dev, err := n.svc.devices.AddOATH(ctx.Ctx, ctx.Realm, user, devices.OATHDevice{
		Name: n.cfg.DeviceName, Issuer: key.Issuer, Params: key.Params, State: res.State, LastUsed: ctx.Now,
	}, key.Secret)
	if err != nil {
		return nodes.Action{}, err
	}
	n.clear(ctx)
	n.audit.Emit(ctx.Ctx, audit.Event{Type: audit.DeviceRegistered, Realm: ctx.Realm, User: user, FlowID: ctx.FlowID, Node: ctx.NodeID,
		Client: ctx.Request.ClientIP, Details: map[string]any{"device_id": dev.ID, "device_name": dev.Name, "method": devices.MethodOATH, "kind": string(key.Kind)}})
	if err := n.svc.registered(ctx, n.audit, user, devices.MethodOATH, dev.Name, n.cfg.GenerateRecoveryCodes); err != nil {
		return nodes.Action{}, err
	}
	ctx.Shared.AddFactor(nodes.FactorOTP)
	return nodes.Goto("success"), nil
}

func (n *oathRegistration) clear(ctx *nodes.Context) {
	delete(ctx.Shared, ctx.LocalKey("uri"))
	delete(ctx.Shared, ctx.LocalKey("tries"))
}

func (n *oathRegistration) ask(ctx *nodes.Context, uri, problem string) nodes.Action {
	cbs := []nodes.Callback{
		nodes.TextOutputCallback(text(n.cfg.ScanMessage, ctx, "Scan the QR code with your authenticator app, then enter the code it shows."), nodes.MessageInfo),
		nodes.HiddenValueCallback(HiddenRegistration, uri),
	}
	if problem != "" {
		cbs = append(cbs, nodes.TextOutputCallback(problem, nodes.MessageError))
	}
	return nodes.Send(append(cbs, nodes.NameCallback(text(n.cfg.Prompt, ctx, "Code from your app")))...)
}
