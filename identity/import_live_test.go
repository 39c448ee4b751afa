package identity

import (
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestImportKeepsLiveState imports a file, changes things at runtime, imports again
// (the same file or a changed one) and checks what the second import may and may not
// change.
func TestImportKeepsLiveState(t *testing.T) {
	ctx := context.Background()
	bc, err := bcrypt.GenerateFromPassword([]byte("hashed pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	hashed := "users:\n  - {username: alice, password_hash: '" + string(bc) + "'}\n"
	const (
		v1        = "users:\n  - {username: alice, password: first, attributes: {mail: a@example.com, team: blue}}\n"
		v1Changed = "users:\n  - {username: alice, password: second, attributes: {mail: a@example.com, team: blue}}\n"
		lockedV1  = "users:\n  - {username: alice, password: first, status: locked}\n"
		activeV1  = "users:\n  - {username: alice, password: first}\n"
		newAttrs  = "users:\n  - {username: alice, password: first, attributes: {mail: b@example.com}}\n"
	)
	for _, tc := range []struct {
		name    string
		first   string
		runtime func(t *testing.T, s *Store)
		second  string
		check   func(t *testing.T, s *Store, u *User)
	}{
		{"password changed at runtime stays", v1,
			func(t *testing.T, s *Store) { must(t, s.SetPassword(ctx, "/", "alice", "changed at runtime")) },
			v1, func(t *testing.T, s *Store, u *User) {
				login(t, s, "changed at runtime", true)
				login(t, s, "first", false)
			}},
		{"password changed in the file applies", v1, nil, v1Changed,
			func(t *testing.T, s *Store, u *User) { login(t, s, "second", true); login(t, s, "first", false) }},
		{"the file wins when both changed", v1,
			func(t *testing.T, s *Store) { must(t, s.SetPassword(ctx, "/", "alice", "changed at runtime")) },
			v1Changed, func(t *testing.T, s *Store, u *User) { login(t, s, "second", true) }},
		{"a hash rehashed at login stays", hashed,
			func(t *testing.T, s *Store) { login(t, s, "hashed pw", true) }, // bcrypt becomes argon2id
			hashed, func(t *testing.T, s *Store, u *User) {
				if !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
					t.Errorf("re-import put back the old hash %q", u.PasswordHash)
				}
				login(t, s, "hashed pw", true)
			}},
		{"lock applied at runtime stays", activeV1,
			func(t *testing.T, s *Store) { must(t, s.SetStatus(ctx, "/", "alice", StatusLocked)) },
			activeV1, func(t *testing.T, s *Store, u *User) {
				if u.Status != StatusLocked {
					t.Errorf("status %s: the import cleared a lock", u.Status)
				}
			}},
		{"status changed in the file applies", lockedV1, nil, activeV1,
			func(t *testing.T, s *Store, u *User) {
				if u.Status != StatusActive {
					t.Errorf("status %s, want active: the file changed it", u.Status)
				}
			}},
		{"attributes: runtime ones stay, file changes apply, dropped ones go", v1,
			func(t *testing.T, s *Store) {
				must(t, s.SetAttribute(ctx, "/", "alice", "retryLimitNodeCount", 2))
			},
			newAttrs, func(t *testing.T, s *Store, u *User) {
				if u.Attributes["retryLimitNodeCount"] != float64(2) || u.Attributes["mail"] != "b@example.com" || u.Attributes["team"] != nil {
					t.Errorf("attributes %v", u.Attributes)
				}
			}},
		{"an attribute changed at runtime stays while the file keeps it", v1,
			func(t *testing.T, s *Store) { must(t, s.SetAttribute(ctx, "/", "alice", "team", "red")) },
			v1, func(t *testing.T, s *Store, u *User) {
				if u.Attributes["team"] != "red" {
					t.Errorf("attributes %v", u.Attributes)
				}
			}},
		{"a user no import made keeps their password", "",
			func(t *testing.T, s *Store) { mustCreate(t, s, "/", "alice", "made by hand") },
			v1, func(t *testing.T, s *Store, u *User) {
				login(t, s, "made by hand", true)
				// ...until the file changes it.
				if _, err := s.Import(ctx, strings.NewReader(v1Changed)); err != nil {
					t.Fatal(err)
				}
				login(t, s, "second", true)
			}},
		{"a deleted user comes back", v1,
			func(t *testing.T, s *Store) { must(t, s.Delete(ctx, "/", "alice")) },
			v1, func(t *testing.T, s *Store, u *User) { login(t, s, "first", true) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			if tc.first != "" {
				if _, err := s.Import(ctx, strings.NewReader(tc.first)); err != nil {
					t.Fatal(err)
				}
			}
			if tc.runtime != nil {
				tc.runtime(t, s)
			}
			if _, err := s.Import(ctx, strings.NewReader(tc.second)); err != nil {
				t.Fatal(err)
			}
			u, err := s.Get(ctx, "/", "alice")
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s, u)
		})
	}
}

// TestImportRecordHoldsNoPassword checks that what an import remembers of a clear-text
// password is a hash.
func TestImportRecordHoldsNoPassword(t *testing.T) {
	ctx := context.Background()
	st := newBackend(t)
	s := New(st, Options{Params: CheapParams})
	if _, err := s.Import(ctx, strings.NewReader("users:\n  - {username: alice, password: s3cret-pw}\n")); err != nil {
		t.Fatal(err)
	}
	it, err := st.Get(ctx, importKey("/", "alice"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(it.Value), "s3cret-pw") || !strings.Contains(string(it.Value), "$argon2id$") {
		t.Fatalf("import record %s", it.Value)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func login(t *testing.T, s *Store, password string, ok bool) {
	t.Helper()
	_, err := s.Authenticate(context.Background(), "/", "alice", password)
	if ok && err != nil {
		t.Errorf("password %q refused: %v", password, err)
	}
	if !ok && !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("password %q: %v, want invalid credentials", password, err)
	}
}
