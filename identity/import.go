package identity

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
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

// Import reads a YAML users file and stores every user in it, replacing users that
// already exist, so importing a file twice leaves the same users. It returns how many
// users it stored. The file looks like this:
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
// Clear-text passwords are hashed with the Store's costs, in parallel up to
// Options.MaxConcurrent. Unknown fields are errors, at the top level and in entries
// (so are YAML merge keys, "<<", in an entry).
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
	if err := s.hashAll(ctx, users, passwords); err != nil {
		return 0, fmt.Errorf("identity: import: %w", err)
	}

	byRealm := map[string][]string{}
	var realms []string
	for _, u := range users {
		if _, ok := byRealm[u.Realm]; !ok {
			realms = append(realms, u.Realm)
		}
		byRealm[u.Realm] = append(byRealm[u.Realm], u.Username)
	}
	// One index write per realm before the users and one after, as Put does per user.
	for _, realm := range realms {
		if err := s.indexAdd(ctx, realm, byRealm[realm], false); err != nil {
			return 0, fmt.Errorf("identity: import: realm %s: %w", realm, err)
		}
	}
	t := s.now()
	for i, u := range users {
		u.Created, u.Updated = t, t
		if err := s.putUser(ctx, u, true); err != nil {
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
		add(n.Line, "status %q: want %q or %q", e.Status, StatusActive, StatusLocked)
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

// hashAll hashes the clear-text passwords of an import into the users' PasswordHash, as
// many at a time as the Store's hashing slots allow.
func (s *Store) hashAll(ctx context.Context, users []*User, passwords []string) error {
	var todo []int
	for i, pw := range passwords {
		if pw != "" {
			todo = append(todo, i)
		}
	}
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
				h, err := s.hash(ctx, passwords[i])
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("hash password of user %q in realm %s: %w", users[i].Username, users[i].Realm, err)
					}
					mu.Unlock()
					cancel()
					continue
				}
				users[i].PasswordHash = h
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
