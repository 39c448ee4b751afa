package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/arbor-auth/arbor/store"
	"github.com/arbor-auth/arbor/store/embedded"
)

// newBackend returns the store.Store the tests run on: the embedded backend, in memory.
func newBackend(t testing.TB) store.Store {
	t.Helper()
	st, err := embedded.Open(embedded.Options{})
	if err != nil {
		t.Fatalf("embedded.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return st
}

// faultyStore wraps a store.Store and fails chosen operations.
type faultyStore struct {
	store.Store
	getErr  error        // returned by Get if set
	casErr  error        // returned by CAS if set
	casCall atomic.Int64 // CAS calls made
}

func (f *faultyStore) Get(ctx context.Context, key string) (store.Item, error) {
	if f.getErr != nil {
		return store.Item{}, f.getErr
	}
	return f.Store.Get(ctx, key)
}

func (f *faultyStore) CAS(ctx context.Context, key string, value []byte, rev uint64, ttl time.Duration) (uint64, error) {
	f.casCall.Add(1)
	if f.casErr != nil {
		return 0, f.casErr
	}
	return f.Store.CAS(ctx, key, value, rev, ttl)
}

// newStore returns an identity Store with cheap hashing on a fresh backend.
func newStore(t testing.TB) *Store {
	t.Helper()
	return New(newBackend(t), Options{Params: CheapParams})
}

// mustCreate creates a user with a password, or fails the test.
func mustCreate(t testing.TB, s *Store, realm, username, password string) {
	t.Helper()
	ctx := context.Background()
	if err := s.Create(ctx, &User{Realm: realm, Username: username}); err != nil {
		t.Fatalf("Create(%s, %s): %v", realm, username, err)
	}
	if password != "" {
		if err := s.SetPassword(ctx, realm, username, password); err != nil {
			t.Fatalf("SetPassword(%s, %s): %v", realm, username, err)
		}
	}
}

func TestNormalizeRealm(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: "", want: "/"},
		{in: "/", want: "/"},
		{in: "root", want: "/"},
		{in: "/root", want: "/"},
		{in: "root/", want: "/"},
		{in: "alpha", want: "/alpha"},
		{in: "/alpha", want: "/alpha"},
		{in: "alpha/", want: "/alpha"},
		{in: "root/alpha", want: "/alpha"},
		{in: "/root/alpha", want: "/alpha"},
		{in: "/alpha/sub", want: "/alpha/sub"},
		{in: "alpha/sub", want: "/alpha/sub"},
		{in: "root/alpha/sub", want: "/alpha/sub"},
		{in: "/Alpha", want: "/Alpha"},
		{in: "a-b_c.d/9", want: "/a-b_c.d/9"},
		{in: "/alpha/root", want: "/alpha/root"},
		{in: "//", wantErr: true},
		{in: "/alpha//sub", wantErr: true},
		{in: "/alpha/../beta", wantErr: true},
		{in: "./alpha", wantErr: true},
		{in: "al pha", wantErr: true},
		{in: " alpha", wantErr: true},
		{in: "alpha:x", wantErr: true},
		{in: "{alpha}", wantErr: true},
		{in: "alpha\n", wantErr: true},
		{in: "älpha", wantErr: true},
		{in: strings.Repeat("a", 256), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("in=%q", tt.in), func(t *testing.T) {
			got, err := NormalizeRealm(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("NormalizeRealm(%q) = %q, %v; want an error wrapping ErrInvalid", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NormalizeRealm(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	if got, want := userKey("/alpha", "Alice"), "user:{/alpha}:alice"; got != want {
		t.Errorf("userKey = %q, want %q", got, want)
	}
	if got, want := indexKey("/"), "users:{/}"; got != want {
		t.Errorf("indexKey = %q, want %q", got, want)
	}
}

func TestGetIsCaseInsensitive(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustCreate(t, s, "alpha", "Alice", "")
	for _, tt := range []struct{ realm, name string }{
		{"alpha", "Alice"}, {"/alpha", "alice"}, {"root/alpha", "ALICE"}, {"alpha/", "aLiCe"},
	} {
		u, err := s.Get(ctx, tt.realm, tt.name)
		if err != nil {
			t.Fatalf("Get(%q, %q): %v", tt.realm, tt.name, err)
		}
		if u.Username != "Alice" || u.Realm != "/alpha" {
			t.Errorf("Get(%q, %q) = %s in %s, want Alice in /alpha", tt.realm, tt.name, u.Username, u.Realm)
		}
	}
	for _, tt := range []struct{ realm, name string }{
		{"/", "alice"}, {"beta", "alice"}, {"alpha", "alice2"}, {"alpha", ""}, {"alpha", " alice"},
	} {
		if _, err := s.Get(ctx, tt.realm, tt.name); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q, %q) err = %v, want ErrNotFound", tt.realm, tt.name, err)
		}
	}
	if _, err := s.Get(ctx, "bad realm", "alice"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Get in a bad realm: err = %v, want ErrInvalid", err)
	}
}

func TestCreate(t *testing.T) {
	ctx := context.Background()
	bc, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		user    *User
		wantErr error
	}{
		{name: "minimal", user: &User{Username: "bob"}},
		{name: "bcrypt hash", user: &User{Username: "carol", PasswordHash: string(bc)}},
		{name: "locked", user: &User{Username: "dave", Status: StatusLocked}},
		{name: "duplicate", user: &User{Username: "alice"}, wantErr: ErrExists},
		{name: "duplicate other case", user: &User{Realm: "root", Username: "ALICE"}, wantErr: ErrExists},
		{name: "nil", user: nil, wantErr: ErrInvalid},
		{name: "empty username", user: &User{}, wantErr: ErrInvalid},
		{name: "control character", user: &User{Username: "a\tb"}, wantErr: ErrInvalid},
		{name: "bad realm", user: &User{Realm: "a b", Username: "x"}, wantErr: ErrInvalid},
		{name: "bad status", user: &User{Username: "x", Status: "suspended"}, wantErr: ErrInvalid},
		{name: "clear-text password as hash", user: &User{Username: "x", PasswordHash: "secret"}, wantErr: ErrInvalid},
		{name: "bad attribute", user: &User{Username: "x", Attributes: map[string]any{"f": func() {}}}, wantErr: ErrInvalid},
	}
	s := newStore(t)
	mustCreate(t, s, "/", "Alice", "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Create(ctx, tt.user)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Create = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			u := tt.user
			if u.Realm != "/" || u.Created.IsZero() || u.Updated.IsZero() || !u.Status.valid() {
				t.Errorf("Create left realm %q, created %v, updated %v, status %q", u.Realm, u.Created, u.Updated, u.Status)
			}
			got, err := s.Get(ctx, "/", u.Username)
			if err != nil {
				t.Fatal(err)
			}
			if got.Username != u.Username || got.PasswordHash != u.PasswordHash || got.Status != u.Status {
				t.Errorf("Get = %+v, want %+v", got, u)
			}
		})
	}
	names, err := s.List(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"Alice", "bob", "carol", "dave"}; !slices.Equal(names, want) {
		t.Errorf("List = %q, want %q", names, want)
	}
}

func TestPutReplacesAndKeepsCreated(t *testing.T) {
	ctx := context.Background()
	clock := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := New(newBackend(t), Options{Params: CheapParams, Now: func() time.Time { return clock }})
	first := &User{Realm: "alpha", Username: "alice", Attributes: map[string]any{"a": 1}}
	if err := s.Put(ctx, first); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(time.Second)
	second := &User{Realm: "/alpha", Username: "Alice", Attributes: map[string]any{"b": "x"}}
	if err := s.Put(ctx, second); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "alpha", "ALICE")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Created.Equal(first.Created) || !got.Updated.After(first.Updated) || !got.Updated.Equal(clock) {
		t.Errorf("created %v updated %v; want created %v and a later update", got.Created, got.Updated, first.Created)
	}
	if got.Username != "Alice" || got.Attributes["a"] != nil || got.Attributes["b"] != "x" {
		t.Errorf("Put did not replace the user: %+v", got)
	}
	names, err := s.List(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, []string{"Alice"}) {
		t.Errorf("List = %q, want [Alice]", names)
	}
	if err := s.Put(ctx, &User{Username: ""}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Put of an invalid user: %v, want ErrInvalid", err)
	}
}

