// Package keys holds Arbor's key material: one master secret from which every purpose
// key is derived (HKDF-SHA256), so an operator configures a single secret and every
// instance sharing a store derives the same keys.
//
// Purposes are fixed strings; a key derived for one purpose is useless for another. The
// master secret never reaches the store or the logs.
package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// MinSecretLen is the shortest master secret accepted, in bytes.
const MinSecretLen = 32

// Purposes of derived keys.
const (
	PurposeAuthID   = "arbor authId jwt v1"
	PurposeSession  = "arbor session token v1"
	PurposeDevice   = "arbor device secret encryption v1"
	PurposeCSRF     = "arbor csrf v1"
	PurposeCookie   = "arbor cookie v1"
	PurposeRecovery = "arbor recovery code pepper v1"
	PurposePoll     = "arbor poll api v1"
	// PurposeFlow seals secrets a node must keep in a flow between steps (a registration
	// URI), so the flow in the store holds them only encrypted.
	PurposeFlow = "arbor flow secret v1"
	// PurposeSealedFlow seals a flow's first step, which the REST door hands to the
	// client in its authId instead of storing it (engine.SealFirstStep).
	PurposeSealedFlow = "arbor sealed flow v1"
	// PurposeFortiGate signs the FortiGate-style door's keys of logins under way.
	PurposeFortiGate = "arbor fortigate login key v1"
	// PurposeRADIUSState signs the State attribute of the RADIUS door's challenges.
	PurposeRADIUSState = "radius-state"
)

// Ring derives purpose keys from a master secret.
type Ring struct {
	master []byte
}

// New returns a Ring for master, which must be at least MinSecretLen bytes.
func New(master []byte) (*Ring, error) {
	if len(master) < MinSecretLen {
		return nil, fmt.Errorf("keys: master secret is %d bytes, need at least %d", len(master), MinSecretLen)
	}
	return &Ring{master: append([]byte(nil), master...)}, nil
}

// Parse decodes a master secret given as base64 (standard or URL alphabet, padded or not).
func Parse(s string) (*Ring, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return New(b)
		}
	}
	return nil, errors.New("keys: secret is not base64")
}

// Generate returns a Ring with a fresh random master secret.
func Generate() *Ring {
	b := make([]byte, MinSecretLen)
	rand.Read(b)
	return &Ring{master: b}
}

// LoadOrCreate reads the master secret from path, or creates the file (mode 0600) with a
// fresh secret if it does not exist. It is how a single instance keeps its keys across
// restarts without configuration.
func LoadOrCreate(path string) (*Ring, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		r, perr := Parse(string(b))
		if perr != nil {
			return nil, fmt.Errorf("keys: read %s: %w", path, perr)
		}
		return r, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("keys: read %s: %w", path, err)
	}
	r := Generate()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("keys: create %s: %w", filepath.Dir(path), err)
	}
	enc := base64.StdEncoding.EncodeToString(r.master) + "\n"
	if err := os.WriteFile(path, []byte(enc), 0o600); err != nil {
		return nil, fmt.Errorf("keys: write %s: %w", path, err)
	}
	return r, nil
}

// Key returns the 32-byte key for purpose.
func (r *Ring) Key(purpose string) []byte {
	k, err := hkdf.Key(sha256.New, r.master, nil, purpose, 32)
	if err != nil {
		panic(err) // only for lengths over 255*32
	}
	return k
}

// MAC returns HMAC-SHA256 of msg under the key for purpose.
func (r *Ring) MAC(purpose string, msg []byte) []byte {
	m := hmac.New(sha256.New, r.Key(purpose))
	m.Write(msg)
	return m.Sum(nil)
}

// Sealer encrypts and authenticates small secrets at rest (AES-256-GCM).
type Sealer struct {
	aead cipher.AEAD
}

// Sealer returns the AEAD for purpose.
func (r *Ring) Sealer(purpose string) *Sealer {
	block, err := aes.NewCipher(r.Key(purpose))
	if err != nil {
		panic(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return &Sealer{aead: aead}
}

// Seal encrypts plaintext bound to context (for example the owner's id, so a sealed value
// copied onto another record does not open) and returns base64url text.
func (s *Sealer) Seal(plaintext, context []byte) string {
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	out := s.aead.Seal(nonce, nonce, plaintext, context)
	return base64.RawURLEncoding.EncodeToString(out)
}

// ErrOpen reports a sealed value that is malformed, was sealed under another key, or was
// bound to another context.
var ErrOpen = errors.New("keys: cannot open sealed value")

// sealedText is Seal's encoding read strictly: a sealed value has exactly one spelling, so
// text whose unused trailing bits differ from Seal's is refused rather than opened.
var sealedText = base64.RawURLEncoding.Strict()

// Open reverses Seal.
func (s *Sealer) Open(sealed string, context []byte) ([]byte, error) {
	b, err := sealedText.DecodeString(sealed)
	if err != nil || len(b) < s.aead.NonceSize() {
		return nil, ErrOpen
	}
	pt, err := s.aead.Open(nil, b[:s.aead.NonceSize()], b[s.aead.NonceSize():], context)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}
