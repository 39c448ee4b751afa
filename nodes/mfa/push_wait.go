package mfa

import (
	"strconv"
	"strings"
	"time"

	"github.com/arbor-auth/arbor/nodes"
)

// PushWaitConfig configures push_wait.
type PushWaitConfig struct {
	SecondsToWait    int               `json:"seconds_to_wait" default:"5" min:"1" max:"60" doc:"Seconds to wait before checking the answer; clients poll, no request is held open."`
	WaitingMessage   map[string]string `json:"waiting_message" default:"{\"en\":\"Waiting for response...\"}" doc:"Message while waiting, by locale; {{time}} is the seconds."`
	ChallengeMessage map[string]string `json:"challenge_message" default:"{\"en\":\"Tap the number {{challenge}} on the Push Notification to continue.\"}" doc:"Message with number matching, by locale; {{challenge}} is the number."`
	ExitMessage      map[string]string `json:"exit_message" default:"{\"en\":\"Cancel\"}" doc:"Label of the exit button, by locale (for example \"Lost phone? Use a recovery code\")."`
}

// HiddenChallenge is the id of the hidden value carrying the number to match (AM's).
const HiddenChallenge = "pushChallengeNumber"

func init() {
	add(func(r *nodes.Registry) {
		nodes.Register(r, nodes.Spec[PushWaitConfig]{
			Type:     "push_wait",
			Title:    "Push Wait",
			Category: "mfa",
			Summary:  "Waits for the user to answer the push, showing the number to match; the user may exit instead.",
			Description: "Sends a PollingWaitCallback with the wait time, the number to match in a HiddenValueCallback pushChallengeNumber " +
				"(and in the message), and an exit ConfirmationCallback preset to 100 (submit 0 to exit). Outcomes: done once the wait has " +
				"passed (go to push_result_verifier), exit when the user pressed exit.",
			Input:    true,
			Outcomes: []nodes.Outcome{{ID: "done", Label: "Done"}, {ID: "exit", Label: "Exit"}},
			New: func(c *PushWaitConfig, b *nodes.Build) (nodes.Node, error) {
				return &pushWait{cfg: c, svc: servicesOf(b)}, nil
			},
		})
	})
}

type pushWait struct {
	cfg *PushWaitConfig
	svc services
}

// Process runs the node for one visit of a flow (nodes.Node).
func (n *pushWait) Process(ctx *nodes.Context) (nodes.Action, error) {
	endKey := ctx.LocalKey("end_time")
	if ctx.Callbacks != nil {
		if i, ok := confirmationChoice(ctx.Callbacks); ok && i == 0 {
			delete(ctx.Shared, endKey)
			// The login goes another way: the device stops showing the push.
			if id := ctx.Shared.String(KeyMessageID); id != "" && n.svc.push != nil {
				if err := n.svc.push.Withdraw(ctx.Ctx, id, ctx.FlowID); err != nil {
					return nodes.Action{}, err
				}
			}
			return nodes.Goto("exit"), nil
		}
		if end, ok := ctx.Shared.Int64(endKey); ok && ctx.Now.UnixMilli() >= end {
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
	cbs := make([]nodes.Callback, 0, 3)
	if num, ok := ctx.Shared.Int(KeyNumber); ok && num > 0 {
		msg := strings.ReplaceAll(text(n.cfg.ChallengeMessage, ctx, "Tap the number {{challenge}} on the Push Notification to continue."), "{{challenge}}", strconv.Itoa(num))
		cbs = append(cbs, nodes.PollingWaitCallback(wait, msg), nodes.HiddenValueCallback(HiddenChallenge, strconv.Itoa(num)))
	} else {
		msg := strings.ReplaceAll(text(n.cfg.WaitingMessage, ctx, "Waiting for response..."), "{{time}}", strconv.Itoa(n.cfg.SecondsToWait))
		cbs = append(cbs, nodes.PollingWaitCallback(wait, msg))
	}
	cbs = append(cbs, nodes.ConfirmationCallback("", []string{text(n.cfg.ExitMessage, ctx, "Cancel")}, 0, nodes.ConfirmationNotPressed))
	return nodes.Send(cbs...), nil
}
