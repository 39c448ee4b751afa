package fortigate

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/arbor-auth/arbor/keys"
)

// A login under way continues with the session_key of its answers: one key for the
// whole login, as FortiOS's. It names the flow (whose state, and the step it waits on,
// are in the store, so any instance serves the next request), the user, whether a
// session key was requested, and when the flow expires. It is signed and bound to the
// user; it is not secret (the flow id alone lets nobody in: the flow still needs its
// answers), and it is never a session: no door validates it as one.

// pendingPrefix starts a login key, so it is never mistaken for a session key.
const pendingPrefix = "L."

// macSize is the length of a login key's tag: 128 bits of HMAC-SHA256.
const macSize = keys.MinTagLen

// maxKey bounds a login key presented back.
const maxKey = 4096

var (
	errKeyInvalid = errors.New("the session_key is not one this server issued for this user")
	errKeyExpired = errors.New("the login has expired: start again")
)

// pending is what a login key carries.
type pending struct {
	Flow       string `json:"f"`
	User       string `json:"u"`
	RequestKey bool   `json:"k,omitempty"`
	Expires    int64  `json:"e"`
}

// keyCodec signs and checks login keys.
type keyCodec struct{ signer keys.Signer }

// keyLabel keeps login keys apart from any other use of their key.
const keyLabel = "fortigate login"

func (c keyCodec) mac(user string, body []byte) []byte {
	return c.signer.Sum(keyLabel, strings.ToLower(user), string(body))[:macSize]
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
	if !c.signer.Verify(tag, keyLabel, strings.ToLower(p.User), string(body)) {
		return nil, errKeyInvalid
	}
	if now.Unix() >= p.Expires {
		return nil, errKeyExpired
	}
	return &p, nil
}
