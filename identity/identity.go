// Package identity stores users per realm and checks their passwords.
//
// Users live in the shared store.Store, so every Arbor instance sees the same accounts
// on either backend. A user is one JSON value under
//
//	user:{<realm>}:<lowercased username>
//
// and each realm keeps an index of its usernames under users:{<realm>}, because the
// store cannot scan keys. The realm is the Redis Cluster hash tag, so a realm's users
// and its index share a slot. Usernames match case-insensitively; User.Username keeps
// the case the user was created with.
//
// Realm names follow ForgeRock AM: the top-level realm is "/" (also spelled "" or
// "root"), and "alpha", "/alpha" and "root/alpha" all name the sub-realm "/alpha". See
// NormalizeRealm.
//
// Passwords are hashed with argon2id (PHC string format); bcrypt hashes from other
// systems are accepted and replaced by argon2id on the user's next successful login.
// Hashing is expensive by design, so a Store runs at most Options.MaxConcurrent hashes
// at a time and makes callers wait (honouring their context) for a free slot: memory
// stays flat under a burst of logins.
//
// Writes to one user are atomic: they are compare-and-swap loops on the user's revision
// (see Update). The realm index is kept with the same kind of loop. The store has no
// multi-key transactions, so writes order their steps to keep the index a superset of
// the realm's users: a Create, Put or Delete cut short by a store failure can leave a
// name in the index whose user does not exist (Get reports ErrNotFound for it, and
// Delete removes it), but not a user missing from the index. One index value per realm
// suits realms of up to some tens of thousands of users.
package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/arbor-auth/arbor/store"
)

// Errors callers branch on with errors.Is. Every error the package returns wraps one of
// these, a store error (store.ErrUnavailable, say), or a context error.
var (
	// ErrNotFound reports that the user does not exist in the realm.
	ErrNotFound = errors.New("identity: user not found")
	// ErrExists reports that Create found a user of that name already in the realm.
	ErrExists = errors.New("identity: user already exists")
	// ErrInvalidCredentials reports a failed login: unknown user, wrong password or
	// empty password, deliberately not told apart.
	ErrInvalidCredentials = errors.New("identity: invalid credentials")
	// ErrLocked reports a login with the right password to an account that is not
	// active. Authenticate only returns it after the password has been verified.
	ErrLocked = errors.New("identity: account locked")
	// ErrSamePassword reports a ChangePassword to the password the user already has.
	ErrSamePassword = errors.New("identity: the new password is the current one")
	// ErrInvalid reports bad input: a malformed realm, username, status, attribute,
	// password hash or cost parameters, or an empty password.
	ErrInvalid = errors.New("identity: invalid input")
)

// invalidError is bad input. Its text is its own message, without ErrInvalid's, and
// errors.Is matches it both to ErrInvalid and to whatever the message wraps.
type invalidError struct{ err error }

// Error describes the error in a sentence.
func (e *invalidError) Error() string { return e.err.Error() }

// Unwrap returns the errors this one wraps, for errors.Is and errors.As.
func (e *invalidError) Unwrap() []error { return []error{ErrInvalid, e.err} }

// invalidf formats a message (which may wrap errors with %w) as an error matching
// ErrInvalid.
func invalidf(format string, args ...any) error {
	return &invalidError{fmt.Errorf(format, args...)}
}

// Status is an account's state.
type Status string

// Account states. A user created without a status is active.
const (
	// StatusActive is an account that can log in.
	StatusActive Status = "active"
	// StatusLocked is an account whose logins fail with ErrLocked, typically locked by
	// a journey after too many failures; a journey can unlock it.
	StatusLocked Status = "locked"
	// StatusDisabled is an account an administrator switched off: its logins fail with
	// ErrLocked as a locked account's do (the answer tells nobody which it is), and no
	// journey unlocks it (see Unlock).
	StatusDisabled Status = "disabled"
)

// valid reports whether s is a known state.
func (s Status) valid() bool {
	return s == StatusActive || s == StatusLocked || s == StatusDisabled
}

