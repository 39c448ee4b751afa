package api

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"
)

// An authId is a compact JWS (HS256) whose claims carry AM's names: the SDK treats it
// as opaque, but AM's own UI decodes it and reads authIndexValue. It names the flow
// (sessionId). The flow itself stays server-side in the store, except at its first
// question: the engine then hands it over sealed (AES-GCM bound to the flow id and
// realm, at most engine.MaxSealedLen bytes) and the authId carries it in one more claim,
// flow, so that a start writes nothing and the first answer reads nothing (see the
// engine's package doc for how exactly-once and replay hold).
//
// The codec is written by hand rather than with a JWT library because it sits on every
// step: the header is fixed and precomputed, the claims are appended without reflection,
// and the HMAC state is pooled. Verification is deliberately narrower than a general JWT
// parser: the token must be exactly three unpadded base64url segments with nothing else
// in them (no padding, no line breaks), the header must be byte for byte the one this
// codec issues (so "alg":"none", RS256/HS512 or any other header is refused before
// anything is decoded), the signature is compared in constant time before the claims are
// read, and the claims must hold a sessionId and a numeric exp.

// authIDHeader is base64url(`{"alg":"HS256","typ":"JWT"}`), the header golang-jwt wrote
// for the authIds issued before this codec, so those stay valid across an upgrade.
const authIDHeader = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

// maxAuthIDLen bounds what is looked at before anything is decoded.
const maxAuthIDLen = 4096

// authIDClaims are the claims of an authId, AM's names.
type authIDClaims struct {
	OTK            string   `json:"otk"`
	AuthIndexType  string   `json:"authIndexType"`
	AuthIndexValue string   `json:"authIndexValue"`
	Realm          string   `json:"realm"`
	SessionID      string   `json:"sessionId"`
	Exp            *float64 `json:"exp"`
	Iat            *float64 `json:"iat,omitempty"`
	// Flow is the flow's sealed first step (engine.Result.Sealed), if any.
	Flow string `json:"flow,omitempty"`
}

var (
	errAuthIDInvalid = errors.New("AuthId JWT Signature not valid")
	errAuthIDExpired = errors.New("authId expired")
)

var otkEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// authIDCodec issues and verifies authIds with one key. It is safe for concurrent use.
type authIDCodec struct {
	key  []byte
	macs sync.Pool // hash.Hash: HMAC-SHA256 keyed with key
}

func newAuthIDCodec(key []byte) *authIDCodec {
	c := &authIDCodec{key: key}
	c.macs.New = func() any { return hmac.New(sha256.New, c.key) }
	return c
}

// sign appends the base64url HMAC-SHA256 of signingInput to dst.
func (c *authIDCodec) sign(dst []byte, signingInput []byte) []byte {
	var sum [sha256.Size]byte
	c.mac(signingInput, sum[:0])
	return base64.RawURLEncoding.AppendEncode(dst, sum[:])
}

// mac appends the HMAC-SHA256 of msg to dst.
func (c *authIDCodec) mac(msg, dst []byte) []byte {
	h := c.macs.Get().(hash.Hash)
	h.Reset()
	h.Write(msg)
	dst = h.Sum(dst)
	c.macs.Put(h)
	return dst
}

// issue signs an authId referring to flow flowID that expires at exp, carrying sealed
// (the flow's sealed step) when it is not empty.
func (c *authIDCodec) issue(flowID, journey, realm, sealed string, exp, now time.Time) string {
	var otk [17]byte
	rand.Read(otk[:])
	var otkText [28]byte // base32 of 17 bytes, unpadded
	otkEncoding.Encode(otkText[:], otk[:])

	buf := claimsBufs.Get().(*[]byte)
	defer putClaimsBuf(buf)
	p := append((*buf)[:0], `{"otk":"`...)
	p = append(p, otkText[:]...)
	p = append(p, `","authIndexType":"service","authIndexValue":`...)
	p = appendJSONString(p, journey)
	p = append(p, `,"realm":`...)
	p = appendJSONString(p, realm)
	p = append(p, `,"sessionId":`...)
	p = appendJSONString(p, flowID)
	p = append(p, `,"exp":`...)
	p = strconv.AppendInt(p, exp.Unix(), 10)
	p = append(p, `,"iat":`...)
	p = strconv.AppendInt(p, now.Unix(), 10)
	if sealed != "" {
		p = append(p, `,"flow":`...)
		p = appendJSONString(p, sealed)
	}
	p = append(p, '}')
	*buf = p

	n := len(authIDHeader) + 1 + base64.RawURLEncoding.EncodedLen(len(p)) + 1 + base64.RawURLEncoding.EncodedLen(sha256.Size)
	tok := make([]byte, 0, n)
	tok = append(tok, authIDHeader...)
	tok = append(tok, '.')
	tok = base64.RawURLEncoding.AppendEncode(tok, p)
	tok = c.sign(append(tok, '.'), tok)
	// tok is sized exactly and never written again: the string shares its bytes rather
	// than copying them (about 1 KB an authId with a sealed flow), as strings.Builder does.
	return unsafe.String(unsafe.SliceData(tok), len(tok))
}

