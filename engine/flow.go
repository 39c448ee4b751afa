package engine

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/arbor-auth/arbor/nodes"
)

// Flow is one run of a journey: what the engine persists between HTTP steps. It is
// stored as compact JSON under "flow:{<id>}" (one key, one hash tag), read once and
// conditionally written once per step.
//
// Transient state is never part of a Flow: passwords and other request-only values do
// not reach the store.
type Flow struct {
	ID      string `json:"-"`
	Journey string `json:"j"`
	// Version pins the flow to the journey version it started on.
	Version int    `json:"v"`
	Realm   string `json:"r"`
	// Node is the node waiting for input.
	Node string `json:"n"`
	// Shared is the flow's shared state.
	Shared nodes.State `json:"s,omitempty"`
	// Pending describes the callbacks sent, to check what the client answers.
	Pending []Pending `json:"p,omitempty"`
	// Steps counts node visits over the flow's life.
	Steps int `json:"c"`
	// Started and Expires are unix milliseconds.
	Started int64 `json:"t0"`
	Expires int64 `json:"exp"`
	// Done marks a finished flow kept briefly as a tombstone so a replayed final step
	// cannot finish it twice.
	Done bool `json:"d,omitempty"`

	rev uint64
}

// Pending is one callback the engine sent: its type and the suffixes of its inputs.
type Pending struct {
	Type   string   `json:"t"`
	Inputs []string `json:"i,omitempty"`
}

// ExpiresAt returns when the flow times out.
func (f *Flow) ExpiresAt() time.Time { return time.UnixMilli(f.Expires) }

func flowKey(id string) string { return "flow:{" + id + "}" }

func newFlowID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (f *Flow) marshal() []byte {
	b, err := json.Marshal(f)
	if err != nil {
		// Shared state holds only JSON values nodes put there; a node that stores
		// something unencodable is a programming error caught by its tests.
		panic("engine: flow state is not JSON: " + err.Error())
	}
	return b
}

func pendingOf(cbs []nodes.Callback) []Pending {
	out := make([]Pending, len(cbs))
	for i, c := range cbs {
		p := Pending{Type: c.Type}
		for _, in := range c.Input {
			p.Inputs = append(p.Inputs, in.Name)
		}
		out[i] = p
	}
	return out
}