// User is one account in a realm.
type User struct {
	// Realm is the normalised realm name ("/", "/alpha").
	Realm string `json:"realm"`
	// Username is the name as created; lookups ignore its case.
	Username string `json:"username"`
	// PasswordHash is an argon2id (PHC) or bcrypt hash; empty means no password login.
	PasswordHash string `json:"password_hash,omitempty"`
	// Attributes are free-form profile values (mail, phone, groups...). They are stored
	// as JSON, so numbers read back as float64 and objects as map[string]any.
	Attributes map[string]any `json:"attributes,omitempty"`
	// Status is the account state.
	Status Status `json:"status"`
	// MustChangePassword asks that the user choose a new password at the next login: a
	// journey's password_change node honours it and clears it with the change
	// (ChangePassword). An administrator setting a password may set it.
	MustChangePassword bool `json:"must_change_password,omitempty"`
	// Created is when the user was first stored.
	Created time.Time `json:"created"`
	// Updated is when the user was last written.
	Updated time.Time `json:"updated"`
}

// Params are argon2id cost parameters.
type Params struct {
	// MemoryKiB is the memory cost in KiB; one hash allocates this much.
	MemoryKiB uint32
	// Iterations is the number of passes over the memory.
	Iterations uint32
	// Parallelism is the number of lanes (threads) per hash.
	Parallelism uint8
}

// Options configure a Store.
type Options struct {
	// Params are the costs new hashes are made with, and the target of rehashing.
	// The zero value means DefaultParams.
	Params Params
	// MaxConcurrent bounds how many hashes (and verifications) run at once;
	// zero or less means runtime.NumCPU().
	MaxConcurrent int
	// VerifyTime, when positive, is how long every password verification takes at
	// least, instead of the time tracked from verifications with Params (see
	// WaitVerifyTime). Set it above that time, or verifications with Params take their
	// own, varying time again.
	VerifyTime time.Duration
	// Logger receives warnings (a failed rehash, a corrupt stored hash). They carry the
	// realm and username, never a password or a hash. Nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock of users' Created and Updated times; nil means time.Now. Tests
	// pass a manual clock so that they never wait for time to pass.
	Now func() time.Time
}

// Store keeps users in a store.Store. It is safe for concurrent use.
type Store struct {
	st     store.Store
	params Params
	sem    chan struct{} // hashing slots
	dummy  *parsedHash   // verified against for unknown users
	log    *slog.Logger
	clock  func() time.Time

	// Instrumentation, read by the tests.
	inFlight      atomic.Int32 // hashes running now
	maxInFlight   atomic.Int32 // most hashes ever running at once
	verifications atomic.Int64 // password verifications made

	// Moving average and mean deviation, in nanoseconds, of the time verifications with
	// the Store's costs take (see timing.go).
	verifyAvg, verifyDev atomic.Int64
	verifyFixed          time.Duration // Options.VerifyTime
}

// Bounds on names, so that keys and logs stay small.
const (
	maxUsernameLen = 255
	maxRealmLen    = 255
)

// New returns a Store keeping users in st. It panics if opts.Params is set but invalid
// (a configuration error); check configured costs with Params.Validate first.
func New(st store.Store, opts Options) *Store {
	p := opts.Params
	if p == (Params{}) {
		p = DefaultParams
	}
	if err := p.Validate(); err != nil {
		panic(fmt.Sprintf("identity: New: %v", err))
	}
	n := opts.MaxConcurrent
	if n <= 0 {
		n = runtime.NumCPU()
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	dummy, err := parseHash(dummyHash(p))
	if err != nil { // cannot happen: p is valid and dummyHash well-formed
		panic(fmt.Sprintf("identity: New: dummy hash: %v", err))
	}
	clock := opts.Now
	if clock == nil {
		clock = time.Now
	}
	s := &Store{st: st, params: p, sem: make(chan struct{}, n), dummy: dummy, log: log, clock: clock, verifyFixed: opts.VerifyTime}
	s.calibrate()
	return s
}

// NormalizeRealm returns the canonical name of a realm: "/" for the top-level realm
// ("", "/" and "root" name it too), otherwise a leading slash and the path of sub-realms,
// with a leading "root" segment dropped: "alpha", "/alpha" and "root/alpha" all give
// "/alpha", and "/alpha/sub" stays as it is. A trailing slash is ignored. Segments may
// hold ASCII letters, digits, '-', '_' and '.', but may not be empty, "." or "..".
// Case is kept: "/Alpha" and "/alpha" are different realms.
func NormalizeRealm(realm string) (string, error) {
	r, err := normalizeRealm(realm)
	if err != nil {
		return "", fmt.Errorf("identity: %w", err)
	}
	return r, nil
}

// normalizeRealm is NormalizeRealm with errors that do not repeat the package name,
// for use inside errors that already carry it.
func normalizeRealm(realm string) (string, error) {
	if len(realm) > maxRealmLen {
		return "", invalidf("invalid realm: longer than %d bytes", maxRealmLen)
	}
	if realm == "" || realm == "/" {
		return "/", nil
	}
	path := strings.TrimPrefix(realm, "/")
	path = strings.TrimSuffix(path, "/")
	segs := strings.Split(path, "/")
	if segs[0] == "root" {
		segs = segs[1:]
	}
	for _, seg := range segs {
		if seg == "" || seg == "." || seg == ".." {
			return "", invalidf("invalid realm %q: empty, \".\" or \"..\" segment", realm)
		}
		for _, c := range seg {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
				return "", invalidf("invalid realm %q: character %q not allowed", realm, c)
			}
		}
	}
	return "/" + strings.Join(segs, "/"), nil
}

