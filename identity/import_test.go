package identity

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// goodFile returns a users file exercising every field.
func goodFile(t *testing.T) string {
	t.Helper()
	argon, err := HashPassword("bob's password", CheapParams)
	if err != nil {
		t.Fatal(err)
	}
	bc, err := bcrypt.GenerateFromPassword([]byte("carol's password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`# Users for the tests.
users:
  - username: Alice
    password: alice's password
    attributes:
      mail: alice@example.com
      groups: [admins, staff]
      address: {city: Paris, zip: 75001}
      since: 2024-01-02
  - username: bob
    realm: alpha
    password_hash: %s
    status: locked
  - username: carol
    realm: root/alpha
    password_hash: '%s'
  - username: alice        # same name, other realm: a different user
    realm: /alpha/sub
    password: sub password
`, argon, bc)
}

func TestImport(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	n, err := s.Import(ctx, strings.NewReader(goodFile(t)))
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("Import = %d, want 4", n)
	}
	logins := []struct {
		realm, user, pass string
		wantErr           error
	}{
		{"/", "alice", "alice's password", nil},
		{"alpha", "bob", "bob's password", ErrLocked},
		{"alpha", "carol", "carol's password", nil},
		{"alpha/sub", "ALICE", "sub password", nil},
		{"/", "alice", "sub password", ErrInvalidCredentials},
	}
	for _, l := range logins {
		if _, err := s.Authenticate(ctx, l.realm, l.user, l.pass); !errors.Is(err, l.wantErr) {
			t.Errorf("Authenticate(%s, %s) = %v, want %v", l.realm, l.user, err, l.wantErr)
		}
	}
	alice, err := s.Get(ctx, "/", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if alice.Username != "Alice" || alice.Status != StatusActive {
		t.Errorf("alice = %+v", alice)
	}
	// The clear-text password was hashed with the Store's costs, and is not stored.
	if !strings.HasPrefix(alice.PasswordHash, "$argon2id$v=19$"+CheapParams.String()+"$") || strings.Contains(alice.PasswordHash, "alice's password") {
		t.Errorf("stored hash %q", alice.PasswordHash)
	}
	want := map[string]any{
		"mail":    "alice@example.com",
		"groups":  []any{"admins", "staff"},
		"address": map[string]any{"city": "Paris", "zip": float64(75001)},
		"since":   "2024-01-02T00:00:00Z",
	}
	if got := fmt.Sprint(alice.Attributes); got != fmt.Sprint(want) {
		t.Errorf("attributes = %s, want %s", got, fmt.Sprint(want))
	}
	for realm, wantNames := range map[string][]string{"/": {"Alice"}, "/alpha": {"bob", "carol"}, "/alpha/sub": {"alice"}} {
		names, err := s.List(ctx, realm)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(names, wantNames) {
			t.Errorf("List(%s) = %q, want %q", realm, names, wantNames)
		}
	}

	// Importing the same file again changes nothing, not even what changed at runtime.
	if err := s.SetAttribute(ctx, "/", "alice", "extra", true); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Import(ctx, strings.NewReader(goodFile(t))); err != nil || n != 4 {
		t.Fatalf("second Import = %d, %v", n, err)
	}
	again, err := s.Get(ctx, "/", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !again.Created.Equal(alice.Created) || again.Attributes["extra"] != true {
		t.Errorf("after re-import: created %v (was %v), attributes %v", again.Created, alice.Created, again.Attributes)
	}
	if names, _ := s.List(ctx, "alpha"); !slices.Equal(names, []string{"bob", "carol"}) {
		t.Errorf("List(alpha) after re-import = %q", names)
	}
}

func TestImportBadEntries(t *testing.T) {
	ctx := context.Background()
	file := `users:
  - username: ok1
    password: pw
  - username: both
    password: pw
    password_hash: $2a$10$abc
  - username: neither
  - username: badhash
    password_hash: $argon2id$v=19$m=8,t=1,p=1$salt
  - username: OK1
    password: pw
  - username: ""
    password: pw
  - username: badrealm
    realm: "a b"
    password: pw
  - username: badstatus
    password: pw
    status: suspended
  - username: typo
    passwd: pw
  - just a string
  - username: badattrs
    password: pw
    attributes: [1, 2]
  - username: emptypw
    password: ""
  - username: intkey
    password: pw
    attributes: {m: {1: x}}
  - username: ok2
    realm: alpha
    password: pw
`
	s := newStore(t)
	n, err := s.Import(ctx, strings.NewReader(file))
	if n != 0 || !errors.Is(err, ErrInvalid) {
		t.Fatalf("Import = %d, %v; want 0 and ErrInvalid", n, err)
	}
	var ie *ImportError
	if !errors.As(err, &ie) {
		t.Fatalf("error %T is not an *ImportError", err)
	}
	want := []struct {
		index   int
		line    int
		message string
	}{
		{1, 4, "not both"},
		{2, 7, "give password or password_hash"},
		{3, 8, "password_hash: malformed"},
		{4, 10, `"OK1" is already used in realm / by users[0]`},
		{5, 12, "empty username"},
		{6, 14, `realm "a b"`},
		{7, 17, `status "suspended"`},
		{8, 21, `unknown field "passwd"`},
		{9, 22, "must be a mapping"},
		{10, 25, "cannot unmarshal !!seq"},
		{11, 26, "empty password"},
		{12, 28, "is not a string"},
	}
	if len(ie.Problems) != len(want) {
		t.Errorf("%d problems, want %d:\n%v", len(ie.Problems), len(want), err)
	}
	for i, w := range want {
		if i >= len(ie.Problems) {
			break
		}
		p := ie.Problems[i]
		if p.Index != w.index || p.Line != w.line || !strings.Contains(p.Message, w.message) {
			t.Errorf("problem %d = %v, want users[%d] (line %d) containing %q", i, p, w.index, w.line, w.message)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("users[%d] (line %d): ", w.index, w.line)) {
			t.Errorf("error text lacks users[%d]:\n%v", w.index, err)
		}
	}
	// Nothing was written, not even the good entries.
	for _, realm := range []string{"/", "alpha"} {
		if names, _ := s.List(ctx, realm); len(names) != 0 {
			t.Errorf("List(%s) = %q after a failed import", realm, names)
		}
	}
	if _, err := s.Get(ctx, "/", "ok1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(ok1) = %v after a failed import", err)
	}
}

func TestImportMalformedFiles(t *testing.T) {
	tests := []struct{ name, file, want string }{
		{"empty", "", "empty"},
		{"comment only", "# nothing\n", "empty"},
		{"no users", "{}\n", `no "users"`},
		{"unknown top-level field", "users: []\ngroups: []\n", "field groups not found"},
		{"users not a list", "users: alice\n", "cannot unmarshal"},
		{"bad yaml", "users: [\n", "yaml"},
		{"two documents", "users: []\n---\nusers: []\n", "more than one YAML document"},
		{"duplicate key", "users:\n  - username: a\n    username: b\n    password: x\n", "already defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := newStore(t).Import(context.Background(), strings.NewReader(tt.file))
			if n != 0 || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Import = %d, %v; want ErrInvalid mentioning %q", n, err, tt.want)
			}
		})
	}
}

func TestImportEdgeCases(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		file string
		want int
	}{
		{"empty list", "users: []\n", 0},
		{"trailing document marker", "users: []\n---\n", 0},
		{"numeric password", "users:\n  - username: n\n    password: 12345\n", 1},
		{"alias entry", "base: &a\n  username: x\n  password: pw\n", -1}, // unknown top-level field
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := newStore(t).Import(ctx, strings.NewReader(tt.file))
			if tt.want < 0 {
				if err == nil {
					t.Errorf("Import = %d, want an error", n)
				}
				return
			}
			if err != nil || n != tt.want {
				t.Errorf("Import = %d, %v; want %d", n, err, tt.want)
			}
		})
	}
	s := newStore(t)
	if _, err := s.Import(ctx, strings.NewReader("users:\n  - username: n\n    password: 12345\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "/", "n", "12345"); err != nil {
		t.Errorf("a numeric password was not imported as text: %v", err)
	}
}

func TestImportCancelledWritesNothing(t *testing.T) {
	s := New(newBackend(t), Options{Params: CheapParams, MaxConcurrent: 1})
	if err := s.acquire(context.Background()); err != nil { // no hashing slot will free up
		t.Fatal(err)
	}
	defer s.release()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n, err := s.Import(ctx, strings.NewReader("users:\n  - username: a\n    password: pw\n  - username: b\n    password: pw\n"))
	if n != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("Import = %d, %v; want 0 and context.Canceled", n, err)
	}
	if names, _ := s.List(context.Background(), "/"); len(names) != 0 {
		t.Errorf("List = %q after a cancelled import", names)
	}
}

func TestImportHashesInParallel(t *testing.T) {
	s := New(newBackend(t), Options{Params: Params{MemoryKiB: 256, Iterations: 2, Parallelism: 1}, MaxConcurrent: 2})
	var b strings.Builder
	b.WriteString("users:\n")
	for i := range 20 {
		fmt.Fprintf(&b, "  - {username: u%d, password: pw%d}\n", i, i)
	}
	n, err := s.Import(context.Background(), strings.NewReader(b.String()))
	if err != nil || n != 20 {
		t.Fatalf("Import = %d, %v", n, err)
	}
	if m := s.maxInFlight.Load(); m > 2 {
		t.Errorf("%d hashes ran at once, limit 2", m)
	}
	if _, err := s.Authenticate(context.Background(), "/", "u7", "pw7"); err != nil {
		t.Error(err)
	}
}

// TestImportRefusesUnconfiguredRealm: with the server's realms given, a user of another
// realm is a problem naming the realm, and nothing is written.
func TestImportRefusesUnconfiguredRealm(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	file := "users:\n  - {username: ann, password: pw1, realm: alpha}\n  - {username: bob, password: pw2, realm: /beta}\n"
	n, err := s.Import(ctx, strings.NewReader(file), Realms("alpha"))
	var ie *ImportError
	if n != 0 || !errors.As(err, &ie) || len(ie.Problems) != 1 || !strings.Contains(ie.Problems[0].Message, "realm /beta is not configured") {
		t.Fatalf("Import = %d, %v; want one problem about /beta", n, err)
	}
	if _, err := s.Get(ctx, "/alpha", "ann"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ann was stored from a refused file: %v", err)
	}
	if n, err := s.Import(ctx, strings.NewReader(file), Realms("alpha", "beta")); err != nil || n != 2 {
		t.Fatalf("with both realms configured: %d, %v", n, err)
	}
}
