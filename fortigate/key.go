package fortigate

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/arbor-auth/arbor/nodes"
)

// A login under way continues with the session_key of its last answer. That key names
// the flow (whose state is in the store, so any instance serves the next request) and
// carries what the door must know to answer its step without another store read: the
// step's callbacks with their preset inputs, its stage, the user and whether a session
// key was requested. It is signed, bound to the user, and expires with the flow; it is
// not secret (the flow id alone lets nobody in: the flow still needs its answers), and
// it is never a session: no door validates it as one.

// pendingPrefix starts a login key, so it is never mistaken for a session key.
const pendingPrefix = "L."

// macSize is the length of a login key's tag: 128 bits of HMAC-SHA256.
const macSize = 16

// maxKey bounds a login key presented back.
const maxKey = 4096

var (
	errKeyInvalid = errors.New("the session_key is not one this server issued for this user")
	errKeyExpired = errors.New("the login has expired: start again")
)

// pending is what a login key carries.
type pending struct {
	Flow       string      `json:"f"`
	User       string      `json:"u"`
	RequestKey bool        `json:"k,omitempty"`
	Expires    int64       `json:"e"`
	Stage      string      `json:"g,omitempty"`
	Step       []stepInput `json:"s"`
}

// stepInput is one callback of the step: its type and its inputs' names and preset
// values, in order.
type stepInput struct {
	Type   string `json:"t"`
	Inputs []any  `json:"i,omitempty"` // name, value, name, value, ...
}

func stepOf(cbs []nodes.Callback) []stepInput {
	out := make([]stepInput, len(cbs))
	for i, cb := range cbs {
		out[i].Type = cb.Type
		for _, in := range cb.Input {
			out[i].Inputs = append(out[i].Inputs, in.Name, in.Value)
		}
	}
	return out
}

// callbacks rebuilds the step's callbacks with their preset inputs.
func (p *pending) callbacks() ([]nodes.Callback, error) {
	out := make([]nodes.Callback, len(p.Step))
	for i, s := range p.Step {
		if len(s.Inputs)%2 != 0 {
			return nil, errKeyInvalid
		}
		out[i].Type = s.Type
		for j := 0; j < len(s.Inputs); j += 2 {
			name, ok := s.Inputs[j].(string)
			if !ok {
				return nil, errKeyInvalid
			}
			out[i].Input = append(out[i].Input, nodes.Field{Name: name, Value: s.Inputs[j+1]})
		}
	}
	return out, nil
}

// keyCodec signs and checks login keys.
type keyCodec struct{ key []byte }

func (c keyCodec) mac(user string, body []byte) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte("fortigate login\x00"))
	m.Write([]byte(strings.ToLower(user)))
	m.Write([]byte{0})
	m.Write(body)
	return m.Sum(nil)[:macSize]
}

// issue returns the login key for p.
func (c keyCodec) issue(p *pending) (string, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	return pendingPrefix + enc.EncodeToString(body) + "." + enc.EncodeToString(c.mac(p.User, body)), nil
}

// isLoginKey reports whether key has the form of a login key (not of a session key).
func isLoginKey(key string) bool { return strings.HasPrefix(key, pendingPrefix) }

// open checks a login key at now and returns what it carries.
func (c keyCodec) open(key string, now time.Time) (*pending, error) {
	if len(key) > maxKey || !isLoginKey(key) {
		return nil, errKeyInvalid
	}
	b64, tag64, ok := strings.Cut(strings.TrimPrefix(key, pendingPrefix), ".")
	if !ok {
		return nil, errKeyInvalid
	}
	enc := base64.RawURLEncoding
	body, err1 := enc.DecodeString(b64)
	tag, err2 := enc.DecodeString(tag64)
	if err1 != nil || err2 != nil || len(tag) != macSize {
		return nil, errKeyInvalid
	}
	var p pending
	if err := json.Unmarshal(body, &p); err != nil || p.Flow == "" || p.User == "" {
		return nil, errKeyInvalid
	}
	if !hmac.Equal(tag, c.mac(p.User, body)) {
		return nil, errKeyInvalid
	}
	if now.Unix() >= p.Expires {
		return nil, errKeyExpired
	}
	return &p, nil
}
