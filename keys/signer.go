package keys

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
)

// MinTagLen is the shortest tag Signer.Verify accepts, in bytes: 128 bits, the least
// a truncated HMAC-SHA256 keeps (RFC 2104 section 5 asks for at least half the hash).
const MinTagLen = 16

// Signer computes and checks HMAC-SHA256 tags under one purpose's key, for values the
// server issues and later takes back (CSRF tokens, signed cookies, login keys). It is
// cheap to copy and safe for concurrent use.
//
// A message is a list of parts, each preceded by its length, so no two different lists
// are the same message. By convention the first part is a label naming the use, which
// keeps apart two uses of one purpose key (the web pages' CSRF tokens and the FortiGate
// door's ccsrftoken, say).
type Signer struct {
	key []byte
}

// Signer returns the signer for purpose.
func (r *Ring) Signer(purpose string) Signer {
	return Signer{key: r.Key(purpose)}
}

// Sum returns the HMAC-SHA256 tag of parts (32 bytes).
func (s Signer) Sum(parts ...string) []byte {
	m := hmac.New(sha256.New, s.key)
	var n [binary.MaxVarintLen64]byte
	for _, p := range parts {
		m.Write(n[:binary.PutUvarint(n[:], uint64(len(p)))])
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// Verify reports, in constant time, whether tag is Sum(parts...), or its first
// len(tag) bytes for a tag truncated to no fewer than MinTagLen.
func (s Signer) Verify(tag []byte, parts ...string) bool {
	if len(tag) < MinTagLen || len(tag) > sha256.Size {
		return false
	}
	return hmac.Equal(tag, s.Sum(parts...)[:len(tag)])
}

// Verify reports, in constant time, whether tag is MAC(purpose, msg).
func (r *Ring) Verify(purpose string, msg, tag []byte) bool {
	return hmac.Equal(tag, r.MAC(purpose, msg))
}
