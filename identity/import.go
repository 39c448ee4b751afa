package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/arbor-auth/arbor/store"
)

// usersFile is the top level of a users file. Entries stay nodes so that each is checked
// on its own and every problem is reported with the entry's index and line.
type usersFile struct {
	Users *[]yaml.Node `yaml:"users"`
}

// importEntry is one user in a users file.
type importEntry struct {
	Username     string         `yaml:"username"`
	Realm        string         `yaml:"realm"`
	Password     *string        `yaml:"password"`
	PasswordHash *string        `yaml:"password_hash"`
	Attributes   map[string]any `yaml:"attributes"`
	Status       Status         `yaml:"status"`
}

// importFields are the keys an entry may have.
var importFields = map[string]bool{
	"username": true, "realm": true, "password": true, "password_hash": true,
	"attributes": true, "status": true,
}

// ImportProblem is one thing wrong with one entry of a users file.
type ImportProblem struct {
	// Index is the entry's position in the users list, from 0.
	Index int
	// Line is the line of the entry, or of the offending field, in the file.
	Line int
	// Message says what is wrong.
	Message string
}

// String formats the problem as "users[3] (line 12): message".
func (p ImportProblem) String() string {
	return fmt.Sprintf("users[%d] (line %d): %s", p.Index, p.Line, p.Message)
}

// ImportError is returned by Import when entries of a users file are bad. It lists
// every problem of every entry; nothing was written. It wraps ErrInvalid.
type ImportError struct {
	// Problems are in file order.
	Problems []ImportProblem
}

// Error lists the problems, one a line after a summary line.
func (e *ImportError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "identity: import: %d problem(s) in the users file, nothing imported:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n")
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap returns ErrInvalid, so that errors.Is(err, ErrInvalid) holds.
func (e *ImportError) Unwrap() error { return ErrInvalid }

// Import reads a YAML users file and brings the store in line with it without undoing
// what happened at runtime. It returns how many users the file holds. The file looks
// like this:
//
//	users:
//	  - username: alice
//	    realm: alpha                # optional; "/" if absent
//	    password: correct horse     # clear text, hashed on import...
//	    attributes: {mail: alice@example.com}
//	  - username: bob
//	    password_hash: $argon2id$v=19$m=19456,t=2,p=1$...   # ...or a hash (bcrypt too)
//	    status: locked              # optional; active if absent
//
// A user missing from the store is created as the file says. For a user that exists,
// Import changes only what changed in the file since the last import, which it
// remembers beside each user (userimport:{<realm>}:<name>, holding the hash of the
// file's password, never the password):
//   - the password is replaced only when the file's password changed since the last
//     import, so a password changed at runtime (or rehashed at login) stays; a user no
//     import has touched keeps their password, and later changes in the file apply;
//   - the status is set only when the file's status changed since the last import, so a
//     lock applied at runtime stays until the file itself changes the status (a user no
//     import has touched is locked if the file says locked, and otherwise left as is);
//   - an attribute is set when the file's value for it changed since the last import (or
//     was never imported), and removed when the file dropped it and the user still has
//     the value last imported; attributes the file never named (retry counts, MFA
//     choices) are left alone.
//
// Devices, recovery codes, sessions and throttling counters are not users' records and
// no import touches them. Importing the same file twice changes nothing the second time.
//
// Clear-text passwords are hashed with the Store's costs, and checked against the
// stored hashes, in parallel up to Options.MaxConcurrent. Unknown fields are errors, at
// the top level and in entries (so are YAML merge keys, "<<", in an entry).
//
// The whole file is checked before anything is written: an entry with both or neither
// of password and password_hash, an empty password, a malformed hash, a bad username,
// realm or status, attributes that do not encode as JSON, or a username repeated in a
// realm (in any case) makes Import return an *ImportError listing every problem, and
// write nothing. A malformed file (bad YAML, an unknown top-level field, no users list,
// more than one document) is an error wrapping ErrInvalid. The store has no
// transactions, so a store failure while writing can leave part of a good file stored;
// the error then says how many users were, and running the import again is safe.
//
// With Realms, a user of any other realm is one more problem: the server would never
// serve that user, so the file is refused rather than half used.
func (s *Store) Import(ctx context.Context, r io.Reader, opts ...ImportOption) (int, error) {
	var o importOptions
	for _, opt := range opts {
		opt(&o)
	}
	users, passwords, err := parseUsersFile(r, o.realms)
	if err != nil {
		return 0, err
	}
	plans, err := s.planImport(ctx, users, passwords)
	if err != nil {
		return 0, fmt.Errorf("identity: import: %w", err)
	}

	byRealm := map[string][]string{}
	var realms []string
	for i, u := range users {
		if plans[i].current != nil {
			continue
		}
		if _, ok := byRealm[u.Realm]; !ok {
			realms = append(realms, u.Realm)
		}
		byRealm[u.Realm] = append(byRealm[u.Realm], u.Username)
	}
	// One index write per realm before the new users and one after, as Put does per user.
	for _, realm := range realms {
		if err := s.indexAdd(ctx, realm, byRealm[realm], false); err != nil {
			return 0, fmt.Errorf("identity: import: realm %s: %w", realm, err)
		}
	}
	t := s.now()
	for i, u := range users {
		if err := s.applyImport(ctx, u, &plans[i], t); err != nil {
			return i, fmt.Errorf("identity: import: stored %d of %d users, then user %q in realm %s: %w",
				i, len(users), u.Username, u.Realm, err)
		}
	}
	for _, realm := range realms {
		if err := s.indexAdd(ctx, realm, byRealm[realm], true); err != nil {
			return len(users), fmt.Errorf("identity: import: realm %s: %w", realm, err)
		}
	}
	return len(users), nil
}