// validateUsername checks a username: 1 to 255 bytes of UTF-8, no control characters,
// no leading or trailing space.
func validateUsername(name string) error {
	switch {
	case name == "":
		return invalidf("empty username")
	case len(name) > maxUsernameLen:
		return invalidf("username longer than %d bytes", maxUsernameLen)
	case !utf8.ValidString(name):
		return invalidf("username is not valid UTF-8")
	case strings.TrimSpace(name) != name:
		return invalidf("username has leading or trailing space")
	case strings.ContainsFunc(name, unicode.IsControl):
		return invalidf("username has a control character")
	}
	return nil
}

// foldName is the form usernames are matched and keyed by.
func foldName(name string) string { return strings.ToLower(name) }

// userKey is the store key of a user; realm is normalised.
func userKey(realm, username string) string {
	return "user:{" + realm + "}:" + foldName(username)
}

// indexKey is the store key of a realm's username index; realm is normalised.
func indexKey(realm string) string { return "users:{" + realm + "}" }

// lookup normalises realm and checks username for the read and update methods. A
// username that cannot exist is reported as ErrNotFound.
func lookup(op, realm, username string) (string, error) {
	r, err := normalizeRealm(realm)
	if err != nil {
		return "", fmt.Errorf("identity: %s: %w", op, err)
	}
	if err := validateUsername(username); err != nil {
		return "", fmt.Errorf("identity: %s user %q in realm %s: %w (%v)", op, username, r, ErrNotFound, err)
	}
	return r, nil
}

// prepare validates u for writing and fills in its normalised realm, default status and
// timestamps.
func prepare(u *User, now time.Time) error {
	if u == nil {
		return invalidf("nil user")
	}
	r, err := normalizeRealm(u.Realm)
	if err != nil {
		return err
	}
	u.Realm = r
	if u.Status == "" {
		u.Status = StatusActive
	}
	if err := validateUser(u); err != nil {
		return err
	}
	if u.Created.IsZero() {
		u.Created = now
	}
	u.Updated = now
	return nil
}

// validateUser checks the fields of a user whose realm is already normalised.
func validateUser(u *User) error {
	if err := validateUsername(u.Username); err != nil {
		return err
	}
	if !u.Status.valid() {
		return invalidf("status %q (want %q, %q or %q)", u.Status, StatusActive, StatusLocked, StatusDisabled)
	}
	if u.PasswordHash != "" {
		if _, err := parseHash(u.PasswordHash); err != nil {
			return err
		}
	}
	return nil
}

// now is the time stamped on writes.
// now reads the store's clock, in UTC as stored.
func (s *Store) now() time.Time { return s.clock().UTC() }

// encode marshals u for the store.
func encode(u *User) ([]byte, error) {
	b, err := json.Marshal(u)
	if err != nil {
		return nil, invalidf("encode user: %v", err)
	}
	return b, nil
}

// load reads a user and its revision. realm is normalised.
func (s *Store) load(ctx context.Context, op, realm, username string) (*User, uint64, error) {
	it, err := s.st.Get(ctx, userKey(realm, username))
	return loaded(op, realm, username, it, err)
}

