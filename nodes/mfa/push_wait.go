package mfa

import (
	"strconv"
	"strings"
	"time"

	"github.com/arbor-auth/arbor/audit"
	"github.com/arbor-auth/arbor/devices"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/oath"
)

// PushWaitConfig configures push_wait.
type PushWaitConfig struct {
	SecondsToWait    int               `json:"seconds_to_wait" default:"5" min:"1" max:"60" doc:"Seconds to wait before checking the answer; clients poll, no request is held open."`
	WaitingMessage   map[string]string `json:"waiting_message" default:"{\"en\":\"Waiting for response...\"}" doc:"Message while waiting, by locale; {{time}} is the seconds."`
	ChallengeMessage map[string]string `json:"challenge_message" default:"{\"en\":\"Tap the number {{challenge}} on the Push Notification to continue.\"}" doc:"Message with number matching, by locale; {{challenge}} is the number."`
	ExitMessage      map[string]string `json:"exit_message" default:"{\"en\":\"Cancel\"}" doc:"Label of the exit button, by locale (for example \"Lost phone? Use a recovery code\")."`
	AcceptCode       bool              `json:"accept_code" default:"false" doc:"Offer a field for a one-time code from the user's authenticator app instead of answering the push (a TextInputCallback). A right code takes the code outcome and cancels the push, so a late approval does nothing."`
	AcceptRecovery   bool              `json:"accept_recovery_code" default:"false" doc:"With accept_code, the field also takes one of the user's recovery codes (used up)."`
	CodePrompt       map[string]string `json:"code_prompt" default:"{\"en\":\"Enter a code instead\"}" doc:"Label of the code field, by locale."`
	WrongCodeMessage map[string]string `json:"wrong_code_message" default:"{\"en\":\"That code is not right.\"}" doc:"Shown when the code typed is wrong, by locale; the push is still waiting."`
	ReusedMessage    map[string]string `json:"reused_code_message" default:"{\"en\":\"Please wait {{seconds}} seconds to log in again.\"}" doc:"Shown when a one-time code's time step was already used, by locale."`
}

// Validate checks what the schema cannot say.
func (c *PushWaitConfig) Validate() error {
	if c.AcceptRecovery && !c.AcceptCode {
		return nodes.Problems{{Pointer: "/accept_recovery_code", Message: "accept_recovery_code needs accept_code"}}
	}
	return nil
}

func (c *PushWaitConfig) outcomes() []nodes.Outcome {
	out := []nodes.Outcome{{ID: "done", Label: "Done"}, {ID: "exit", Label: "Exit"}}
	if c.AcceptCode {
		out = append(out, nodes.Outcome{ID: "code", Label: "Code"})
	}
	return out
}

// HiddenChallenge is the id of the hidden value carrying the number to match (AM's).
const HiddenChallenge = "pushChallengeNumber"

// registerPushWait adds the push_wait node type to r.
func registerPushWait(r *nodes.Registry) {
	nodes.Register(r, nodes.Spec[PushWaitConfig]{
		Type:     "push_wait",
		Title:    "Push Wait",
		Category: "mfa",
		Summary:  "Waits for the user to answer the push, showing the number to match; the user may exit, or type a one-time code instead.",
		Description: "Sends a PollingWaitCallback with the wait time, the number to match in a HiddenValueCallback pushChallengeNumber " +
			"(and in the message), and an exit ConfirmationCallback preset to 100 (submit 0 to exit). Outcomes: done once the wait has " +
			"passed (go to push_result_verifier), exit when the user pressed exit. With accept_code it also sends a TextInputCallback " +
			"for a one-time code (or, with accept_recovery_code, a recovery code) typed instead of answering the push: a right code " +
			"takes the code outcome, records the otp (or recovery_code) factor and cancels the push; a wrong one is counted by the " +
			"guessing defence and the wait goes on.",
		Input:       true,
		OutcomesFor: (*PushWaitConfig).outcomes,
		New: func(c *PushWaitConfig, b *nodes.Build) (nodes.Node, error) {
			return &pushWait{cfg: c, svc: servicesOf(b), audit: auditOf(b), guard: nodes.GuardOf(b)}, nil
		},
	})
}

type pushWait struct {
	cfg   *PushWaitConfig
	svc   services
	guard nodes.Guard
	audit *audit.Logger
}