func TestUpdate(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	tests := []struct {
		name    string
		user    string
		fn      func(*User) error
		wantErr error
		check   func(t *testing.T, u *User)
	}{
		{name: "attribute", user: "alice", fn: func(u *User) error {
			u.Attributes = map[string]any{"n": 3}
			return nil
		}, check: func(t *testing.T, u *User) {
			if u.Attributes["n"] != float64(3) {
				t.Errorf("attributes = %v", u.Attributes)
			}
		}},
		{name: "case change", user: "ALICE", fn: func(u *User) error {
			u.Username = "ALICE"
			return nil
		}, check: func(t *testing.T, u *User) {
			if u.Username != "ALICE" {
				t.Errorf("username = %q", u.Username)
			}
		}},
		{name: "callback error", user: "alice", fn: func(*User) error { return boom }, wantErr: boom},
		{name: "callback conflict is not retried", user: "alice", fn: func(*User) error { return store.ErrConflict }, wantErr: store.ErrConflict},
		{name: "rename", user: "alice", fn: func(u *User) error {
			u.Username = "bob"
			return nil
		}, wantErr: ErrInvalid},
		{name: "move", user: "alice", fn: func(u *User) error {
			u.Realm = "/beta"
			return nil
		}, wantErr: ErrInvalid},
		{name: "bad status", user: "alice", fn: func(u *User) error {
			u.Status = "gone"
			return nil
		}, wantErr: ErrInvalid},
		{name: "missing", user: "nobody", fn: func(*User) error { return nil }, wantErr: ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			mustCreate(t, s, "alpha", "alice", "")
			calls := 0
			u, err := s.Update(ctx, "alpha", tt.user, func(u *User) error { calls++; return tt.fn(u) })
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Update = %v, want %v", err, tt.wantErr)
				}
				if tt.wantErr == store.ErrConflict && calls != 1 {
					t.Errorf("callback ran %d times, want 1", calls)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, u)
			got, err := s.Get(ctx, "alpha", "alice")
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, got)
			names, _ := s.List(ctx, "alpha")
			if !slices.Equal(names, []string{got.Username}) {
				t.Errorf("List = %q, want [%s]", names, got.Username)
			}
		})
	}
}