// loaded is load's decoding of the read's result it, err.
func loaded(op, realm, username string, it store.Item, err error) (*User, uint64, error) {
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, fmt.Errorf("identity: %s user %q in realm %s: %w", op, username, realm, ErrNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("identity: %s user %q in realm %s: %w", op, username, realm, err)
	}
	var u User
	if err := decodeUser(it.Value, &u); err != nil {
		return nil, 0, fmt.Errorf("identity: %s user %q in realm %s: decode stored user: %w", op, username, realm, err)
	}
	return &u, it.Rev, nil
}

// Get returns the user named username (in any case) in realm, or ErrNotFound.
func (s *Store) Get(ctx context.Context, realm, username string) (*User, error) {
	r, err := lookup("get", realm, username)
	if err != nil {
		return nil, err
	}
	u, _, err := s.load(ctx, "get", r, username)
	return u, err
}

// Create adds a new user, or returns ErrExists if the realm already has a user of that
// name in any case. It normalises u.Realm, defaults u.Status to active and sets
// u.Created (if zero) and u.Updated, in place. u.PasswordHash, if set, must be an
// argon2id or bcrypt hash; use SetPassword to set a password from clear text.
func (s *Store) Create(ctx context.Context, u *User) error {
	if err := prepare(u, s.now()); err != nil {
		return fmt.Errorf("identity: create user: %w", err)
	}
	data, err := encode(u)
	if err != nil {
		return fmt.Errorf("identity: create user %q in realm %s: %w", u.Username, u.Realm, err)
	}
	// Index first, so that an outage between the two writes leaves at worst an index
	// entry without a user, never a user missing from the index.
	if err := s.indexAdd(ctx, u.Realm, []string{u.Username}, false); err != nil {
		return fmt.Errorf("identity: create user %q in realm %s: %w", u.Username, u.Realm, err)
	}
	if _, err := s.st.CAS(ctx, userKey(u.Realm, u.Username), data, 0, 0); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("identity: create user %q in realm %s: %w", u.Username, u.Realm, ErrExists)
		}
		return fmt.Errorf("identity: create user %q in realm %s: %w", u.Username, u.Realm, err)
	}
	// Again after the write: a concurrent Delete of the same name may have removed the
	// entry in between. This one also records the case the user was created with.
	if err := s.indexAdd(ctx, u.Realm, []string{u.Username}, true); err != nil {
		return fmt.Errorf("identity: create user %q in realm %s: %w", u.Username, u.Realm, err)
	}
	return nil
}

// Put creates u or replaces the user of that name (in any case) in its realm. A zero
// u.Created keeps the creation time of the user it replaces. Like Create, it normalises
// and fills in u in place.
func (s *Store) Put(ctx context.Context, u *User) error {
	keepCreated := u != nil && u.Created.IsZero()
	if err := prepare(u, s.now()); err != nil {
		return fmt.Errorf("identity: put user: %w", err)
	}
	if err := s.put(ctx, u, keepCreated); err != nil {
		return fmt.Errorf("identity: put user %q in realm %s: %w", u.Username, u.Realm, err)
	}
	return nil
}

// put writes a prepared user over any existing one and indexes it.
func (s *Store) put(ctx context.Context, u *User, keepCreated bool) error {
	if err := s.indexAdd(ctx, u.Realm, []string{u.Username}, false); err != nil {
		return err
	}
	if err := s.putUser(ctx, u, keepCreated); err != nil {
		return err
	}
	return s.indexAdd(ctx, u.Realm, []string{u.Username}, true)
}

// putUser writes a prepared user over any existing one, leaving the index alone. It
// goes through store.Update so that the creation time it keeps (if keepCreated) is that
// of the very user it replaces.
func (s *Store) putUser(ctx context.Context, u *User, keepCreated bool) error {
	created := u.Created
	_, err := store.Update(ctx, s.st, userKey(u.Realm, u.Username), func(cur []byte, exists bool) ([]byte, time.Duration, error) {
		u.Created = created
		var old User
		if exists && keepCreated && json.Unmarshal(cur, &old) == nil && !old.Created.IsZero() {
			u.Created = old.Created
		}
		data, err := encode(u)
		return data, 0, err
	})
	return err
}

