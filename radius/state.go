package radius

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/arbor-auth/arbor/keys"
	"github.com/arbor-auth/arbor/nodes"
)

// stateMACSize is the length of the State's tag: 128 bits of HMAC-SHA256.
const stateMACSize = keys.MinTagLen

// maxState is the most an attribute holds.
const maxState = 253

// challenge is what an Access-Challenge's State carries to the next Access-Request:
// the flow it names, until when, whether the next request holds for a push, and the
// step the flow waits on (callback types and preset inputs), so the door can answer
// it on any instance without storing anything. It is signed and bound to the client
// and the user: a State is refused from another client, for another user, or once
// expired; the flow itself refuses a step it is no longer waiting on.
type challenge struct {
	Flow    string       `json:"f"`
	Expires int64        `json:"e"`
	Hold    bool         `json:"h,omitempty"`
	Step    []stateInput `json:"s"`
}

// stateInput is one callback of the step: its type and its inputs' preset values.
type stateInput struct {
	Type   string `json:"t"`
	Inputs []any  `json:"i,omitempty"` // name, value, name, value, ...
}

var (
	errStateInvalid = errors.New("the State is not valid for this client and user")
	errStateExpired = errors.New("the State has expired")
	errStateTooBig  = errors.New("the step does not fit in a RADIUS State attribute")
)

// stateCodec signs and checks States.
type stateCodec struct{ signer keys.Signer }

// shortTypes abbreviates the callback types a State carries most, to keep it within
// one attribute; other types travel by their full name.
var shortTypes = map[string]string{
	nodes.TypeName: "N", nodes.TypePassword: "P", nodes.TypeTextInput: "T", nodes.TypeChoice: "C",
	nodes.TypeConfirmation: "K", nodes.TypeTextOutput: "O", nodes.TypePollingWait: "W", nodes.TypeHiddenValue: "H",
	nodes.TypeMetadata: "M",
}

var longTypes = func() map[string]string {
	m := make(map[string]string, len(shortTypes))
	for k, v := range shortTypes {
		m[v] = k
	}
	return m
}()

func stepOf(cbs []nodes.Callback) []stateInput {
	out := make([]stateInput, len(cbs))
	for i, cb := range cbs {
		out[i].Type = cb.Type
		if s, ok := shortTypes[cb.Type]; ok {
			out[i].Type = s
		}
		for _, in := range cb.Input {
			out[i].Inputs = append(out[i].Inputs, in.Name, in.Value)
		}
	}
	return out
}

// callbacks rebuilds the step's callbacks with their preset inputs.
func (c *challenge) callbacks() ([]nodes.Callback, error) {
	out := make([]nodes.Callback, len(c.Step))
	for i, s := range c.Step {
		if len(s.Inputs)%2 != 0 {
			return nil, errStateInvalid
		}
		out[i].Type = s.Type
		if l, ok := longTypes[s.Type]; ok {
			out[i].Type = l
		}
		for j := 0; j < len(s.Inputs); j += 2 {
			name, ok := s.Inputs[j].(string)
			if !ok {
				return nil, errStateInvalid
			}
			out[i].Input = append(out[i].Input, nodes.Field{Name: name, Value: s.Inputs[j+1]})
		}
	}
	return out, nil
}

// stateLabel keeps States apart from any other use of their key.
const stateLabel = "radius state"

func (s stateCodec) mac(clientName, user string, body []byte) []byte {
	return s.signer.Sum(stateLabel, clientName, strings.ToLower(user), string(body))[:stateMACSize]
}

// issue returns the State attribute for c.
func (s stateCodec) issue(clientName, user string, c *challenge) ([]byte, error) {
	body, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	if len(body)+stateMACSize > maxState {
		return nil, errStateTooBig
	}
	return append(body, s.mac(clientName, user, body)...), nil
}

// open checks a State from clientName for user at now and returns what it carries.
func (s stateCodec) open(clientName, user string, state []byte, now time.Time) (*challenge, error) {
	if len(state) <= stateMACSize || len(state) > maxState {
		return nil, errStateInvalid
	}
	body, tag := state[:len(state)-stateMACSize], state[len(state)-stateMACSize:]
	if !s.signer.Verify(tag, stateLabel, clientName, strings.ToLower(user), string(body)) {
		return nil, errStateInvalid
	}
	var c challenge
	if err := json.Unmarshal(body, &c); err != nil || c.Flow == "" {
		return nil, errStateInvalid
	}
	if now.Unix() >= c.Expires {
		return nil, errStateExpired
	}
	return &c, nil
}