func TestUpdateConcurrentLosesNothing(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustCreate(t, s, "/", "alice", "")
	const workers, each = 8, 10
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				_, err := s.Update(ctx, "/", "alice", func(u *User) error {
					n, _ := u.Attributes["n"].(float64)
					if u.Attributes == nil {
						u.Attributes = map[string]any{}
					}
					u.Attributes["n"] = n + 1
					return nil
				})
				switch {
				case err == nil:
					ok.Add(1)
				case !errors.Is(err, store.ErrConflict):
					t.Errorf("Update: %v", err)
				}
			}
		})
	}
	wg.Wait()
	u, err := s.Get(ctx, "/", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Attributes["n"]; got != float64(ok.Load()) {
		t.Errorf("counter = %v after %d successful updates", got, ok.Load())
	}
	if ok.Load() < workers*each/2 {
		t.Errorf("only %d of %d updates succeeded", ok.Load(), workers*each)
	}
}

func TestUpdateGivesUpAfterTheRetryBudget(t *testing.T) {
	ctx := context.Background()
	fs := &faultyStore{Store: newBackend(t)}
	s := New(fs, Options{Params: CheapParams})
	mustCreate(t, s, "/", "alice", "")
	fs.casErr = store.ErrConflict
	fs.casCall.Store(0)
	calls := 0
	_, err := s.Update(ctx, "/", "alice", func(*User) error { calls++; return nil })
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Update = %v, want ErrConflict", err)
	}
	if calls != store.MaxUpdateAttempts || fs.casCall.Load() != store.MaxUpdateAttempts {
		t.Errorf("callback ran %d times and CAS %d times, want %d", calls, fs.casCall.Load(), store.MaxUpdateAttempts)
	}
}

func TestStoreUnavailable(t *testing.T) {
	ctx := context.Background()
	fs := &faultyStore{Store: newBackend(t)}
	s := New(fs, Options{Params: CheapParams})
	mustCreate(t, s, "/", "alice", "pw")
	fs.getErr = fmt.Errorf("%w: connection refused", store.ErrUnavailable)
	ops := map[string]func() error{
		"Get":          func() error { _, err := s.Get(ctx, "/", "alice"); return err },
		"Authenticate": func() error { _, err := s.Authenticate(ctx, "/", "alice", "pw"); return err },
		"Update":       func() error { _, err := s.Update(ctx, "/", "alice", func(*User) error { return nil }); return err },
		"List":         func() error { _, err := s.List(ctx, "/"); return err },
		"Create":       func() error { return s.Create(ctx, &User{Username: "bob"}) },
		"SetStatus":    func() error { return s.SetStatus(ctx, "/", "alice", StatusLocked) },
	}
	for name, op := range ops {
		err := op()
		if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, ErrInvalidCredentials) || errors.Is(err, ErrNotFound) {
			t.Errorf("%s = %v, want an error wrapping only store.ErrUnavailable", name, err)
		}
	}
}

