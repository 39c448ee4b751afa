package engine

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"

	"github.com/arbor-auth/arbor/internal/jsonx"
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
	// Lead counts the callbacks at the front of Pending that the engine added (a step
	// error); they are taken off the answers before the node sees them.
	Lead int `json:"l,omitempty"`
	// Steps counts node visits over the flow's life.
	Steps int `json:"c"`
	// Started and Expires are unix milliseconds.
	Started int64 `json:"t0"`
	Expires int64 `json:"exp"`
	// Done marks a finished flow kept briefly as a tombstone so a replayed final step
	// cannot finish it twice.
	Done bool `json:"d,omitempty"`
	// Sealed marks a flow that began sealed (SealFirstStep): its first step was handed
	// to the client rather than stored, so its tombstone lives until the flow's expiry,
	// when that step stops opening.
	Sealed bool `json:"sl,omitempty"`

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

// marshal encodes f as json.Marshal does, byte for byte (see appendFlow).
func (f *Flow) marshal() []byte {
	if b, err := f.appendJSON(make([]byte, 0, 256)); err == nil {
		return b
	}
	b, err := json.Marshal(f)
	if err != nil {
		// Shared state holds only JSON values nodes put there; a node that stores
		// something unencodable is a programming error caught by its tests.
		panic("engine: flow state is not JSON: " + err.Error())
	}
	return b
}

// appendJSON appends f as json.Marshal writes it, without reflection; on any error the
// caller uses json.Marshal, which reports it.
func (f *Flow) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"j":`...)
	b = jsonx.AppendString(b, f.Journey)
	b = append(b, `,"v":`...)
	b = strconv.AppendInt(b, int64(f.Version), 10)
	b = append(b, `,"r":`...)
	b = jsonx.AppendString(b, f.Realm)
	b = append(b, `,"n":`...)
	b = jsonx.AppendString(b, f.Node)
	if len(f.Shared) > 0 {
		b = append(b, `,"s":`...)
		var err error
		if b, err = jsonx.AppendMap(b, f.Shared); err != nil {
			return b, err
		}
	}
	if len(f.Pending) > 0 {
		b = append(b, `,"p":[`...)
		for i, p := range f.Pending {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"t":`...)
			b = jsonx.AppendString(b, p.Type)
			if len(p.Inputs) > 0 {
				b = append(b, `,"i":[`...)
				for j, in := range p.Inputs {
					if j > 0 {
						b = append(b, ',')
					}
					b = jsonx.AppendString(b, in)
				}
				b = append(b, ']')
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if f.Lead != 0 {
		b = append(b, `,"l":`...)
		b = strconv.AppendInt(b, int64(f.Lead), 10)
	}
	b = append(b, `,"c":`...)
	b = strconv.AppendInt(b, int64(f.Steps), 10)
	b = append(b, `,"t0":`...)
	b = strconv.AppendInt(b, f.Started, 10)
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, f.Expires, 10)
	if f.Done {
		b = append(b, `,"d":true`...)
	}
	if f.Sealed {
		b = append(b, `,"sl":true`...)
	}
	return append(b, '}'), nil
}

// unmarshalFlow decodes a stored flow as json.Unmarshal would into a zero Flow, through
// the fast path when it can (see package jsonx).
func unmarshalFlow(data []byte, f *Flow) error {
	var fast Flow
	// The flow's strings are cut from one copy of data (jsonx.NewSharedDecoder).
	if fast.decodeJSON(data, string(data)) == nil {
		*f = fast
		return nil
	}
	*f = Flow{}
	return json.Unmarshal(data, f)
}

var flowFields = []string{"j", "v", "r", "n", "s", "p", "c", "t0", "exp", "d", "l", "sl"}

// decodeJSON is the fast path of unmarshalFlow: any input it is unsure of gives
// jsonx.ErrFallback.
func (f *Flow) decodeJSON(data []byte, src string) error {
	return jsonx.DecodeObjectShared(data, src, flowFields, func(d *jsonx.Decoder, i int) (err error) {
		var n int64
		switch i {
		case 0:
			f.Journey, err = d.String()
		case 1:
			n, err = d.Int()
			f.Version = int(n)
		case 2:
			f.Realm, err = d.String()
		case 3:
			f.Node, err = d.String()
		case 4:
			if d.Null() {
				return nil
			}
			var m map[string]any
			if m, err = d.AnyObject(); err == nil {
				f.Shared = m
			}
		case 5:
			if d.Null() {
				return nil
			}
			f.Pending, err = decodePendings(d)
		case 6:
			n, err = d.Int()
			f.Steps = int(n)
		case 7:
			f.Started, err = d.Int()
		case 8:
			f.Expires, err = d.Int()
		case 9:
			f.Done, err = d.Bool()
		case 10:
			n, err = d.Int()
			f.Lead = int(n)
		case 11:
			f.Sealed, err = d.Bool()
		}
		return err
	})
}

func decodePendings(d *jsonx.Decoder) ([]Pending, error) {
	return jsonx.Array(d, func(d *jsonx.Decoder) (Pending, error) {
		var p Pending
		err := p.decodeJSON(d)
		return p, err
	})
}

var pendingFields = []string{"t", "i"}

func (p *Pending) decodeJSON(d *jsonx.Decoder) error {
	return jsonx.Object(d, pendingFields, func(i int) (err error) {
		switch {
		case i == 0:
			p.Type, err = d.String()
		case d.Null():
		default:
			p.Inputs, err = decodeStrings(d)
		}
		return err
	})
}

func decodeStrings(d *jsonx.Decoder) ([]string, error) {
	return jsonx.Array(d, (*jsonx.Decoder).String)
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
