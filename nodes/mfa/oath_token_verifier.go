package mfa

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/oath"
)

// OATHVerifierConfig configures oath_token_verifier. How codes are made (kind,
// algorithm, digits, period) is the device's, stored when it registered; this config
// says only how lenient the check is.
type OATHVerifierConfig struct {
	TOTPWindow       int               `json:"totp_window" default:"1" min:"0" max:"10" doc:"Time steps either side of the device's clock that are accepted (1: the previous, current and next code)."`
	MaxClockDrift    int               `json:"max_clock_drift" default:"5" min:"0" max:"100" doc:"Steps a device's clock may drift from the server's; the drift is learnt from each accepted code, so a slowly drifting phone keeps working."`
	HOTPLookAhead    int               `json:"hotp_look_ahead" default:"10" min:"1" max:"100" doc:"Counter-based codes: how many codes ahead of the expected one are accepted."`
	HOTPResyncWindow int               `json:"hotp_resync_window" default:"100" min:"0" max:"1000" doc:"Counter-based codes: how much further ahead a device may have run and be resynchronised by two consecutive codes (0: never)."`
	Prompt           map[string]string `json:"prompt" default:"{\"en\":\"Enter the code from your authenticator app\"}" doc:"Prompt for the code, by locale."`
	ReusedMessage    map[string]string `json:"reused_code_message" default:"{\"en\":\"Please wait {{seconds}} seconds to log in again.\"}" doc:"Shown when a code's time step was already used, by locale; {{seconds}} is the time left until the app shows a new code."`
	WrongCodeMessage map[string]string `json:"wrong_code_message" default:"{\"en\":\"That code is not right.\"}" doc:"Shown on the step the flow asks next after a wrong code, joined with what a retry_limit adds, by locale."`
}

func (c *OATHVerifierConfig) policy() oath.Policy {
	return oath.Policy{Window: c.TOTPWindow, MaxDrift: c.MaxClockDrift, LookAhead: c.HOTPLookAhead, ResyncWindow: c.HOTPResyncWindow}
}

// registerOathTokenVerifier adds the oath_token_verifier node type to r.
func registerOathTokenVerifier(r *nodes.Registry) {
	nodes.Register(r, nodes.Spec[OATHVerifierConfig]{
		Type:     "oath_token_verifier",
		Title:    "OATH Token Verifier",
		Category: "mfa",
		Summary:  "Asks for a one-time code from the user's authenticator app (TOTP or HOTP) and checks it.",
		Description: "Sends a NameCallback for the code. Each code is accepted once: a right code whose time step was already used " +
			"asks again with \"Please wait N seconds to log in again.\", N being the time until the app shows a new code. Time-based " +
			"codes are checked in a window around the device's learnt clock drift; counter-based ones a few codes ahead, with " +
			"resynchronisation on two consecutive codes further ahead. Attempts go through the guessing defence like passwords. " +
			"Outcomes: success (the flow records the otp factor); failure on a wrong code; not_registered when the user has no " +
			"authenticator app (mfaMethod is set to oath for mfa_registration_options). A code typed at an otp_or_push_collector " +
			"just before (transient oneTimePassword) is checked without asking again. After a token_pin node, only a code of a device " +
			"whose PIN the user gave is accepted.",
		Input: true,
		Outcomes: []nodes.Outcome{
			{ID: "success", Label: "Success"}, {ID: "failure", Label: "Failure"}, {ID: "not_registered", Label: "Not Registered"},
		},
		New: func(c *OATHVerifierConfig, b *nodes.Build) (nodes.Node, error) {
			return &oathVerifier{cfg: c, pol: c.policy(), svc: servicesOf(b), audit: auditOf(b), guard: nodes.GuardOf(b)}, nil
		},
	})
}

type oathVerifier struct {
	cfg   *OATHVerifierConfig
	pol   oath.Policy
	svc   services
	guard nodes.Guard
	audit *audit.Logger
}

// Process runs the node for one visit of a flow (nodes.Node).
func (n *oathVerifier) Process(ctx *nodes.Context) (nodes.Action, error) {
	if err := n.svc.need(false, true); err != nil {
		return nodes.Action{}, err
	}
	user, err := requireUser(ctx)
	if err != nil {
		return nodes.Action{}, err
	}
	code := ""
	if cb, ok := nodes.Find(ctx.Callbacks, nodes.TypeName); ok {
		code = strings.TrimSpace(cb.InString())
	} else if ctx.Callbacks == nil && ctx.Transient.Has(KeyOneTimePassword) {
		// Typed at an earlier prompt of this request (otp_or_push_collector).
		code = strings.TrimSpace(ctx.Transient.String(KeyOneTimePassword))
		delete(ctx.Transient, KeyOneTimePassword)
	}
	if code == "" {
		if ctx.Callbacks == nil {
			have, err := n.svc.devices.OATHDevices(ctx.Ctx, ctx.Realm, user)
			if err != nil {
				return nodes.Action{}, err
			}
			if only := pinDevices(ctx); only != nil {
				have = slices.DeleteFunc(have, func(d devices.OATHDevice) bool { return !slices.Contains(only, d.ID) })
			}
			if len(have) == 0 {
				ctx.Shared[KeyMFAMethod] = devices.MethodOATH
				return nodes.Goto("not_registered"), nil
			}
		}
		return n.ask(ctx, ""), nil
	}
	res, err := checkCode(ctx, n.svc.devices, n.guard, n.audit, user, code, n.pol)
	if err != nil {
		return nodes.Action{}, err
	}
	switch {
	case !res.Registered:
		ctx.Shared[KeyMFAMethod] = devices.MethodOATH
		return nodes.Goto("not_registered"), nil
	case res.Outcome == oath.Accepted:
		return nodes.Goto("success"), nil
	case res.Outcome == oath.Reused:
		return n.ask(ctx, reusedMessage(n.cfg.ReusedMessage, ctx, res.Wait)), nil
	default:
		// The engine shows why on the step the flow asks next, joined with what a
		// retry_limit on the way adds ("2 attempts left."), as one error message.
		return nodes.Action{Outcome: "failure", StepError: text(n.cfg.WrongCodeMessage, ctx, "That code is not right.")}, nil
	}
}

func (n *oathVerifier) ask(ctx *nodes.Context, problem string) nodes.Action {
	var cbs []nodes.Callback
	if problem != "" {
		cbs = append(cbs, nodes.TextOutputCallback(problem, nodes.MessageError))
	}
	return nodes.Send(append(cbs, nodes.NameCallback(text(n.cfg.Prompt, ctx, "Enter the code from your authenticator app")))...)
}

// reusedMessage fills {{seconds}} in the localized message for a reused code (seed
// 001's "Please wait x seconds to login again").
func reusedMessage(m map[string]string, ctx *nodes.Context, wait time.Duration) string {
	msg := text(m, ctx, "Please wait {{seconds}} seconds to log in again.")
	return strings.ReplaceAll(msg, "{{seconds}}", strconv.Itoa(int(wait/time.Second)))
}
