package oidc

import (
	"bytes"
	"context"
	"crypto/x509"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/arbor-auth/arbor/internal/testredis"
	"github.com/arbor-auth/arbor/keys"
	"github.com/arbor-auth/arbor/store"
	"github.com/arbor-auth/arbor/store/embedded"
	"github.com/arbor-auth/arbor/store/redisstore"
)

// backends are the store backends the key ring runs on: the embedded store and a real
// redis-server.
func backends(t *testing.T) map[string]store.Store {
	t.Helper()
	emb, err := embedded.Open(embedded.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emb.Close() })
	rs, err := redisstore.Open(testredis.Start(t).URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Close() })
	return map[string]store.Store{"embedded": emb, "redis": rs}
}

// TestKeyRotation: the first key is made on demand; after the rotation period a new
// one signs while the old one stays published for the retention period, then goes.
// Two instances agree on the keys, and the store holds no private key in clear.
func TestKeyRotation(t *testing.T) {
	for name, st := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			now := time.Now()
			clock := func() time.Time { return now }
			ring := keys.Generate()
			a := newKeyRing(st, ring, "ES256", time.Hour, 2*time.Hour, clock)
			b := newKeyRing(st, ring, "ES256", time.Hour, 2*time.Hour, clock)

			k1, err := a.current(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if kb, err := b.current(ctx); err != nil || kb.ID() != k1.ID() {
				t.Fatalf("the second instance signs with %v (%v), want %s", kb, err, k1.ID())
			}
			if k1.SignatureAlgorithm() != jose.ES256 {
				t.Fatalf("alg %s", k1.SignatureAlgorithm())
			}
			it, err := st.Get(ctx, keyRingKey)
			if err != nil {
				t.Fatal(err)
			}
			der, _ := x509.MarshalPKCS8PrivateKey(k1.private)
			if bytes.Contains(it.Value, der) || bytes.Contains(it.Value, []byte("PRIVATE")) {
				t.Fatal("the private key is in the store in clear")
			}

			now = now.Add(61 * time.Minute)
			k2, err := b.current(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if k2.ID() == k1.ID() {
				t.Fatal("no rotation after the period")
			}
			if ka, _ := a.current(ctx); ka.ID() != k2.ID() {
				t.Fatalf("instances disagree after rotation: %s vs %s", ka.ID(), k2.ID())
			}
			pub, err := a.published(ctx)
			if err != nil || len(pub) != 2 || pub[0].ID() != k2.ID() || pub[1].ID() != k1.ID() {
				t.Fatalf("published after rotation: %v %v", pub, err)
			}

			// Past the retention of the retired key (and a rotation later), it is gone.
			now = now.Add(61 * time.Minute)
			if _, err := a.current(ctx); err != nil {
				t.Fatal(err)
			}
			now = now.Add(61 * time.Minute)
			pub, _ = a.published(ctx)
			for _, k := range pub {
				if k.ID() == k1.ID() {
					t.Fatalf("key %s still published %v after its retention", k1.ID(), now)
				}
			}

			// Another master secret cannot open the keys: a clear error, not a new key.
			c := newKeyRing(st, keys.Generate(), "ES256", time.Hour, 2*time.Hour, clock)
			if _, err := c.published(ctx); err == nil {
				t.Fatal("keys opened under another master secret")
			}

			// Switching to RS256 rotates at once.
			r := newKeyRing(st, ring, "RS256", time.Hour, 2*time.Hour, clock)
			k, err := r.current(ctx)
			if err != nil || k.SignatureAlgorithm() != jose.RS256 {
				t.Fatalf("RS256 key: %v %v", k, err)
			}
		})
	}
}

// TestConfigErrors: each bad client declaration is reported with its client and field.
func TestConfigErrors(t *testing.T) {
	ok := ClientConfig{ClientID: "spa", Public: true, RedirectURIs: []string{"https://app.example/cb"}}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"valid", func(*Config) {}, ""},
		{"signing alg", func(c *Config) { c.SigningAlg = "HS256" }, `signing_alg "HS256"`},
		{"no client id", func(c *Config) { c.Clients[0].ClientID = "" }, "client_id must be"},
		{"duplicate", func(c *Config) { c.Clients = append(c.Clients, c.Clients[0]) }, "declared twice"},
		{"public with secret", func(c *Config) { c.Clients[0].SecretHash = "$argon2id$x" }, "public client has no secret_hash"},
		{"confidential without secret", func(c *Config) { c.Clients[0].Public = false }, "needs secret_hash"},
		{"secret not a hash", func(c *Config) { c.Clients[0].Public, c.Clients[0].SecretHash = false, "plain" }, "not an argon2id or bcrypt hash"},
		{"http redirect", func(c *Config) { c.Clients[0].RedirectURIs = []string{"http://app.example/cb"} }, "uses http"},
		{"fragment", func(c *Config) { c.Clients[0].RedirectURIs = []string{"https://app.example/cb#x"} }, "without a fragment"},
		{"no redirect", func(c *Config) { c.Clients[0].RedirectURIs = nil }, "redirect_uris is empty"},
		{"public client credentials", func(c *Config) { c.Clients[0].GrantTypes = []string{GrantClientCredentials} }, "cannot use client_credentials"},
		{"unknown grant", func(c *Config) { c.Clients[0].GrantTypes = []string{"password"} }, `grant type "password"`},
		{"cors origin with path", func(c *Config) { c.Clients[0].CORSOrigins = []string{"https://app.example/x"} }, "is not scheme://host"},
		{"bad realm", func(c *Config) { c.Clients[0].Realm = "a b" }, "malformed realm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{Clients: []ClientConfig{ok}}
			c.Clients[0].RedirectURIs = append([]string(nil), ok.RedirectURIs...)
			tc.edit(&c)
			err := c.normalize(func(string) string { return "login" })
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("valid config refused: %v", err)
			case tc.want != "" && (err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.want))):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if tc.want == "" {
				cl := c.Clients[0]
				if cl.Realm != "/" || cl.Journeys[0] != "login" || cl.AccessTokenLifetime != DefaultAccessTokenLifetime || c.SigningAlg != "ES256" {
					t.Fatalf("defaults not filled in: %+v", c)
				}
			}
		})
	}
}