// Process runs the node for one visit of a flow (nodes.Node).
func (n *pushWait) Process(ctx *nodes.Context) (nodes.Action, error) {
	endKey := ctx.LocalKey("end_time")
	problem := ""
	if ctx.Callbacks != nil {
		if code := n.typedCode(ctx); code != "" {
			ok, msg, err := n.takeCode(ctx, code)
			if err != nil {
				return nodes.Action{}, err
			}
			if ok {
				delete(ctx.Shared, endKey)
				return nodes.Goto("code"), nil
			}
			problem = msg
		}
		if i, ok := confirmationChoice(ctx.Callbacks); ok && i == 0 {
			delete(ctx.Shared, endKey)
			// The login goes another way: the device stops showing the push.
			if id := ctx.Shared.String(KeyMessageID); id != "" && n.svc.push != nil {
				if err := n.svc.push.Cancel(ctx.Ctx, id, ctx.FlowID); err != nil {
					return nodes.Action{}, err
				}
			}
			return nodes.Goto("exit"), nil
		}
		// After a refused code the page says why before the wait moves on.
		if end, ok := ctx.Shared.Int64(endKey); ok && ctx.Now.UnixMilli() >= end && problem == "" {
			delete(ctx.Shared, endKey)
			return nodes.Goto("done"), nil
		}
	} else {
		ctx.Shared[endKey] = ctx.Now.Add(time.Duration(n.cfg.SecondsToWait) * time.Second).UnixMilli()
	}
	wait := n.cfg.SecondsToWait * 1000
	if end, ok := ctx.Shared.Int64(endKey); ok {
		// A client that polls early is told to wait only what remains.
		if rem := int(end - ctx.Now.UnixMilli()); rem > 0 && rem < wait {
			wait = rem
		}
	}
	cbs := make([]nodes.Callback, 0, 5)
	if num, ok := ctx.Shared.Int(KeyNumber); ok && num > 0 {
		msg := strings.ReplaceAll(text(n.cfg.ChallengeMessage, ctx, "Tap the number {{challenge}} on the Push Notification to continue."), "{{challenge}}", strconv.Itoa(num))
		cbs = append(cbs, nodes.PollingWaitCallback(wait, msg), nodes.HiddenValueCallback(HiddenChallenge, strconv.Itoa(num)))
	} else {
		msg := strings.ReplaceAll(text(n.cfg.WaitingMessage, ctx, "Waiting for response..."), "{{time}}", strconv.Itoa(n.cfg.SecondsToWait))
		cbs = append(cbs, nodes.PollingWaitCallback(wait, msg))
	}
	if n.cfg.AcceptCode {
		if problem != "" {
			cbs = append(cbs, nodes.TextOutputCallback(problem, nodes.MessageError))
		}
		cbs = append(cbs, nodes.TextInputCallback(text(n.cfg.CodePrompt, ctx, "Enter a code instead"), ""))
	}
	cbs = append(cbs, nodes.ConfirmationCallback("", []string{text(n.cfg.ExitMessage, ctx, "Cancel")}, 0, nodes.ConfirmationNotPressed))
	return nodes.Send(cbs...), nil
}

// typedCode returns the code typed in the code field, if the node offers one.
func (n *pushWait) typedCode(ctx *nodes.Context) string {
	if !n.cfg.AcceptCode {
		return ""
	}
	cb, ok := nodes.Find(ctx.Callbacks, nodes.TypeTextInput)
	if !ok {
		return ""
	}
	return strings.TrimSpace(cb.InString())
}

// takeCode checks a code typed instead of answering the push. A right one cancels the
// push, so that a late approval does nothing, and clears it from the flow; a refused
// one returns the message to show while the wait goes on.
func (n *pushWait) takeCode(ctx *nodes.Context, code string) (bool, string, error) {
	if err := n.svc.need(true, true); err != nil {
		return false, "", err
	}
	user, err := requireUser(ctx)
	if err != nil {
		return false, "", err
	}
	ok := false
	if n.cfg.AcceptRecovery && devices.NormalizeRecoveryCode(code) != "" {
		if ok, err = useRecoveryCode(ctx, n.svc.devices, n.guard, n.audit, user, code); err != nil {
			return false, "", err
		}
	} else {
		res, err := checkCode(ctx, n.svc.devices, n.guard, n.audit, user, code, oath.DefaultPolicy)
		if err != nil {
			return false, "", err
		}
		if res.Outcome == oath.Reused {
			return false, reusedMessage(n.cfg.ReusedMessage, ctx, res.Wait), nil
		}
		ok = res.Outcome == oath.Accepted
	}
	if !ok {
		return false, text(n.cfg.WrongCodeMessage, ctx, "That code is not right."), nil
	}
	if id := ctx.Shared.String(KeyMessageID); id != "" {
		// The code is used up already: a store failure here must not fail the step, or
		// its retry would find the code spent. The push then merely expires unread.
		if err := n.svc.push.Cancel(ctx.Ctx, id, ctx.FlowID); err != nil {
			ctx.Log.Warn("push not cancelled after a code was typed instead", "message_id", id, "err", err)
		}
	}
	delete(ctx.Shared, KeyMessageID)
	delete(ctx.Shared, KeyNumber)
	delete(ctx.Shared, KeyTimeout)
	return true, "", nil
}