func TestDeleteAndList(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	for _, n := range []string{"carol", "Alice", "bob"} {
		mustCreate(t, s, "alpha", n, "")
	}
	mustCreate(t, s, "beta", "zed", "")
	list := func(realm string) []string {
		t.Helper()
		names, err := s.List(ctx, realm)
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	if got, want := list("alpha"), []string{"Alice", "bob", "carol"}; !slices.Equal(got, want) {
		t.Errorf("List(alpha) = %q, want %q", got, want)
	}
	if got := list("/"); got == nil || len(got) != 0 {
		t.Errorf("List(/) = %#v, want an empty list", got)
	}
	if err := s.Delete(ctx, "alpha", "ALICE"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "alpha", "alice"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete: %v", err)
	}
	if err := s.Delete(ctx, "alpha", "alice"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
	if got, want := list("alpha"), []string{"bob", "carol"}; !slices.Equal(got, want) {
		t.Errorf("List(alpha) = %q, want %q", got, want)
	}
	if got, want := list("root/beta"), []string{"zed"}; !slices.Equal(got, want) {
		t.Errorf("List(beta) = %q, want %q", got, want)
	}
	// The name can be taken again.
	mustCreate(t, s, "alpha", "alice", "")
	if _, err := s.List(ctx, "bad//realm"); !errors.Is(err, ErrInvalid) {
		t.Errorf("List(bad realm) = %v, want ErrInvalid", err)
	}
}

func TestDeleteCleansStaleIndexEntry(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	// An interrupted Create: indexed, never written.
	if err := s.indexAdd(ctx, "/", []string{"ghost"}, false); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "/", "ghost"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Delete = %v, want ErrNotFound", err)
	}
	if names, _ := s.List(ctx, "/"); len(names) != 0 {
		t.Errorf("List = %q, want empty", names)
	}
}

func TestConcurrentCreateAndDeleteKeepIndex(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	const n = 32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := s.Create(ctx, &User{Realm: "alpha", Username: fmt.Sprintf("user%02d", i)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	names, err := s.List(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != n {
		t.Fatalf("List has %d names, want %d: %q", len(names), n, names)
	}
	// Create and delete one name at the same time, many times: whatever the order, the
	// index must name the user if it exists.
	for range 50 {
		var wg sync.WaitGroup
		wg.Go(func() { _ = s.Create(ctx, &User{Realm: "alpha", Username: "flip"}) })
		wg.Go(func() { _ = s.Delete(ctx, "alpha", "flip") })
		wg.Wait()
		_, err := s.Get(ctx, "alpha", "flip")
		names, _ := s.List(ctx, "alpha")
		if err == nil && !slices.Contains(names, "flip") {
			t.Fatal("user flip exists but is not in the index")
		}
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustCreate(t, s, "alpha", "Alice", "correct horse")
	mustCreate(t, s, "alpha", "locked", "correct horse")
	mustCreate(t, s, "alpha", "nopass", "")
	if err := s.SetStatus(ctx, "alpha", "locked", StatusLocked); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name              string
		realm, user, pass string
		wantErr           error
		wantVerifications int64
		wantUser          string
	}{
		{name: "ok", realm: "alpha", user: "Alice", pass: "correct horse", wantUser: "Alice", wantVerifications: 1},
		{name: "ok other case and realm spelling", realm: "root/alpha", user: "aLICE", pass: "correct horse", wantUser: "Alice", wantVerifications: 1},
		{name: "wrong password", realm: "alpha", user: "alice", pass: "wrong", wantErr: ErrInvalidCredentials, wantVerifications: 1},
		{name: "unknown user", realm: "alpha", user: "mallory", pass: "correct horse", wantErr: ErrInvalidCredentials, wantVerifications: 1},
		{name: "other realm", realm: "/", user: "alice", pass: "correct horse", wantErr: ErrInvalidCredentials, wantVerifications: 1},
		{name: "user without password", realm: "alpha", user: "nopass", pass: "anything", wantErr: ErrInvalidCredentials, wantVerifications: 1},
		{name: "empty password", realm: "alpha", user: "alice", pass: "", wantErr: ErrInvalidCredentials},
		{name: "empty username", realm: "alpha", user: "", pass: "x", wantErr: ErrInvalidCredentials},
		{name: "locked right password", realm: "alpha", user: "locked", pass: "correct horse", wantErr: ErrLocked, wantVerifications: 1},
		{name: "locked wrong password", realm: "alpha", user: "locked", pass: "wrong", wantErr: ErrInvalidCredentials, wantVerifications: 1},
		{name: "bad realm", realm: "al pha", user: "alice", pass: "x", wantErr: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.verifications.Load()
			u, err := s.Authenticate(ctx, tt.realm, tt.user, tt.pass)
			if got := s.verifications.Load() - before; got != tt.wantVerifications {
				t.Errorf("%d verifications, want %d", got, tt.wantVerifications)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || u != nil {
					t.Fatalf("Authenticate = %v, %v; want %v", u, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), tt.pass) && tt.pass != "" {
					t.Errorf("error %q contains the password", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.Username != tt.wantUser || u.Realm != "/alpha" {
				t.Errorf("Authenticate = %s in %s, want %s in /alpha", u.Username, u.Realm, tt.wantUser)
			}
		})
	}
}

// TestUnknownAndWrongCostTheSame checks the timing defence structurally: an unknown
// user and a wrong password each cost one verification, with the same argon2id costs.
func TestUnknownAndWrongCostTheSame(t *testing.T) {
	ctx := context.Background()
	p := Params{MemoryKiB: 64, Iterations: 3, Parallelism: 2}
	s := New(newBackend(t), Options{Params: p})
	mustCreate(t, s, "/", "alice", "pw")
	stored, err := s.Get(ctx, "/", "alice")
	if err != nil {
		t.Fatal(err)
	}
	real, err := parseHash(stored.PasswordHash)
	if err != nil {
		t.Fatal(err)
	}
	if s.dummy.kind != real.kind || s.dummy.params != real.params || len(s.dummy.key) != len(real.key) || len(s.dummy.salt) != len(real.salt) {
		t.Errorf("dummy hash %+v differs in cost from a real one %+v", s.dummy, real)
	}
	count := func(user string) int64 {
		before := s.verifications.Load()
		if _, err := s.Authenticate(ctx, "/", user, "wrong"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("Authenticate(%s) = %v", user, err)
		}
		return s.verifications.Load() - before
	}
	if unknown, wrong := count("nobody"), count("alice"); unknown != 1 || wrong != 1 {
		t.Errorf("verifications: unknown user %d, wrong password %d; want 1 and 1", unknown, wrong)
	}
	if ok, _ := VerifyPassword(encodeArgon2id(s.dummy.params, s.dummy.salt, s.dummy.key), "wrong"); ok {
		t.Error("the dummy hash matched a password")
	}
}

func TestAuthenticateRehashes(t *testing.T) {
	ctx := context.Background()
	bc, err := bcrypt.GenerateFromPassword([]byte("hunter2"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	weak, err := HashPassword("hunter2", Params{MemoryKiB: 16, Iterations: 1, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	target := Params{MemoryKiB: 32, Iterations: 2, Parallelism: 1}
	current, err := HashPassword("hunter2", target)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		hash       string
		wantRehash bool
	}{
		{name: "bcrypt 2a", hash: string(bc), wantRehash: true},
		{name: "bcrypt 2b", hash: "$2b$" + string(bc)[4:], wantRehash: true},
		{name: "bcrypt 2y", hash: "$2y$" + string(bc)[4:], wantRehash: true},
		{name: "argon2id other costs", hash: weak, wantRehash: true},
		{name: "argon2id current costs", hash: current, wantRehash: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(newBackend(t), Options{Params: target})
			if err := s.Create(ctx, &User{Username: "alice", PasswordHash: tt.hash}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Authenticate(ctx, "/", "alice", "wrong"); !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("wrong password: %v", err)
			}
			if u, _ := s.Get(ctx, "/", "alice"); u.PasswordHash != tt.hash {
				t.Fatal("a failed login changed the hash")
			}
			u, err := s.Authenticate(ctx, "/", "alice", "hunter2")
			if err != nil {
				t.Fatal(err)
			}
			stored, err := s.Get(ctx, "/", "alice")
			if err != nil {
				t.Fatal(err)
			}
			if u.PasswordHash != stored.PasswordHash {
				t.Error("Authenticate returned a user with another hash than the stored one")
			}
			if changed := stored.PasswordHash != tt.hash; changed != tt.wantRehash {
				t.Fatalf("hash changed = %v, want %v", changed, tt.wantRehash)
			}
			if !strings.HasPrefix(stored.PasswordHash, "$argon2id$v=19$m=32,t=2,p=1$") || NeedsRehash(stored.PasswordHash, target) {
				t.Errorf("stored hash %q is not argon2id with the target costs", stored.PasswordHash)
			}
			if _, err := s.Authenticate(ctx, "/", "alice", "hunter2"); err != nil {
				t.Errorf("login after rehash: %v", err)
			}
		})
	}
}

func TestRehashKeepsConcurrentPasswordChange(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	bc, _ := bcrypt.GenerateFromPassword([]byte("old"), bcrypt.MinCost)
	if err := s.Create(ctx, &User{Username: "alice", PasswordHash: string(bc)}); err != nil {
		t.Fatal(err)
	}
	u, _ := s.Get(ctx, "/", "alice")
	if err := s.SetPassword(ctx, "/", "alice", "new"); err != nil {
		t.Fatal(err)
	}
	// A login that verified the old password before the change rehashes after it.
	if _, err := s.rehash(ctx, "/", u, "old"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "/", "alice", "new"); err != nil {
		t.Errorf("the new password no longer works: %v", err)
	}
	if _, err := s.Authenticate(ctx, "/", "alice", "old"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("the old password works again: %v", err)
	}
}

func TestSetters(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustCreate(t, s, "/", "alice", "one")

	if err := s.SetPassword(ctx, "/", "ALICE", "two"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "/", "alice", "one"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("old password: %v", err)
	}
	if _, err := s.Authenticate(ctx, "/", "alice", "two"); err != nil {
		t.Errorf("new password: %v", err)
	}
	u, _ := s.Get(ctx, "/", "alice")
	if strings.Contains(u.PasswordHash, "two") || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Errorf("stored hash %q", u.PasswordHash)
	}

	if err := s.SetStatus(ctx, "/", "alice", StatusLocked); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "/", "alice", "two"); !errors.Is(err, ErrLocked) {
		t.Errorf("locked: %v", err)
	}
	if err := s.SetStatus(ctx, "/", "alice", StatusActive); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "/", "alice", "two"); err != nil {
		t.Errorf("unlocked: %v", err)
	}
	// Disabled answers as locked, and Unlock (a journey's) does not enable it; it
	// does unlock a locked account.
	if err := s.SetStatus(ctx, "/", "alice", StatusDisabled); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "/", "alice", "two"); !errors.Is(err, ErrLocked) {
		t.Errorf("disabled: %v", err)
	}
	if ok, err := s.Unlock(ctx, "/", "alice"); ok || err != nil {
		t.Errorf("Unlock of a disabled account: %v %v", ok, err)
	}
	if _, err := s.Authenticate(ctx, "/", "alice", "two"); !errors.Is(err, ErrLocked) {
		t.Errorf("disabled after Unlock: %v", err)
	}
	if err := s.SetStatus(ctx, "/", "alice", StatusLocked); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Unlock(ctx, "/", "alice"); !ok || err != nil {
		t.Errorf("Unlock of a locked account: %v %v", ok, err)
	}
	if _, err := s.Authenticate(ctx, "/", "alice", "two"); err != nil {
		t.Errorf("after Unlock: %v", err)
	}

	type phone struct {
		Number string `json:"number"`
	}
	for _, tt := range []struct {
		key   string
		value any
		want  any
	}{
		{"mail", "a@example.com", "a@example.com"},
		{"count", 3, float64(3)},
		{"phone", phone{"+1"}, map[string]any{"number": "+1"}},
		{"groups", []string{"x"}, []any{"x"}},
	} {
		if err := s.SetAttribute(ctx, "/", "alice", tt.key, tt.value); err != nil {
			t.Fatalf("SetAttribute(%s): %v", tt.key, err)
		}
		u, _ := s.Get(ctx, "/", "alice")
		if got := fmt.Sprint(u.Attributes[tt.key]); got != fmt.Sprint(tt.want) {
			t.Errorf("attribute %s = %s, want %v", tt.key, got, tt.want)
		}
	}
	if err := s.SetAttribute(ctx, "/", "alice", "mail", nil); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.Get(ctx, "/", "alice"); u.Attributes["mail"] != nil || u.Attributes["count"] == nil {
		t.Errorf("removing mail left %v", u.Attributes)
	}

	for name, err := range map[string]error{
		"empty password":   s.SetPassword(ctx, "/", "alice", ""),
		"bad status":       s.SetStatus(ctx, "/", "alice", "gone"),
		"empty attribute":  s.SetAttribute(ctx, "/", "alice", "", 1),
		"bad value":        s.SetAttribute(ctx, "/", "alice", "c", make(chan int)),
		"password missing": s.SetPassword(ctx, "/", "bob", "x"),
		"status missing":   s.SetStatus(ctx, "/", "bob", StatusLocked),
		"attr missing":     s.SetAttribute(ctx, "/", "bob", "a", 1),
	} {
		want := ErrInvalid
		if strings.HasSuffix(name, "missing") {
			want = ErrNotFound
		}
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
	}
}

// TestHashingIsBounded runs many logins at once and checks that no more hashes ran at
// the same time than the Store allows.
func TestHashingIsBounded(t *testing.T) {
	for _, limit := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("limit=%d", limit), func(t *testing.T) {
			ctx := context.Background()
			// Costly enough that calls overlap.
			s := New(newBackend(t), Options{Params: Params{MemoryKiB: 256, Iterations: 2, Parallelism: 1}, MaxConcurrent: limit})
			mustCreate(t, s, "/", "alice", "pw")
			s.maxInFlight.Store(0)
			var wg sync.WaitGroup
			for i := range 32 {
				wg.Go(func() {
					user, pass := "alice", "pw"
					if i%2 == 1 {
						user = "nobody"
					}
					_, err := s.Authenticate(ctx, "/", user, pass)
					if user == "alice" && err != nil || user == "nobody" && !errors.Is(err, ErrInvalidCredentials) {
						t.Errorf("Authenticate(%s): %v", user, err)
					}
				})
			}
			wg.Wait()
			if m := s.maxInFlight.Load(); m > int32(limit) || m < 1 {
				t.Errorf("%d hashes ran at once, limit %d", m, limit)
			}
			if n := s.inFlight.Load(); n != 0 {
				t.Errorf("%d hashing slots still held", n)
			}
		})
	}
}

func TestDefaultMaxConcurrent(t *testing.T) {
	s := New(newBackend(t), Options{})
	if cap(s.sem) < 1 || s.params != DefaultParams {
		t.Errorf("defaults: %d slots, params %v", cap(s.sem), s.params)
	}
}

func TestNewPanicsOnBadParams(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New accepted Iterations 0")
		}
	}()
	New(newBackend(t), Options{Params: Params{MemoryKiB: 64, Parallelism: 1}})
}