// Update changes a user atomically: it reads the user, calls fn on it and writes the
// result back if nobody wrote the user in the meantime, and otherwise starts over
// (store.Update's retry policy: after store.MaxUpdateAttempts it gives up with an error
// wrapping store.ErrConflict). fn may therefore run more than once and must only change
// the user it is given. fn returns store.ErrNoChange to write nothing; Update then
// returns the user as stored. Any other error from fn aborts the update and is
// returned wrapped. fn may not move the user to
// another realm or rename it, except to change the case of its name. Update returns
// the user as stored, as Get would read it back (Updated set, attributes in their
// JSON form).
func (s *Store) Update(ctx context.Context, realm, username string, fn func(*User) error) (*User, error) {
	r, err := lookup("update", realm, username)
	if err != nil {
		return nil, err
	}
	u, err := s.update(ctx, r, username, fn)
	if err != nil {
		return nil, fmt.Errorf("identity: update user %q in realm %s: %w", username, r, err)
	}
	return u, nil
}

// update is Update for a normalised realm, with unwrapped errors.
func (s *Store) update(ctx context.Context, realm, username string, fn func(*User) error) (*User, error) {
	var (
		out     *User
		renamed bool
	)
	_, err := store.Update(ctx, s.st, userKey(realm, username), func(cur []byte, exists bool) ([]byte, time.Duration, error) {
		if !exists {
			return nil, 0, ErrNotFound
		}
		var u User
		if err := json.Unmarshal(cur, &u); err != nil {
			return nil, 0, fmt.Errorf("decode stored user: %w", err)
		}
		was := u.Username
		if err := fn(&u); errors.Is(err, store.ErrNoChange) {
			// Nothing to write: return the user as stored.
			var stored User
			if err := json.Unmarshal(cur, &stored); err != nil {
				return nil, 0, fmt.Errorf("decode stored user: %w", err)
			}
			out, renamed = &stored, false
			return nil, 0, store.ErrNoChange
		} else if err != nil {
			return nil, 0, err
		}
		if r, err := normalizeRealm(u.Realm); err != nil || r != realm {
			return nil, 0, invalidf("cannot move a user to realm %q", u.Realm)
		}
		u.Realm = realm
		if foldName(u.Username) != foldName(was) {
			return nil, 0, invalidf("cannot rename a user to %q", u.Username)
		}
		if u.Status == "" {
			u.Status = StatusActive
		}
		if err := validateUser(&u); err != nil {
			return nil, 0, err
		}
		u.Updated = s.now()
		data, err := encode(&u)
		if err != nil {
			return nil, 0, err
		}
		// Return the user as Get will read it back (attributes in their JSON form).
		var stored User
		if err := json.Unmarshal(data, &stored); err != nil {
			return nil, 0, fmt.Errorf("decode updated user: %w", err)
		}
		out, renamed = &stored, u.Username != was
		return data, 0, nil
	})
	if err != nil {
		return nil, err
	}
	if renamed { // the case of the name changed: show it in the index too
		if err := s.indexAdd(ctx, realm, []string{out.Username}, true); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Delete removes a user, or returns ErrNotFound.
func (s *Store) Delete(ctx context.Context, realm, username string) error {
	r, err := lookup("delete", realm, username)
	if err != nil {
		return err
	}
	_, err = s.st.Take(ctx, userKey(r, username))
	missing := errors.Is(err, store.ErrNotFound)
	if err != nil && !missing {
		return fmt.Errorf("identity: delete user %q in realm %s: %w", username, r, err)
	}
	// Remove the index entry even if the user was missing: that cleans up after an
	// interrupted Create or Delete.
	if err := s.indexRemove(ctx, r, username); err != nil {
		return fmt.Errorf("identity: delete user %q in realm %s: %w", username, r, err)
	}
	// A concurrent Create of the same name may have written the user after the Take
	// and indexed it before indexRemove: put the entry back if the user exists.
	if u, _, err := s.load(ctx, "delete", r, username); err == nil {
		if err := s.indexAdd(ctx, r, []string{u.Username}, false); err != nil {
			return fmt.Errorf("identity: delete user %q in realm %s: %w", username, r, err)
		}
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	if missing {
		return fmt.Errorf("identity: delete user %q in realm %s: %w", username, r, ErrNotFound)
	}
	return nil
}

// List returns the usernames of a realm, sorted case-insensitively. An unknown realm
// has no users. See the package documentation for how the index can lag.
func (s *Store) List(ctx context.Context, realm string) ([]string, error) {
	r, err := normalizeRealm(realm)
	if err != nil {
		return nil, fmt.Errorf("identity: list users: %w", err)
	}
	names, err := s.readIndex(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("identity: list users in realm %s: %w", r, err)
	}
	if names == nil {
		names = []string{}
	}
	return names, nil
}

// readIndex returns a realm's index (nil if it does not exist).
func (s *Store) readIndex(ctx context.Context, realm string) ([]string, error) {
	it, err := s.st.Get(ctx, indexKey(realm))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	if err := json.Unmarshal(it.Value, &names); err != nil {
		return nil, fmt.Errorf("decode user index: %w", err)
	}
	return names, nil
}

// modifyIndex applies change to a realm's index through store.Update. change returns
// the new list and whether it differs; nothing is written if it does not.
func (s *Store) modifyIndex(ctx context.Context, realm string, change func([]string) ([]string, bool)) error {
	_, err := store.Update(ctx, s.st, indexKey(realm), func(cur []byte, exists bool) ([]byte, time.Duration, error) {
		var names []string
		if exists {
			if err := json.Unmarshal(cur, &names); err != nil {
				return nil, 0, fmt.Errorf("decode user index: %w", err)
			}
		}
		next, changed := change(names)
		if !changed {
			return nil, 0, store.ErrNoChange
		}
		data, err := json.Marshal(next)
		if err != nil {
			return nil, 0, fmt.Errorf("encode user index: %w", err)
		}
		return data, 0, nil
	})
	if err != nil {
		return fmt.Errorf("update user index: %w", err)
	}
	return nil
}

// indexAdd adds names to a realm's index. A name already there in another case is
// left alone, or given the new case if setCase is true.
func (s *Store) indexAdd(ctx context.Context, realm string, names []string, setCase bool) error {
	return s.modifyIndex(ctx, realm, func(cur []string) ([]string, bool) {
		return mergeNames(cur, names, setCase)
	})
}

// indexRemove removes a name, in any case, from a realm's index.
func (s *Store) indexRemove(ctx context.Context, realm, username string) error {
	f := foldName(username)
	return s.modifyIndex(ctx, realm, func(cur []string) ([]string, bool) {
		next := slices.DeleteFunc(slices.Clone(cur), func(n string) bool { return foldName(n) == f })
		return next, len(next) != len(cur)
	})
}

// mergeNames adds names to the sorted list cur (see indexAdd) and reports whether the
// result differs from cur.
func mergeNames(cur, names []string, setCase bool) ([]string, bool) {
	pos := make(map[string]int, len(cur))
	for i, n := range cur {
		pos[foldName(n)] = i
	}
	next := slices.Clone(cur)
	changed := false
	for _, n := range names {
		f := foldName(n)
		if i, ok := pos[f]; ok {
			if setCase && next[i] != n {
				next[i] = n
				changed = true
			}
			continue
		}
		pos[f] = len(next)
		next = append(next, n)
		changed = true
	}
	if changed {
		slices.SortFunc(next, func(a, b string) int {
			return strings.Compare(foldName(a), foldName(b))
		})
	}
	return next, changed
}

// Authenticate checks username's password in realm and returns the user.
//
// An unknown user, a wrong password and an empty password all give
// ErrInvalidCredentials, and an unknown user costs one verification against a dummy
// hash with the Store's costs, so a caller cannot tell it from a wrong password by
// timing. A stored hash with cheaper or other costs (a bcrypt import, costs since
// raised) is padded to the time of one with the Store's costs (see WaitVerifyTime);
// only a hash dearer than the Store's costs still takes longer, until the user's next
// successful login rehashes it. An account that is not active gives ErrLocked, but only
// once the password has verified, so the lock leaks nothing to whoever lacks it. A
// store failure is returned wrapped (errors.Is(err, store.ErrUnavailable) holds).
//
// After a successful check, a hash that NeedsRehash (bcrypt, or other costs) is
// replaced by a fresh argon2id hash with the Store's costs. That is best effort: a
// failure is logged and the login still succeeds.
func (s *Store) Authenticate(ctx context.Context, realm, username, password string) (*User, error) {
	return s.AuthenticateRead(ctx, realm, username, password, nil)
}

// UserRead returns the store read Authenticate starts with, for a caller that runs it
// in a batch of its own (the guessing defence's, see nodes.CheckSecretWith) and hands
// it to AuthenticateRead. ok is false for a realm or name that cannot exist, which
// Authenticate refuses without reading.
func (s *Store) UserRead(realm, username string) (read store.Op, ok bool) {
	r, err := normalizeRealm(realm)
	if err != nil || validateUsername(username) != nil {
		return store.Op{}, false
	}
	return store.GetOp(userKey(r, username)), true
}

// AuthenticateRead is Authenticate starting from read, a UserRead of the same realm and
// name already run (nil: Authenticate reads the user itself). The time it pads a wrong
// answer to starts after the read either way.
func (s *Store) AuthenticateRead(ctx context.Context, realm, username, password string, read *store.Op) (*User, error) {
	// Reading and decoding a user takes longer than missing one, so the padding covers
	// the whole lookup, not only the hashing.
	deadline := time.Now().Add(s.verifyTarget())
	r, err := normalizeRealm(realm)
	if err != nil {
		return nil, fmt.Errorf("identity: authenticate: %w", err)
	}
	fail := func(err error) (*User, error) {
		return nil, fmt.Errorf("identity: authenticate user %q in realm %s: %w", username, r, err)
	}
	// Neither check depends on what is stored, so answering at once leaks nothing.
	if password == "" || validateUsername(username) != nil {
		return fail(ErrInvalidCredentials)
	}
	var u *User
	if read != nil {
		if read.Kind != store.OpGet || read.Key != userKey(r, username) {
			return nil, fmt.Errorf("identity: authenticate user %q in realm %s: the read given is not of this user", username, r)
		}
		u, _, err = loaded("authenticate", r, username, read.Item, read.Err)
	} else {
		u, _, err = s.load(ctx, "authenticate", r, username)
	}
	switch {
	case errors.Is(err, ErrNotFound):
		if _, err := s.verify(ctx, s.dummy, password, deadline); err != nil {
			return fail(err)
		}
		return fail(ErrInvalidCredentials)
	case err != nil:
		return nil, err
	}
	h := s.dummy // no password set: spend the same time and fail
	if u.PasswordHash != "" {
		if h, err = parseHash(u.PasswordHash); err != nil {
			s.log.WarnContext(ctx, "identity: stored password hash is malformed; the user cannot log in with a password",
				"realm", r, "username", u.Username)
			h = s.dummy
		}
	}
	ok, err := s.verify(ctx, h, password, deadline)
	if err != nil {
		return fail(err)
	}
	if !ok || h == s.dummy {
		return fail(ErrInvalidCredentials)
	}
	if u.Status != StatusActive && u.Status != "" {
		return fail(ErrLocked)
	}
	if h.needsRehash(s.params) { // h is u.PasswordHash, parsed: NeedsRehash without parsing again
		if nu, err := s.rehash(ctx, r, u, password); err != nil {
			s.log.WarnContext(ctx, "identity: rehash after login failed; the old hash stays",
				"realm", r, "username", u.Username, "err", err)
		} else {
			u = nu
		}
	}
	return u, nil
}

// errHashChanged aborts a rehash whose user got a new password meanwhile.
var errHashChanged = errors.New("password hash changed during rehash")

// rehash replaces u's password hash with one made with the Store's costs, unless the
// stored hash changed since u was read.
func (s *Store) rehash(ctx context.Context, realm string, u *User, password string) (*User, error) {
	old := u.PasswordHash
	h, err := s.hash(ctx, password)
	if err != nil {
		return nil, err
	}
	nu, err := s.update(ctx, realm, u.Username, func(cur *User) error {
		if cur.PasswordHash != old {
			return errHashChanged
		}
		cur.PasswordHash = h
		return nil
	})
	if errors.Is(err, errHashChanged) {
		return u, nil
	}
	return nu, err
}

// SetPassword hashes password with the Store's costs and makes it the user's password.
// An empty password is an error.
func (s *Store) SetPassword(ctx context.Context, realm, username, password string) error {
	return s.setPassword(ctx, realm, username, password, nil)
}

// ResetPassword is SetPassword by an administrator: it also sets MustChangePassword to
// mustChange in the same write, so a journey's password_change node asks the user for a
// password of their own at the next login (or, with false, stops asking).
func (s *Store) ResetPassword(ctx context.Context, realm, username, password string, mustChange bool) error {
	return s.setPassword(ctx, realm, username, password, &mustChange)
}

func (s *Store) setPassword(ctx context.Context, realm, username, password string, mustChange *bool) error {
	r, err := lookup("set password of", realm, username)
	if err != nil {
		return err
	}
	h, err := s.hash(ctx, password)
	if err != nil {
		return fmt.Errorf("identity: set password of user %q in realm %s: %w", username, r, err)
	}
	_, err = s.update(ctx, r, username, func(u *User) error {
		u.PasswordHash = h
		if mustChange != nil {
			u.MustChangePassword = *mustChange
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("identity: set password of user %q in realm %s: %w", username, r, err)
	}
	return nil
}

// ChangePassword makes password the user's new password and clears MustChangePassword,
// unless it is the password the user has now: then it returns an error wrapping
// ErrSamePassword and changes nothing. Comparing against the stored hash costs one
// verification, run in a hashing slot like a login's.
func (s *Store) ChangePassword(ctx context.Context, realm, username, password string) error {
	r, err := lookup("change password of", realm, username)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		return fmt.Errorf("identity: change password of user %q in realm %s: %w", username, r, err)
	}
	if password == "" {
		return fail(invalidf("empty password"))
	}
	u, _, err := s.load(ctx, "change password of", r, username)
	if err != nil {
		return err
	}
	if u.PasswordHash != "" {
		if h, err := parseHash(u.PasswordHash); err == nil {
			same, err := s.verify(ctx, h, password, time.Time{})
			if err != nil {
				return fail(err)
			}
			if same {
				return fail(ErrSamePassword)
			}
		}
	}
	h, err := s.hash(ctx, password)
	if err != nil {
		return fail(err)
	}
	old := u.PasswordHash
	_, err = s.update(ctx, r, username, func(cur *User) error {
		if cur.PasswordHash != old {
			// Changed meanwhile (another change, an administrator): the check against
			// the current password no longer holds, so this change loses.
			return fmt.Errorf("%w: the password changed meanwhile", store.ErrConflict)
		}
		cur.PasswordHash, cur.MustChangePassword = h, false
		return nil
	})
	if err != nil {
		return fail(err)
	}
	return nil
}

// SetStatus changes the user's account state.
func (s *Store) SetStatus(ctx context.Context, realm, username string, status Status) error {
	r, err := lookup("set status of", realm, username)
	if err != nil {
		return err
	}
	if !status.valid() {
		return fmt.Errorf("identity: set status of user %q in realm %s: %w", username, r, invalidf("unknown status %q (want %q, %q or %q)", status, StatusActive, StatusLocked, StatusDisabled))
	}
	_, err = s.update(ctx, r, username, func(u *User) error {
		u.Status = status
		return nil
	})
	if err != nil {
		return fmt.Errorf("identity: set status of user %q in realm %s: %w", username, r, err)
	}
	return nil
}

// Unlock makes a locked account active again and reports whether it did. A disabled
// account stays disabled: only an administrator (SetStatus) enables it, never a journey.
func (s *Store) Unlock(ctx context.Context, realm, username string) (bool, error) {
	r, err := lookup("unlock", realm, username)
	if err != nil {
		return false, err
	}
	unlocked := false
	_, err = s.update(ctx, r, username, func(u *User) error {
		if unlocked = u.Status == StatusLocked; !unlocked {
			return store.ErrNoChange
		}
		u.Status = StatusActive
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("identity: unlock user %q in realm %s: %w", username, r, err)
	}
	return unlocked, nil
}

// SetAttribute sets one attribute of the user; a nil value removes it. The value must
// encode as JSON, and is stored, and read back, as its JSON form.
func (s *Store) SetAttribute(ctx context.Context, realm, username, key string, value any) error {
	r, err := lookup("set attribute of", realm, username)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		return fmt.Errorf("identity: set attribute %q of user %q in realm %s: %w", key, username, r, err)
	}
	if key == "" {
		return fail(invalidf("empty attribute name"))
	}
	if value != nil {
		if value, err = jsonValue(value); err != nil {
			return fail(err)
		}
	}
	_, err = s.update(ctx, r, username, func(u *User) error {
		if value == nil {
			delete(u.Attributes, key)
			return nil
		}
		if u.Attributes == nil {
			u.Attributes = map[string]any{}
		}
		u.Attributes[key] = value
		return nil
	})
	if err != nil {
		return fail(err)
	}
	return nil
}

// jsonValue returns v as it reads back from JSON, or an error if v does not encode.
func jsonValue(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, invalidf("value does not encode as JSON: %v", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, invalidf("value does not decode from JSON: %v", err)
	}
	return out, nil
}