// claimsBufs holds the buffers an authId's claims are written in before they are
// encoded: with a sealed flow they are about 700 bytes, and a fresh buffer for each
// start was 2 allocations and 1.5 KB of garbage a login
// (go test ./api -run '^$' -bench 'LoginHandlerParallel/embedded/c32' -memprofile).
var claimsBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, 1024)
	return &b
}}

// putClaimsBuf gives b back to claimsBufs, unless a rare long claim grew it: the pool
// keeps only buffers the size of the usual authId.
func putClaimsBuf(b *[]byte) {
	if cap(*b) <= maxAuthIDLen {
		claimsBufs.Put(b)
	}
}

// parse verifies an authId and returns its claims: errAuthIDInvalid for a malformed or
// forged one, errAuthIDExpired for a genuine one past its flow's timeout.
func (c *authIDCodec) parse(tok []byte, now time.Time) (*authIDClaims, error) {
	if len(tok) > maxAuthIDLen || len(tok) <= len(authIDHeader)+1 || string(tok[:len(authIDHeader)]) != authIDHeader || tok[len(authIDHeader)] != '.' {
		return nil, errAuthIDInvalid
	}
	rest := tok[len(authIDHeader)+1:]
	dot := bytes.IndexByte(rest, '.')
	if dot <= 0 || !allBase64URL(rest[:dot]) || !allBase64URL(rest[dot+1:]) {
		return nil, errAuthIDInvalid
	}
	payload, sig := rest[:dot], rest[dot+1:]
	if len(sig) != base64.RawURLEncoding.EncodedLen(sha256.Size) {
		return nil, errAuthIDInvalid
	}
	var got [sha256.Size]byte
	if n, err := base64.RawURLEncoding.Strict().Decode(got[:], sig); err != nil || n != sha256.Size {
		return nil, errAuthIDInvalid
	}
	var want [sha256.Size]byte
	c.mac(tok[:len(authIDHeader)+1+dot], want[:0])
	if !hmac.Equal(got[:], want[:]) {
		return nil, errAuthIDInvalid
	}
	raw := make([]byte, base64.RawURLEncoding.DecodedLen(len(payload)))
	n, err := base64.RawURLEncoding.Strict().Decode(raw, payload)
	if err != nil {
		return nil, errAuthIDInvalid
	}
	// raw is never written again, so the claims' strings are cut from it as it is
	// (jsonx.NewSharedDecoder) rather than from a copy.
	cl, err := decodeClaims(raw[:n], unsafe.String(unsafe.SliceData(raw), n))
	if err != nil || cl.SessionID == "" || cl.Exp == nil {
		return nil, errAuthIDInvalid
	}
	exp := *cl.Exp
	if math.IsNaN(exp) || math.IsInf(exp, 0) {
		return nil, errAuthIDInvalid
	}
	// Whole seconds, as JWT NumericDates are issued; expired from that second on.
	if !now.Before(time.Unix(int64(exp), 0)) {
		return nil, errAuthIDExpired
	}
	return &cl, nil
}

// base64URL marks the bytes of the unpadded base64url alphabet.
var base64URL = func() (t [256]bool) {
	for _, ch := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		t[ch] = true
	}
	return t
}()

// allBase64URL reports whether b is all base64url letters. A table lookup rather than
// a chain of ranges: this scan of a 1 KB authId was 2 % of a login's CPU in process
// (go test ./api -run '^$' -bench 'LoginHandlerParallel/embedded/c32' -cpuprofile).
func allBase64URL(b []byte) bool {
	for _, ch := range b {
		if !base64URL[ch] {
			return false
		}
	}
	return true
}

// appendJSONString appends s as a JSON string. Names and ids are plain ASCII and take
// the fast path; anything else is escaped by encoding/json.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if ch := s[i]; ch < 0x20 || ch == '"' || ch == '\\' || ch == '<' || ch == '>' || ch == '&' || ch >= utf8.RuneSelf {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
