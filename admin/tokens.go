package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/arbor-auth/arbor/store"
)

// Scope is what an API token may do.
type Scope string

// The scopes. A write scope implies the read scope of the same resource.
const (
	ScopeJourneysRead  Scope = "journeys:read"
	ScopeJourneysWrite Scope = "journeys:write"
	ScopeUsersRead     Scope = "users:read"
	ScopeUsersWrite    Scope = "users:write"
)

// Scopes lists every scope, for usage messages.
var Scopes = []Scope{ScopeJourneysRead, ScopeJourneysWrite, ScopeUsersRead, ScopeUsersWrite}

// AllRealms is the realm list of a token not restricted to realms.
const AllRealms = "*"

// TokenPrefix starts every API token: "arbor_<id>_<secret>".
const TokenPrefix = "arbor_"

// Token is a stored API token. The secret is never stored: only its SHA-256, which is
// enough for 256 random bits (no guessing, so no slow hash is needed).
type Token struct {
	// ID names the token in lists, audit events ("token:<id>") and revoke.
	ID string `json:"id"`
	// Name is the operator's label ("ci").
	Name   string  `json:"name"`
	Scopes []Scope `json:"scopes"`
	// Realms are the realms whose users the token may manage; ["*"] is every realm. A
	// token restricted to realms cannot touch journeys, which every realm shares.
	Realms  []string  `json:"realms"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	// Hash is the hex SHA-256 of the secret; List leaves it empty.
	Hash string `json:"hash,omitempty"`
}

// Allows reports whether the token grants scope (a write scope grants its read scope).
func (t *Token) Allows(s Scope) bool { return allows(t.Scopes, s) }

func allows(have []Scope, s Scope) bool {
	if slices.Contains(have, s) {
		return true
	}
	if res, ok := strings.CutSuffix(string(s), ":read"); ok {
		return slices.Contains(have, Scope(res+":write"))
	}
	return false
}

// AllRealms reports whether the token is valid in every realm.
func (t *Token) AllRealms() bool { return slices.Contains(t.Realms, AllRealms) }

// InRealm reports whether the token may manage users of realm.
func (t *Token) InRealm(realm string) bool { return t.AllRealms() || slices.Contains(t.Realms, realm) }

// ErrBadToken reports a presented token that is malformed, unknown, revoked or expired;
// which of these is not told, to the caller or to the client.
var ErrBadToken = errors.New("admin: invalid, expired or revoked API token")

// ErrTokenNotFound reports a revoke of an unknown token.
var ErrTokenNotFound = errors.New("admin: no such API token")

// Tokens keeps API tokens in the store: "admintoken:<id>" (expiring with the token)
// and the index "admintokens" of ids.
type Tokens struct {
	st  store.Store
	now func() time.Time
}

// NewTokens returns the token store over st with clock now (time.Now if nil).
func NewTokens(st store.Store, now func() time.Time) *Tokens {
	if now == nil {
		now = time.Now
	}
	return &Tokens{st: st, now: now}
}

func tokenKey(id string) string { return "admintoken:" + id }

const tokensIndex = "admintokens"

// NewToken is what Create needs.
type NewToken struct {
	Name   string
	Scopes []Scope
	// Realms restricts the token (normalised realm names); empty means every realm.
	Realms []string
	// TTL is how long the token lives.
	TTL time.Duration
}

// Create makes a token and returns it with its secret form, "arbor_<id>_<secret>",
// which exists only in this return value: show it once.
func (ts *Tokens) Create(ctx context.Context, n NewToken) (string, *Token, error) {
	if strings.TrimSpace(n.Name) == "" {
		return "", nil, errors.New("admin: a token needs a name")
	}
	if len(n.Scopes) == 0 {
		return "", nil, fmt.Errorf("admin: a token needs at least one scope (%s)", scopeList())
	}
	for _, s := range n.Scopes {
		if !slices.Contains(Scopes, s) {
			return "", nil, fmt.Errorf("admin: unknown scope %q (want %s)", s, scopeList())
		}
	}
	if n.TTL <= 0 {
		return "", nil, errors.New("admin: a token needs a positive lifetime")
	}
	realms := n.Realms
	if len(realms) == 0 {
		realms = []string{AllRealms}
	}
	var idb [8]byte
	var secret [32]byte
	_, _ = rand.Read(idb[:])
	_, _ = rand.Read(secret[:])
	now := ts.now().UTC()
	t := &Token{ID: hex.EncodeToString(idb[:]), Name: n.Name, Scopes: slices.Clone(n.Scopes), Realms: slices.Clone(realms),
		Created: now, Expires: now.Add(n.TTL)}
	sec := base64.RawURLEncoding.EncodeToString(secret[:])
	sum := sha256.Sum256([]byte(sec))
	t.Hash = hex.EncodeToString(sum[:])
	b, err := json.Marshal(t)
	if err != nil {
		return "", nil, err
	}
	if err := ts.index(ctx, func(ids []string) ([]string, bool) { return append(ids, t.ID), true }); err != nil {
		return "", nil, err
	}
	if _, err := ts.st.CAS(ctx, tokenKey(t.ID), b, 0, n.TTL); err != nil {
		return "", nil, fmt.Errorf("admin: store token: %w", err)
	}
	out := *t
	out.Hash = ""
	return TokenPrefix + t.ID + "_" + sec, &out, nil
}

func scopeList() string {
	s := make([]string, len(Scopes))
	for i, x := range Scopes {
		s[i] = string(x)
	}
	return strings.Join(s, ", ")
}

// index changes the id index; change reports whether it changed anything.
func (ts *Tokens) index(ctx context.Context, change func([]string) ([]string, bool)) error {
	_, err := store.Update(ctx, ts.st, tokensIndex, func(cur []byte, exists bool) ([]byte, time.Duration, error) {
		var ids []string
		if exists {
			if err := json.Unmarshal(cur, &ids); err != nil {
				return nil, 0, fmt.Errorf("corrupt token index: %w", err)
			}
		}
		ids, changed := change(ids)
		if !changed {
			return nil, 0, store.ErrNoChange
		}
		b, err := json.Marshal(ids)
		return b, 0, err
	})
	if err != nil {
		return fmt.Errorf("admin: token index: %w", err)
	}
	return nil
}

func (ts *Tokens) load(ctx context.Context, id string) (*Token, error) {
	it, err := ts.st.Get(ctx, tokenKey(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrTokenNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("admin: load token: %w", err)
	}
	var t Token
	if err := json.Unmarshal(it.Value, &t); err != nil {
		return nil, fmt.Errorf("admin: load token %s: %w", id, err)
	}
	return &t, nil
}

// List returns the live tokens, oldest first, without their hashes. Expired tokens are
// gone from the store and dropped from the index here.
func (ts *Tokens) List(ctx context.Context) ([]Token, error) {
	it, err := ts.st.Get(ctx, tokensIndex)
	if errors.Is(err, store.ErrNotFound) {
		return []Token{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("admin: list tokens: %w", err)
	}
	var ids []string
	if err := json.Unmarshal(it.Value, &ids); err != nil {
		return nil, fmt.Errorf("admin: corrupt token index: %w", err)
	}
	out := []Token{}
	var gone []string
	for _, id := range ids {
		t, err := ts.load(ctx, id)
		if errors.Is(err, ErrTokenNotFound) {
			gone = append(gone, id)
			continue
		}
		if err != nil {
			return nil, err
		}
		t.Hash = ""
		out = append(out, *t)
	}
	if len(gone) > 0 {
		_ = ts.index(ctx, func(ids []string) ([]string, bool) {
			n := len(ids)
			ids = slices.DeleteFunc(ids, func(id string) bool { return slices.Contains(gone, id) })
			return ids, len(ids) != n
		})
	}
	slices.SortStableFunc(out, func(a, b Token) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// Revoke deletes token id at once, on every instance (each check reads the store).
func (ts *Tokens) Revoke(ctx context.Context, id string) error {
	if _, err := ts.load(ctx, id); err != nil {
		return err
	}
	if err := ts.st.Delete(ctx, tokenKey(id)); err != nil {
		return fmt.Errorf("admin: revoke token %s: %w", id, err)
	}
	return ts.index(ctx, func(ids []string) ([]string, bool) {
		n := len(ids)
		ids = slices.DeleteFunc(ids, func(x string) bool { return x == id })
		return ids, len(ids) != n
	})
}

// Check returns the token presented as "arbor_<id>_<secret>", or ErrBadToken. The
// secret's hash is compared in constant time; a store failure is returned as such (a
// 503, never a 401).
func (ts *Tokens) Check(ctx context.Context, presented string) (*Token, error) {
	rest, ok := strings.CutPrefix(presented, TokenPrefix)
	if !ok {
		return nil, ErrBadToken
	}
	id, sec, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 16 || sec == "" || len(sec) > 64 {
		return nil, ErrBadToken
	}
	if _, err := hex.DecodeString(id); err != nil {
		return nil, ErrBadToken
	}
	t, err := ts.load(ctx, id)
	if errors.Is(err, ErrTokenNotFound) {
		return nil, ErrBadToken
	}
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(sec))
	want, err := hex.DecodeString(t.Hash)
	if err != nil || subtle.ConstantTimeCompare(sum[:], want) != 1 {
		return nil, ErrBadToken
	}
	if !ts.now().Before(t.Expires) {
		return nil, ErrBadToken
	}
	return t, nil
}
