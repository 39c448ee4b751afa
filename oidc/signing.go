package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/arbor-auth/arbor/keys"
	"github.com/arbor-auth/arbor/store"
)

// keyRingKey is the store key of the signing keys, shared by every instance and realm.
const keyRingKey = "oidc:signing-keys"

// PurposeSigningKey seals the signing keys' private halves in the store.
const PurposeSigningKey = "arbor oidc signing key v1"

// storedKey is one signing key as stored: its private half sealed under the master
// secret (PKCS#8, bound to the key id).
type storedKey struct {
	ID      string    `json:"kid"`
	Alg     string    `json:"alg"`
	Sealed  string    `json:"sealed"`
	Created time.Time `json:"created"`
	// Retired is when a newer key replaced it; it stays published until every token
	// it signed has expired.
	Retired time.Time `json:"retired,omitzero"`
}

// signingKey is a parsed key; it implements op.SigningKey and op.Key.
type signingKey struct {
	id      string
	alg     jose.SignatureAlgorithm
	private crypto.Signer
	created time.Time
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k *signingKey) Algorithm() jose.SignatureAlgorithm          { return k.alg }
func (k *signingKey) ID() string                                  { return k.id }
func (k *signingKey) Use() string                                 { return "sig" }

// Key is the private key when signing; KeySet hands out publicKey wrappers instead.
func (k *signingKey) Key() any { return k.private }

// publicKey is a published key: the public half only.
type publicKey struct{ *signingKey }

func (k publicKey) Key() any { return k.private.Public() }

// keyRing keeps the signing keys in the store: it creates the first, rotates the
// current one when it is older than rotate, and drops a retired one once every token
// it signed has expired (retain). Instances agree through compare-and-swap, and each
// caches the parsed keys by the record's revision.
type keyRing struct {
	st     store.Store
	sealer *keys.Sealer
	alg    jose.SignatureAlgorithm
	rotate time.Duration
	retain time.Duration
	now    func() time.Time

	mu     sync.Mutex
	rev    uint64
	parsed []*signingKey // current first
}

func newKeyRing(st store.Store, ring *keys.Ring, alg string, rotate, retain time.Duration, now func() time.Time) *keyRing {
	return &keyRing{st: st, sealer: ring.Sealer(PurposeSigningKey), alg: jose.SignatureAlgorithm(alg), rotate: rotate, retain: retain, now: now}
}

// current returns the key that signs now, creating or rotating it if due.
func (r *keyRing) current(ctx context.Context) (*signingKey, error) {
	ks, err := r.load(ctx)
	if err != nil {
		return nil, err
	}
	now := r.now()
	if len(ks) > 0 && ks[0].alg == r.alg && now.Sub(ks[0].created) < r.rotate {
		return ks[0], nil
	}
	if err := r.addKey(ctx); err != nil {
		return nil, err
	}
	if ks, err = r.load(ctx); err != nil {
		return nil, err
	}
	if len(ks) == 0 {
		return nil, errors.New("oidc: no signing key after rotation")
	}
	return ks[0], nil
}

// published returns every key whose tokens may still be presented, current first.
func (r *keyRing) published(ctx context.Context) ([]*signingKey, error) {
	if _, err := r.current(ctx); err != nil {
		return nil, err
	}
	return r.load(ctx)
}

// load reads the record and parses it unless its revision is the cached one.
func (r *keyRing) load(ctx context.Context) ([]*signingKey, error) {
	it, err := r.st.Get(ctx, keyRingKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("oidc: read signing keys: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if it.Rev == r.rev && r.parsed != nil {
		return r.parsed, nil
	}
	var stored []storedKey
	if err := json.Unmarshal(it.Value, &stored); err != nil {
		return nil, fmt.Errorf("oidc: decode signing keys: %w", err)
	}
	out := make([]*signingKey, 0, len(stored))
	for _, s := range stored {
		der, err := r.sealer.Open(s.Sealed, []byte(s.ID))
		if err != nil {
			return nil, fmt.Errorf("oidc: open signing key %s (was the master secret changed?): %w", s.ID, err)
		}
		priv, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("oidc: parse signing key %s: %w", s.ID, err)
		}
		signer, ok := priv.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("oidc: signing key %s is not a signer", s.ID)
		}
		out = append(out, &signingKey{id: s.ID, alg: jose.SignatureAlgorithm(s.Alg), private: signer, created: s.Created})
	}
	r.rev, r.parsed = it.Rev, out
	return out, nil
}

// addKey puts a new key first, retires the previous one and drops those retired long
// enough ago, unless another instance rotated meanwhile.
func (r *keyRing) addKey(ctx context.Context) error {
	fresh, err := r.generate()
	if err != nil {
		return err
	}
	_, err = store.Update(ctx, r.st, keyRingKey, func(cur []byte, exists bool) ([]byte, time.Duration, error) {
		var stored []storedKey
		if exists {
			if err := json.Unmarshal(cur, &stored); err != nil {
				return nil, 0, fmt.Errorf("decode signing keys: %w", err)
			}
		}
		now := r.now()
		if len(stored) > 0 && stored[0].Alg == string(r.alg) && now.Sub(stored[0].Created) < r.rotate {
			return nil, 0, store.ErrNoChange // another instance rotated first
		}
		keep := []storedKey{fresh}
		for i, s := range stored {
			if i == 0 {
				s.Retired = now
			}
			if s.Retired.IsZero() || now.Sub(s.Retired) < r.retain {
				keep = append(keep, s)
			}
		}
		b, err := json.Marshal(keep)
		return b, 0, err
	})
	if err != nil && !errors.Is(err, store.ErrNoChange) {
		return fmt.Errorf("oidc: rotate signing key: %w", err)
	}
	return nil
}

func (r *keyRing) generate() (storedKey, error) {
	var priv crypto.Signer
	var err error
	switch r.alg {
	case jose.RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return storedKey{}, fmt.Errorf("oidc: generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return storedKey{}, fmt.Errorf("oidc: encode signing key: %w", err)
	}
	id := make([]byte, 12)
	rand.Read(id)
	kid := base64.RawURLEncoding.EncodeToString(id)
	return storedKey{ID: kid, Alg: string(r.alg), Sealed: r.sealer.Seal(der, []byte(kid)), Created: r.now()}, nil
}