// importRecord is what the last import set on a user: the hash of the file's password
// (the file's own hash, or the one the import computed), the status and the attributes.
// It is kept beside the user rather than in it, so the record every login reads stays
// as small as it was.
type importRecord struct {
	PasswordHash string         `json:"password_hash"`
	Status       Status         `json:"status"`
	Attributes   map[string]any `json:"attributes,omitempty"`
}

func importKey(realm, username string) string {
	return "userimport:{" + realm + "}:" + foldName(username)
}

// importPlan is what Import does to one user of the file.
type importPlan struct {
	current *User         // the stored user; nil to create one
	last    *importRecord // the last import's record; nil if none
	// keepPassword leaves the stored password as it is; otherwise newHash replaces it.
	keepPassword bool
	newHash      string
	// recordHash is the password hash the new record remembers.
	recordHash string
}

// planImport reads the stored users and import records, decides what happens to each
// password, and computes the hashes needed, checking and hashing in parallel.
func (s *Store) planImport(ctx context.Context, users []*User, passwords []string) ([]importPlan, error) {
	plans := make([]importPlan, len(users))
	for i, u := range users {
		cur, err := s.Get(ctx, u.Realm, u.Username)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return nil, err
		default:
			plans[i].current = cur
		}
		it, err := s.st.Get(ctx, importKey(u.Realm, u.Username))
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, err
		default:
			var rec importRecord
			if err := json.Unmarshal(it.Value, &rec); err != nil {
				return nil, fmt.Errorf("user %q in realm %s: corrupt import record: %w", u.Username, u.Realm, err)
			}
			plans[i].last = &rec
		}
	}
	// Which passwords the file changed: a hash compares as text, a clear password is
	// checked against the stored hash, then against the last import's.
	var check []int
	for i, u := range users {
		p := &plans[i]
		if p.current == nil {
			continue
		}
		if passwords[i] == "" {
			p.recordHash = u.PasswordHash
			p.keepPassword = p.current.PasswordHash == u.PasswordHash ||
				(p.last == nil && p.current.PasswordHash != "") || (p.last != nil && p.last.PasswordHash == u.PasswordHash)
			if !p.keepPassword {
				p.newHash = u.PasswordHash
			}
			continue
		}
		check = append(check, i)
	}
	needHash := make([]bool, len(users))
	err := s.parallel(ctx, check, func(ctx context.Context, i int) error {
		p := &plans[i]
		same, err := s.matches(ctx, p.current.PasswordHash, passwords[i])
		if err != nil {
			return err
		}
		if same { // the file's password is the user's: nothing to change
			p.keepPassword, p.recordHash = true, p.current.PasswordHash
			return nil
		}
		if p.last != nil {
			unchanged, err := s.matches(ctx, p.last.PasswordHash, passwords[i])
			if err != nil {
				return err
			}
			if unchanged { // changed at runtime, not in the file
				p.keepPassword, p.recordHash = true, p.last.PasswordHash
				return nil
			}
		}
		// Changed in the file, or never imported: then a live password stays (a user
		// without one gets the file's), and the file's is remembered so that a later
		// change in the file applies.
		p.keepPassword = p.last == nil && p.current.PasswordHash != ""
		needHash[i] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	var hash []int
	for i := range users {
		if passwords[i] != "" && (plans[i].current == nil || needHash[i]) {
			hash = append(hash, i)
		}
	}
	err = s.parallel(ctx, hash, func(ctx context.Context, i int) error {
		h, err := s.hash(ctx, passwords[i])
		if err != nil {
			return fmt.Errorf("hash password of user %q in realm %s: %w", users[i].Username, users[i].Realm, err)
		}
		plans[i].recordHash = h
		if !plans[i].keepPassword {
			plans[i].newHash = h
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, u := range users {
		if plans[i].current == nil {
			if passwords[i] == "" {
				plans[i].recordHash = u.PasswordHash
			}
			u.PasswordHash = plans[i].recordHash
		}
	}
	return plans, nil
}

// matches reports whether password is the one encoded hashes; an empty or unreadable
// hash matches nothing.
func (s *Store) matches(ctx context.Context, encoded, password string) (bool, error) {
	if encoded == "" {
		return false, nil
	}
	h, err := parseHash(encoded)
	if err != nil {
		return false, nil
	}
	// No deadline: an import answers no one, so there is no timing to equalise.
	return s.verify(ctx, h, password, time.Time{})
}

// applyImport writes one user of the file as planned, then its import record.
func (s *Store) applyImport(ctx context.Context, u *User, p *importPlan, t time.Time) error {
	rec := importRecord{PasswordHash: p.recordHash, Status: u.Status, Attributes: u.Attributes}
	if p.current == nil {
		u.Created, u.Updated = t, t
		if err := s.putUser(ctx, u, true); err != nil {
			return err
		}
	} else {
		_, err := s.update(ctx, u.Realm, u.Username, func(cur *User) error {
			if !p.keepPassword {
				cur.PasswordHash = p.newHash
			}
			switch {
			case p.last == nil && u.Status == StatusLocked:
				cur.Status = StatusLocked
			case p.last != nil && p.last.Status != u.Status:
				cur.Status = u.Status
			}
			mergeAttributes(cur, u.Attributes, p.last)
			return nil
		})
		if err != nil {
			return err
		}
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	_, err = s.st.Set(ctx, importKey(u.Realm, u.Username), b, 0)
	return err
}

// mergeAttributes applies the file's attributes to cur: values the file changed since
// the last import are set, values it dropped are removed if cur still has them as
// imported, and attributes the file never named stay.
func mergeAttributes(cur *User, file map[string]any, last *importRecord) {
	var before map[string]any
	if last != nil {
		before = last.Attributes
	}
	for k, v := range file {
		if old, ok := before[k]; ok && sameJSON(old, v) {
			continue
		}
		if cur.Attributes == nil {
			cur.Attributes = map[string]any{}
		}
		cur.Attributes[k] = v
	}
	for k, old := range before {
		if _, still := file[k]; !still && sameJSON(cur.Attributes[k], old) {
			delete(cur.Attributes, k)
		}
	}
}

// sameJSON compares two attribute values as JSON.
func sameJSON(a, b any) bool {
	x, errA := json.Marshal(a)
	y, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(x) == string(y)
}

// ImportOption changes how Import checks a users file.
type ImportOption func(*importOptions)

type importOptions struct {
	realms map[string]bool // nil: any realm
}

// Realms makes Import refuse users of realms other than "/" and those given (the
// server's configured realms, "alpha" or "/alpha").
func Realms(realms ...string) ImportOption {
	return func(o *importOptions) {
		o.realms = map[string]bool{"/": true}
		for _, r := range realms {
			if n, err := normalizeRealm(r); err == nil {
				o.realms[n] = true
			}
		}
	}
}

// parseUsersFile decodes and checks a users file. It returns the users ready to store
// (realm normalised, status set) and, at the same index, the clear-text password to
// hash for each, or "" if the entry gave a hash.
func parseUsersFile(r io.Reader, realms map[string]bool) ([]*User, []string, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var f usersFile
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("identity: import: %w", invalidf("the users file is empty"))
		}
		return nil, nil, fmt.Errorf("identity: import: %w", &invalidError{err})
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil && !emptyDocument(&extra) {
		return nil, nil, fmt.Errorf("identity: import: %w", invalidf("more than one YAML document (line %d)", extra.Line))
	} else if err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("identity: import: %w", &invalidError{err})
	}
	if f.Users == nil {
		return nil, nil, fmt.Errorf("identity: import: %w", invalidf("no \"users\" list"))
	}

	nodes := *f.Users
	users := make([]*User, len(nodes))
	passwords := make([]string, len(nodes))
	seen := map[string]int{} // realm + folded username -> index
	var problems []ImportProblem
	for i := range nodes {
		u, pw, errs := parseEntry(&nodes[i])
		for _, e := range errs {
			e.Index = i
			problems = append(problems, e)
		}
		if u == nil {
			continue
		}
		if realms != nil && !realms[u.Realm] {
			problems = append(problems, ImportProblem{Index: i, Line: nodes[i].Line,
				Message: fmt.Sprintf("realm %s is not configured on this server (%s); add it with --realms or fix the entry", u.Realm, realmList(realms))})
			continue
		}
		id := u.Realm + "\x00" + foldName(u.Username)
		if j, dup := seen[id]; dup {
			problems = append(problems, ImportProblem{Index: i, Line: nodes[i].Line,
				Message: fmt.Sprintf("username %q is already used in realm %s by users[%d]", u.Username, u.Realm, j)})
			continue
		}
		seen[id] = i
		users[i], passwords[i] = u, pw
	}
	if len(problems) > 0 {
		return nil, nil, &ImportError{Problems: problems}
	}
	return users, passwords, nil
}

// emptyDocument reports whether a decoded document holds nothing, as a trailing "---"
// gives.
func emptyDocument(n *yaml.Node) bool {
	return n.Kind == 0 || n.Kind == yaml.DocumentNode && (len(n.Content) == 0 || n.Content[0].Tag == "!!null")
}

// parseEntry checks one entry. It returns the user (nil if the entry is bad, in which
// case the problems say why, without their Index) and its clear-text password if any.
func parseEntry(n *yaml.Node) (*User, string, []ImportProblem) {
	var problems []ImportProblem
	add := func(line int, format string, args ...any) {
		problems = append(problems, ImportProblem{Line: line, Message: fmt.Sprintf(format, args...)})
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		add(n.Line, "an entry must be a mapping of username, password or password_hash, realm, attributes, status")
		return nil, "", problems
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !importFields[k.Value] {
			add(k.Line, "unknown field %q", k.Value)
		}
	}
	var e importEntry
	if err := n.Decode(&e); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			add(n.Line, "%v", err)
			return nil, "", problems
		}
		for _, msg := range te.Errors {
			line := n.Line
			if l, rest, ok := strings.Cut(msg, ": "); ok {
				if _, err := fmt.Sscanf(l, "line %d", &line); err == nil {
					msg = rest
				}
			}
			add(line, "%s", msg)
		}
	}
	if len(problems) > 0 {
		return nil, "", problems
	}

	u := &User{Username: e.Username, Status: e.Status}
	if err := validateUsername(e.Username); err != nil {
		add(n.Line, "%v", err)
	}
	realm, err := normalizeRealm(e.Realm)
	if err != nil {
		add(n.Line, "%v", err)
	}
	u.Realm = realm
	if u.Status == "" {
		u.Status = StatusActive
	}
	if !u.Status.valid() {
		add(n.Line, "status %q: want %q, %q or %q", e.Status, StatusActive, StatusLocked, StatusDisabled)
	}
	var password string
	switch {
	case e.Password != nil && e.PasswordHash != nil:
		add(n.Line, "give password or password_hash, not both")
	case e.Password == nil && e.PasswordHash == nil:
		add(n.Line, "give password or password_hash")
	case e.Password != nil:
		if *e.Password == "" {
			add(n.Line, "empty password")
		}
		password = *e.Password
	default:
		if _, err := parseHash(*e.PasswordHash); err != nil {
			add(n.Line, "password_hash: %v", err)
		}
		u.PasswordHash = *e.PasswordHash
	}
	if e.Attributes != nil {
		attrs, err := yamlToJSON(e.Attributes)
		if err != nil {
			add(n.Line, "attributes: %v", err)
		} else {
			u.Attributes = attrs.(map[string]any)
		}
	}
	if len(problems) > 0 {
		return nil, "", problems
	}
	return u, password, nil
}

// yamlToJSON turns a value decoded from YAML into its JSON form: maps with keys other
// than strings, and values JSON cannot hold (such as .inf), are errors.
func yamlToJSON(v any) (any, error) {
	conv, err := stringKeys(v, "")
	if err != nil {
		return nil, err
	}
	return jsonValue(conv)
}

// stringKeys converts the map[any]any that yaml.v3 gives for maps with non-string keys
// into map[string]any, recursively, rejecting keys that are not strings.
func stringKeys(v any, path string) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			c, err := stringKeys(x, path+"."+k)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("key %v under %q is not a string", k, "attributes"+path)
			}
			c, err := stringKeys(x, path+"."+ks)
			if err != nil {
				return nil, err
			}
			out[ks] = c
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			c, err := stringKeys(x, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	}
	return v, nil
}

// parallel runs fn for each index of todo, as many at a time as the Store has hashing
// slots (fn is expected to hash or verify, each holding a slot), and returns the first
// error, after which the rest are skipped.
func (s *Store) parallel(ctx context.Context, todo []int, fn func(ctx context.Context, i int) error) error {
	if len(todo) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan int)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range min(cap(s.sem), len(todo)) {
		wg.Go(func() {
			for i := range work {
				if err := fn(ctx, i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
				}
			}
		})
	}
	for _, i := range todo {
		select {
		case work <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(work)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

// realmList names the configured realms, sorted, for a message.
func realmList(realms map[string]bool) string {
	names := make([]string, 0, len(realms))
	for r := range realms {
		names = append(names, r)
	}
	sort.Strings(names)
	return "configured: " + strings.Join(names, ", ")
}
