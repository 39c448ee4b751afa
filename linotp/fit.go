package linotp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/arbor-auth/arbor/journeys"
)

// Journeys reads a journey's head version; *journeys.Repo implements it.
type Journeys interface {
	Head(ctx context.Context, name string) (*journeys.Compiled, error)
}

// secretSteps are the node types that take the secret in front of the code: the
// password (password and data_store_decision) or a device's PIN (token_pin).
var secretSteps = map[string]string{"password": PinPassword, "data_store_decision": PinPassword, "token_pin": PinToken}

// fits checks, at start-up, that the journey's steps can be answered under the policy:
// pass holds a password (password), a token PIN (token_pin) or nothing (none) in front
// of the code, so a journey that asks for another secret, or for one when none is
// sent, could never succeed. A journey not saved yet is not checked; journeys saved
// later are checked as they run (a step the door cannot answer is a 500).
func (d *Door) fits(ctx context.Context, js Journeys) error {
	c, err := js.Head(ctx, d.cfg.Journey)
	if errors.Is(err, journeys.ErrNotFound) {
		d.log.Warn("LinOTP door's journey does not exist yet", "journey", d.cfg.Journey)
		return nil
	}
	if err != nil {
		return fmt.Errorf("linotp: read journey %q: %w", d.cfg.Journey, err)
	}
	for _, typ := range nodeTypes(c.Journey) {
		if want, ok := secretSteps[typ]; ok && want != d.cfg.OTPPin {
			return fmt.Errorf("linotp: journey %q has a %s node, which otppin %s cannot answer (pass holds %s before the code); use the journey %q",
				d.cfg.Journey, typ, d.cfg.OTPPin, passHolds[d.cfg.OTPPin], defaultJourney[d.cfg.OTPPin])
		}
	}
	return nil
}

// passHolds says what pass holds before the code, by policy.
var passHolds = map[string]string{PinPassword: "the password", PinToken: "a token PIN", PinNone: "nothing"}

// nodeTypes lists the node types of j, those on pages included, sorted and unique.
func nodeTypes(j *journeys.Journey) []string {
	var out []string
	for _, n := range j.Nodes {
		out = append(out, n.Type)
		if n.Type != "page" {
			continue
		}
		var page struct {
			Nodes []struct {
				Type string `json:"type"`
			} `json:"nodes"`
		}
		if err := json.Unmarshal(n.Config, &page); err == nil {
			for _, ch := range page.Nodes {
				out = append(out, ch.Type)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