func TestWaitingForHashingSlotHonoursContext(t *testing.T) {
	s := New(newBackend(t), Options{Params: CheapParams, MaxConcurrent: 1})
	mustCreate(t, s, "/", "alice", "pw")
	if err := s.acquire(context.Background()); err != nil { // hold the only slot
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := s.Authenticate(ctx, "/", "alice", "pw")
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("Authenticate while no slot frees = %v, want DeadlineExceeded", err)
	}
	if err := s.SetPassword(ctx, "/", "alice", "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("SetPassword = %v, want DeadlineExceeded", err)
	}
	s.release()
	if _, err := s.Authenticate(context.Background(), "/", "alice", "pw"); err != nil {
		t.Errorf("after release: %v", err)
	}
}

func TestAuthenticateCorruptStoredHash(t *testing.T) {
	ctx := context.Background()
	st := newBackend(t)
	var logs strings.Builder
	s := New(st, Options{Params: CheapParams, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	// Written behind the Store's back, as a bad migration might.
	raw := `{"realm":"/","username":"alice","password_hash":"plaintext-secret","status":"active"}`
	if _, err := st.Set(ctx, userKey("/", "alice"), []byte(raw), 0); err != nil {
		t.Fatal(err)
	}
	before := s.verifications.Load()
	if _, err := s.Authenticate(ctx, "/", "alice", "plaintext-secret"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("Authenticate = %v, want ErrInvalidCredentials", err)
	}
	if n := s.verifications.Load() - before; n != 1 {
		t.Errorf("%d verifications, want 1 (the dummy)", n)
	}
	if !strings.Contains(logs.String(), "malformed") || strings.Contains(logs.String(), "plaintext-secret") {
		t.Errorf("log = %q; want a warning without the stored value", logs.String())
	}
}

// TestUpdateNoChange: a callback that returns store.ErrNoChange writes nothing (the
// user's Updated time and store revision stay) and Update returns the user as stored.
func TestUpdateNoChange(t *testing.T) {
	ctx := context.Background()
	fs := &faultyStore{Store: newBackend(t)}
	s := New(fs, Options{Params: CheapParams})
	mustCreate(t, s, "/", "alice", "")
	before, err := s.Get(ctx, "/", "alice")
	if err != nil {
		t.Fatal(err)
	}
	fs.casCall.Store(0)
	u, err := s.Update(ctx, "/", "alice", func(u *User) error {
		u.Attributes = map[string]any{"ignored": true}
		return store.ErrNoChange
	})
	if err != nil {
		t.Fatalf("Update = %v", err)
	}
	if n := fs.casCall.Load(); n != 0 {
		t.Errorf("CAS ran %d times, want 0", n)
	}
	if u.Username != "alice" || u.Attributes["ignored"] != nil || !u.Updated.Equal(before.Updated) {
		t.Errorf("Update returned %+v, want the stored user %+v", u, before)
	}
}

// TestUnknownUserTakesAsLongAsOldHash measures what an attacker measures: the time
// Authenticate takes for an unknown user and for a known user whose hash has older,
// cheaper costs than the configured ones. Without the padding of timing.go they differ
// by the whole cost of a configured hash (the review found 0.65 ms against 26 ms; here
// about 2 ms against 0.4 ms under the race detector), far outside the 5 % allowed.
//
// The test must not be flaky on a loaded 2-core machine, so the two cases do identical
// work by construction: both end at the same fixed target after they start (VerifyTime,
// four times the median of five configured verifications before the test plus 10 ms for
// the store and the race detector, generous enough that the lookup and the dummy hash
// finish first even under load), whatever they hashed.
// Only scheduling noise remains: the two cases are interleaved, so a burst of load hits
// both alike, and the median of 31 runs ignores stragglers. A second and third
// measurement are allowed because a whole measurement can still land in a load spike;
// a real regression (a 20-fold difference) fails all three. The tracked target, which
// moves with the load, is tested on its own in TestVerifyTargetTracksConfiguredCost.
func TestUnknownUserTakesAsLongAsOldHash(t *testing.T) {
	ctx := context.Background()
	configured := Params{MemoryKiB: 256, Iterations: 1, Parallelism: 1}
	probe, err := parseHash(dummyHash(configured))
	if err != nil {
		t.Fatal(err)
	}
	var probes []time.Duration
	for range 5 {
		start := time.Now()
		probe.verify("probe")
		probes = append(probes, time.Since(start))
	}
	slices.Sort(probes)
	target := 4*probes[2] + 10*time.Millisecond
	t.Logf("a configured verification takes %v; every one is padded to %v", probes[2], target)
	s := New(newBackend(t), Options{Params: configured, VerifyTime: target})
	old, err := HashPassword("hunter2", CheapParams)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, &User{Username: "old", PasswordHash: old}); err != nil {
		t.Fatal(err)
	}
	timeOf := func(user string) time.Duration {
		start := time.Now()
		if _, err := s.Authenticate(ctx, "/", user, "wrong"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("Authenticate(%s) = %v", user, err)
		}
		return time.Since(start)
	}
	median := func(d []time.Duration) time.Duration {
		slices.Sort(d)
		return d[len(d)/2]
	}
	const runs = 31
	var unknown, known time.Duration
	for attempt := 1; attempt <= 3; attempt++ {
		var us, ks []time.Duration
		for range runs {
			us = append(us, timeOf("nobody"))
			ks = append(ks, timeOf("old"))
		}
		unknown, known = median(us), median(ks)
		diff := unknown - known
		if diff < 0 {
			diff = -diff
		}
		if diff*20 <= max(unknown, known) { // within 5 %
			t.Logf("attempt %d: medians unknown user %v, old hash %v", attempt, unknown, known)
			return
		}
		t.Logf("attempt %d: medians unknown user %v, old hash %v: more than 5 %% apart", attempt, unknown, known)
	}
	t.Errorf("an unknown user takes %v, a known user with an old hash %v: more than 5 %% apart", unknown, known)
}

// TestVerifyTargetTracksConfiguredCost checks the tracked target: it follows the time
// verifications with the configured costs take, a little above it when they are
// steady, further above when they vary.
func TestVerifyTargetTracksConfiguredCost(t *testing.T) {
	s := New(newBackend(t), Options{Params: CheapParams})
	for range 200 {
		s.observe(20 * time.Millisecond)
	}
	if got := s.verifyTarget(); got < 20*time.Millisecond || got > 23*time.Millisecond {
		t.Errorf("steady 20 ms verifications: target %v, want 20 ms plus an eighth at most", got)
	}
	for i := range 200 {
		s.observe(time.Duration(10+20*(i%2)) * time.Millisecond) // 10 and 30 ms: mean 20, deviation 10
	}
	if got := s.verifyTarget(); got < 35*time.Millisecond || got > 45*time.Millisecond {
		t.Errorf("verifications of 10 and 30 ms: target %v, want about 20 ms plus the margin of 4*10 ms capped at 20 ms", got)
	}
	fixed := New(newBackend(t), Options{Params: CheapParams, VerifyTime: time.Second})
	fixed.observe(time.Millisecond)
	if got := fixed.verifyTarget(); got != time.Second {
		t.Errorf("VerifyTime 1s: target %v", got)
	}
}

func TestWaitVerifyTime(t *testing.T) {
	s := New(newBackend(t), Options{Params: Params{MemoryKiB: 4096, Iterations: 1, Parallelism: 1}})
	target := s.verifyTarget()
	if target <= 0 {
		t.Fatalf("target %v after calibration", target)
	}
	start := time.Now()
	if err := s.WaitVerifyTime(context.Background()); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < target {
		t.Errorf("waited %v, less than the target %v", took, target)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.WaitVerifyTime(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait = %v", err)
	}
}

func TestChangePassword(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	mustCreate(t, s, "/", "alice", "old-secret")
	if _, err := s.Update(ctx, "/", "alice", func(u *User) error { u.MustChangePassword = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if u, err := s.Get(ctx, "/", "alice"); err != nil || !u.MustChangePassword {
		t.Fatalf("flag not stored: %+v %v", u, err)
	}
	before, _ := s.Get(ctx, "/", "alice")

	err := s.ChangePassword(ctx, "/", "alice", "old-secret")
	if !errors.Is(err, ErrSamePassword) {
		t.Fatalf("same password: %v, want ErrSamePassword", err)
	}
	if u, _ := s.Get(ctx, "/", "alice"); u.PasswordHash != before.PasswordHash || !u.MustChangePassword {
		t.Error("a refused change changed the user")
	}
	for name, pw := range map[string]string{"empty": "", "unknown user": "x"} {
		user := "alice"
		if name == "unknown user" {
			user = "ghost"
		}
		if err := s.ChangePassword(ctx, "/", user, pw); err == nil {
			t.Errorf("%s: no error", name)
		}
	}

	if err := s.ChangePassword(ctx, "/", "alice", "new-secret"); err != nil {
		t.Fatal(err)
	}
	u, err := s.Get(ctx, "/", "alice")
	if err != nil || u.MustChangePassword {
		t.Errorf("flag not cleared: %+v %v", u, err)
	}
	if _, err := s.Authenticate(ctx, "/", "alice", "new-secret"); err != nil {
		t.Errorf("new password: %v", err)
	}
	if _, err := s.Authenticate(ctx, "/", "alice", "old-secret"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("old password: %v", err)
	}
}
