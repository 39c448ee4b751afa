package journeys

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/store"
)

//go:embed builtin/*.json
var builtinFS embed.FS

// Builtin returns the journeys shipped with Arbor, by name.
func Builtin() (map[string][]byte, error) {
	out := map[string][]byte{}
	err := fs.WalkDir(builtinFS, "builtin", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		b, err := builtinFS.ReadFile(p)
		if err != nil {
			return err
		}
		out[strings.TrimSuffix(filepath.Base(p), ".json")] = b
		return nil
	})
	return out, err
}

// ErrNotFound reports an unknown journey or version.
var ErrNotFound = errors.New("journey not found")

// InvalidError is returned when a journey fails validation; it carries every problem.
type InvalidError struct {
	Name     string
	Problems nodes.Problems
}

// Error lists the journey's problems, one per line, as `arbor serve` prints them when
// a journey of --journeys is refused.
func (e *InvalidError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "journey %q is invalid (%d problem(s)):", e.Name, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// ErrDisabled reports a start of a journey that was disabled (SetEnabled).
var ErrDisabled = errors.New("journey is disabled")

// ErrExists reports a create of a journey that already exists (SaveOptions.Create).
var ErrExists = errors.New("journey already exists")

// StaleError reports a save conditional on a version (SaveOptions.IfVersion) that is no
// longer the current one; nothing was saved.
type StaleError struct {
	Name string
	// Current is the journey's current version (0 if it does not exist).
	Current int
}

// Error says which version is current.
func (e *StaleError) Error() string {
	return fmt.Sprintf("journey %q: the current version is %d", e.Name, e.Current)
}

// InUseError reports a delete of a journey other journeys run as an inner journey;
// nothing was deleted.
type InUseError struct {
	Name string
	// By lists the journeys whose inner_journey nodes name it, sorted.
	By []string
}

// Error names the journeys that use it.
func (e *InUseError) Error() string {
	return fmt.Sprintf("journey %q is used as an inner journey by %s", e.Name, strings.Join(e.By, ", "))
}

// Version describes one saved version of a journey.
type Version struct {
	Name    string    `json:"name"`
	Version int       `json:"version"`
	Saved   time.Time `json:"saved"`
	Source  string    `json:"source"`
	// Actor is who saved it through the admin API ("user:/realm/name", "token:<id>"),
	// empty for a load at start.
	Actor string          `json:"actor,omitempty"`
	Doc   json.RawMessage `json:"doc"`
}

// head is the record at journey:<name>:head: the current version and whether new flows
// may start on it. Keeping the enabled flag here lets one read (cached for the head TTL)
// answer both "which version" and "may it start".
type head struct {
	Version  int  `json:"version"`
	Disabled bool `json:"disabled,omitempty"`
	// Deleted marks a deleted journey. The record stays so that a journey created again
	// under the name continues the version numbers: versions are never reused, so a flow
	// pinned to an old version never runs a different document.
	Deleted bool `json:"deleted,omitempty"`
}

// Repo stores journeys in versions. Saving a journey validates it first and refuses it
// with every problem if it is invalid, so nothing invalid is ever stored. A saved version
// is immutable; a flow is pinned to the version it started on and keeps running it after
// a newer one is saved.
//
// Keys: "journeys:index" (the names), "journey:<name>:head" (current version) and
// "journey:<name>:v<N>" (each version's document).
//
// Head, which starts every flow, remembers a journey's current version number for a
// short while (DefaultHeadTTL, see SetHeadTTL) instead of reading it from the store each
// time; compiled versions are cached for good, since they never change. A Save through
// this Repo takes effect here at once. A version saved by another instance sharing the
// store takes effect here within the TTL: until then new flows may still start on the
// version before it (flows already running stay on theirs in any case).
type Repo struct {
	st   store.Store
	opts CompileOptions

	mu       sync.RWMutex
	compiled map[versionID]*Compiled
	heads    map[string]knownHead // by journey name
	headTTL  time.Duration
	now      func() time.Time
}

// versionID names one version of a journey.
type versionID struct {
	name    string
	version int
}

// knownHead is a journey's current version as last read or saved here.
type knownHead struct {
	version  int
	disabled bool
	until    time.Time // trusted until then
}

// DefaultHeadTTL is how long Head trusts the current version number of a journey it read,
// unless SetHeadTTL says otherwise.
const DefaultHeadTTL = time.Second

// NewRepo returns a repository over st that compiles with opts. Its Lookup, if nil, is
// set to the repository's own knowledge of journey names.
func NewRepo(st store.Store, opts CompileOptions) *Repo {
	r := &Repo{st: st, opts: opts, compiled: map[versionID]*Compiled{}, heads: map[string]knownHead{},
		headTTL: DefaultHeadTTL, now: time.Now}
	return r
}

// SetHeadTTL sets how long Head may start flows on the current version of a journey it
// read from the store before reading it again, that is, how long a version saved by
// another instance may take to be used here. Zero makes every Head read the store.
// Call it before the Repo is in use.
func (r *Repo) SetHeadTTL(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d < 0 {
		d = 0
	}
	r.headTTL = d
	clear(r.heads)
}

// knownHead returns the current head of name if it was read or saved less than the TTL
// ago.
func (r *Repo) knownHead(name string) (knownHead, bool) {
	r.mu.RLock()
	h, ok := r.heads[name]
	r.mu.RUnlock()
	if !ok || !r.now().Before(h.until) {
		return knownHead{}, false
	}
	return h, true
}

// learnHead records that version is name's current version as of now, with its enabled
// flag. Versions only go up, so an older one (read by a Head that raced with a Save
// here) does not replace a newer one while that is fresh.
func (r *Repo) learnHead(name string, version int, disabled bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.headTTL <= 0 {
		return
	}
	now := r.now()
	if h, ok := r.heads[name]; ok && h.version > version && now.Before(h.until) {
		return
	}
	r.heads[name] = knownHead{version: version, disabled: disabled, until: now.Add(r.headTTL)}
}

// forgetHead drops what this Repo remembers of name's head.
func (r *Repo) forgetHead(name string) {
	r.mu.Lock()
	delete(r.heads, name)
	r.mu.Unlock()
}

func headKey(name string) string           { return "journey:" + name + ":head" }
func versionKey(name string, v int) string { return "journey:" + name + ":v" + strconv.Itoa(v) }

const indexKey = "journeys:index"

// Names lists the stored journeys, sorted.
func (r *Repo) Names(ctx context.Context) ([]string, error) {
	it, err := r.st.Get(ctx, indexKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list journeys: %w", err)
	}
	var names []string
	if err := json.Unmarshal(it.Value, &names); err != nil {
		return nil, fmt.Errorf("list journeys: corrupt index: %w", err)
	}
	return names, nil
}

// Validate parses and compiles data without saving it, with extra names counted as
// existing journeys (for a set being loaded together).
func (r *Repo) Validate(ctx context.Context, data []byte, extra ...string) (*Compiled, error) {
	opts, err := r.compileOpts(ctx, extra)
	if err != nil {
		return nil, err
	}
	c, ps := Load(data, opts)
	if ps != nil {
		name := ""
		var probe struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(data, &probe)
		name = probe.Name
		return nil, &InvalidError{Name: name, Problems: ps}
	}
	return c, nil
}

func (r *Repo) compileOpts(ctx context.Context, extra []string) (CompileOptions, error) {
	opts := r.opts
	if opts.Lookup == nil {
		names, err := r.Names(ctx)
		if err != nil {
			return opts, err
		}
		known := map[string]bool{}
		for _, n := range append(names, extra...) {
			known[n] = true
		}
		opts.Lookup = func(n string) bool { return known[n] }
	}
	return opts, nil
}

// Save validates data and stores it as a new version, returning the version number. An
// unchanged document returns the current version without writing. source says where it
// came from ("builtin", "file:<path>", "api").
func (r *Repo) Save(ctx context.Context, data []byte, source string, extra ...string) (int, error) {
	return r.SaveWith(ctx, data, SaveOptions{Source: source, Extra: extra})
}

// SaveOptions qualify a save (SaveWith).
type SaveOptions struct {
	// Source says where the document came from ("builtin", "file:<path>", "api").
	Source string
	// Actor is who saves it (recorded in the version), empty for a load at start.
	Actor string
	// IfVersion, when not zero, saves only if it is the journey's current version, and
	// otherwise fails with a *StaleError (optimistic concurrency, the admin API's If-Match).
	IfVersion int
	// Create saves only if no journey of that name exists, and otherwise fails with
	// ErrExists.
	Create bool
	// Extra names journeys counted as existing (a set being loaded together).
	Extra []string
	// Same, when not nil, reports whether a document describes the current version's
	// journey however differently it is written (forgerock.SameJourney: an AM export
	// renames node ids and spells out defaults); such a document saves no new version
	// and leaves the stored text as it is. Nil: only an equal document is the same.
	Same func(cur, doc []byte) bool
	// Enable, when not nil, enables or disables the journey in the same write of its
	// head as the save (an unchanged document writes the head alone), so a journey
	// saved disabled is never startable, not even for a moment. Nil keeps the state a
	// journey has; a new one starts enabled.
	Enable *bool
}

// SaveWith is Save with conditions. It validates data and stores it as a new version,
// returning the version number; an unchanged document returns the current version
// without writing it again. Unless o.Enable says otherwise, a journey that was disabled
// stays disabled, and one that was deleted is created again, enabled, with the next
// version number.
func (r *Repo) SaveWith(ctx context.Context, data []byte, o SaveOptions) (int, error) {
	c, err := r.Validate(ctx, data, o.Extra...)
	if err != nil {
		return 0, err
	}
	name := c.Journey.Name
	if err := r.checkCycles(ctx, c.Journey); err != nil {
		return 0, err
	}
	// The version slot is claimed create-only before the head moves, so a head never
	// points at a missing version and two writers never share a slot: the loser sees a
	// conflict, and store.Retry starts it over after the winner moved the head.
	var (
		saved       int
		disabled    bool
		doc         json.RawMessage // set when this call wrote a new version
		headChanged bool            // the head was written (a new version, or o.Enable)
	)
	err = store.Retry(ctx, func() error {
		doc, headChanged = nil, false
		h, rev, err := r.readHead(ctx, name)
		if err != nil {
			return err
		}
		exists := h.Version > 0 && !h.Deleted
		switch {
		case o.Create && exists:
			return fmt.Errorf("journey %q: %w", name, ErrExists)
		case o.IfVersion != 0 && (!exists || h.Version != o.IfVersion):
			cur := h.Version
			if !exists {
				cur = 0
			}
			return &StaleError{Name: name, Current: cur}
		}
		if exists {
			cur, err := r.version(ctx, name, h.Version)
			if err != nil {
				return err
			}
			if canonicalEqual(cur.Doc, data) || o.Same != nil && o.Same(cur.Doc, data) {
				saved, disabled = h.Version, h.Disabled
				if o.Enable == nil || *o.Enable != h.Disabled {
					return nil
				}
				nh := h // the same version, another state
				nh.Disabled = !*o.Enable
				hb, _ := json.Marshal(nh)
				if _, err := r.st.CAS(ctx, headKey(name), hb, rev, 0); err != nil {
					return err
				}
				disabled, headChanged = nh.Disabled, true
				return nil
			}
		}
		next := h.Version + 1
		v := Version{Name: name, Version: next, Saved: time.Now().UTC(), Source: o.Source, Actor: o.Actor, Doc: compact(data)}
		vb, _ := json.Marshal(v)
		if _, err := r.st.CAS(ctx, versionKey(name, next), vb, 0, 0); err != nil {
			return err
		}
		nh := head{Version: next, Disabled: exists && h.Disabled}
		if o.Enable != nil {
			nh.Disabled = !*o.Enable
		}
		hb, _ := json.Marshal(nh)
		if _, err := r.st.CAS(ctx, headKey(name), hb, rev, 0); err != nil {
			return err
		}
		saved, disabled, doc, headChanged = next, nh.Disabled, v.Doc, true
		return nil
	})
	if err != nil {
		var stale *StaleError
		if errors.As(err, &stale) || errors.Is(err, ErrExists) {
			return 0, err
		}
		return 0, fmt.Errorf("save journey %q: %w", name, err)
	}
	if doc == nil {
		if headChanged {
			r.forgetHead(name)
			r.learnHead(name, saved, disabled)
		}
		return saved, nil
	}
	if err := r.addToIndex(ctx, name); err != nil {
		return 0, err
	}
	c.Version = saved
	c.Raw = doc
	r.mu.Lock()
	r.compiled[versionID{name, saved}] = c
	r.mu.Unlock()
	r.learnHead(name, saved, disabled)
	return saved, nil
}

// readHead reads name's head record and its revision; a missing one is the zero head
// at revision 0.
func (r *Repo) readHead(ctx context.Context, name string) (head, uint64, error) {
	it, err := r.st.Get(ctx, headKey(name))
	if errors.Is(err, store.ErrNotFound) {
		return head{}, 0, nil
	}
	if err != nil {
		return head{}, 0, fmt.Errorf("load journey %q: %w", name, err)
	}
	var h head
	if err := json.Unmarshal(it.Value, &h); err != nil {
		return head{}, 0, fmt.Errorf("load journey %q: corrupt head: %w", name, err)
	}
	return h, it.Rev, nil
}

// updateHead changes name's existing head with f, which returns store.ErrNoChange to
// write nothing. A missing or deleted journey gives ErrNotFound.
func (r *Repo) updateHead(ctx context.Context, name string, f func(h *head) error) (head, error) {
	var out head
	_, err := store.Update(ctx, r.st, headKey(name), func(cur []byte, exists bool) ([]byte, time.Duration, error) {
		var h head
		if exists {
			if err := json.Unmarshal(cur, &h); err != nil {
				return nil, 0, fmt.Errorf("corrupt head: %w", err)
			}
		}
		if !exists || h.Deleted || h.Version == 0 {
			return nil, 0, ErrNotFound
		}
		if err := f(&h); err != nil {
			out = h
			return nil, 0, err
		}
		out = h
		b, err := json.Marshal(h)
		return b, 0, err
	})
	if err != nil && !errors.Is(err, store.ErrNoChange) {
		return head{}, fmt.Errorf("journey %q: %w", name, err)
	}
	return out, nil
}

// SetEnabled enables or disables name for new flows, on every instance sharing the store
// within the head TTL (see SetHeadTTL); flows already running finish either way. This
// is on top of the configuration's disabled_journeys. An unknown journey gives
// ErrNotFound.
func (r *Repo) SetEnabled(ctx context.Context, name string, enabled bool) error {
	h, err := r.updateHead(ctx, name, func(h *head) error {
		if h.Disabled == !enabled {
			return store.ErrNoChange
		}
		h.Disabled = !enabled
		return nil
	})
	if err != nil {
		return err
	}
	r.forgetHead(name)
	r.learnHead(name, h.Version, h.Disabled)
	return nil
}

// Enabled reports whether new flows may start on name. Like Head, it reads the store
// at most once per head TTL. An unknown journey gives ErrNotFound.
func (r *Repo) Enabled(ctx context.Context, name string) (bool, error) {
	h, err := r.currentHead(ctx, name, false)
	if err != nil {
		return false, err
	}
	return !h.disabled, nil
}

// Delete removes name: it no longer lists, starts or runs as an inner journey of a new
// flow. Its saved versions stay, so flows running on them finish and a journey saved
// again under the name continues the version numbers. A journey another one uses as an
// inner journey is refused with an *InUseError; an unknown one gives ErrNotFound.
// Other instances stop starting it within the head TTL. A journey loaded from a file
// (or built in) stays deleted across restarts until its file changes (see LoadSet).
func (r *Repo) Delete(ctx context.Context, name string) error {
	names, err := r.Names(ctx)
	if err != nil {
		return err
	}
	var by []string
	for _, n := range names {
		if n == name {
			continue
		}
		c, err := r.head(ctx, n, true)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("delete journey %q: %w", name, err)
		}
		if slices.Contains(c.Journey.InnerJourneys(), name) {
			by = append(by, n)
		}
	}
	if len(by) > 0 {
		return &InUseError{Name: name, By: by}
	}
	if _, err := r.updateHead(ctx, name, func(h *head) error {
		h.Deleted, h.Disabled = true, false
		return nil
	}); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	r.forgetHead(name)
	return r.removeFromIndex(ctx, name)
}

// addToIndex adds name to the sorted index of journey names, if it is not there yet.
func (r *Repo) addToIndex(ctx context.Context, name string) error {
	return r.editIndex(ctx, name, true)
}

// removeFromIndex removes name from the index of journey names, if it is there.
func (r *Repo) removeFromIndex(ctx context.Context, name string) error {
	return r.editIndex(ctx, name, false)
}

// editIndex puts name in (add) or takes it out of the sorted index of journey names,
// writing nothing when the index already says so.
func (r *Repo) editIndex(ctx context.Context, name string, add bool) error {
	_, err := store.Update(ctx, r.st, indexKey, func(cur []byte, exists bool) ([]byte, time.Duration, error) {
		var names []string
		if exists {
			if err := json.Unmarshal(cur, &names); err != nil {
				return nil, 0, fmt.Errorf("corrupt index: %w", err)
			}
		}
		i, found := slices.BinarySearch(names, name)
		switch {
		case found == add:
			return nil, 0, store.ErrNoChange
		case add:
			names = slices.Insert(names, i, name)
		default:
			names = slices.Delete(names, i, i+1)
		}
		b, err := json.Marshal(names)
		return b, 0, err
	})
	if err != nil && !errors.Is(err, store.ErrNoChange) {
		verb := "index"
		if !add {
			verb = "unindex"
		}
		return fmt.Errorf("%s journey %q: %w", verb, name, err)
	}
	return nil
}

// checkCycles refuses a journey whose inner journeys lead back to it.
func (r *Repo) checkCycles(ctx context.Context, j *Journey) error {
	seen := map[string]bool{}
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		if name == j.Name && len(path) > 0 {
			return &InvalidError{Name: j.Name, Problems: nodes.Problems{{Pointer: "/nodes", Code: nodes.CodeRecursiveJourney,
				Message: fmt.Sprintf("inner journeys form a loop: %s", strings.Join(append(path, name), " -> "))}}}
		}
		if seen[name] {
			return nil
		}
		seen[name] = true
		var inner []string
		if name == j.Name {
			inner = j.InnerJourneys()
		} else {
			c, err := r.head(ctx, name, true)
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			inner = c.Journey.InnerJourneys()
		}
		for _, n := range inner {
			if err := visit(n, append(path, name)); err != nil {
				return err
			}
		}
		return nil
	}
	return visit(j.Name, nil)
}

// Version returns version v of name as saved (document, source, actor, time); a
// deleted journey's versions stay readable.
func (r *Repo) Version(ctx context.Context, name string, v int) (*Version, error) {
	return r.version(ctx, name, v)
}

// Latest returns the current version of name as saved, read from the store (not the
// head cache), and whether it is enabled.
func (r *Repo) Latest(ctx context.Context, name string) (*Version, bool, error) {
	h, err := r.currentHead(ctx, name, true)
	if err != nil {
		return nil, false, err
	}
	v, err := r.version(ctx, name, h.version)
	if err != nil {
		return nil, false, err
	}
	return v, !h.disabled, nil
}

func (r *Repo) version(ctx context.Context, name string, v int) (*Version, error) {
	it, err := r.st.Get(ctx, versionKey(name, v))
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("journey %q version %d: %w", name, v, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load journey %q version %d: %w", name, v, err)
	}
	var ver Version
	if err := json.Unmarshal(it.Value, &ver); err != nil {
		return nil, fmt.Errorf("load journey %q version %d: %w", name, v, err)
	}
	return &ver, nil
}

// HeadVersion returns the current version number of name (one store read).
func (r *Repo) HeadVersion(ctx context.Context, name string) (int, error) {
	h, _, err := r.readHead(ctx, name)
	if err != nil {
		return 0, err
	}
	if h.Version == 0 || h.Deleted {
		return 0, fmt.Errorf("journey %q: %w", name, ErrNotFound)
	}
	return h.Version, nil
}

// Head returns the current version of name, compiled, enabled or not. It reads the
// version number from the store (one read) unless it did so less than the head TTL ago
// (see SetHeadTTL).
func (r *Repo) Head(ctx context.Context, name string) (*Compiled, error) {
	return r.head(ctx, name, false)
}

// StartHead is Head for a new flow: a disabled journey gives ErrDisabled. It costs no
// more store reads than Head, since the flag is part of the head record.
func (r *Repo) StartHead(ctx context.Context, name string) (*Compiled, error) {
	h, err := r.currentHead(ctx, name, false)
	if err != nil {
		return nil, err
	}
	if h.disabled {
		return nil, fmt.Errorf("journey %q: %w", name, ErrDisabled)
	}
	return r.Get(ctx, name, h.version)
}

// head is Head; fresh skips the remembered version numbers.
func (r *Repo) head(ctx context.Context, name string, fresh bool) (*Compiled, error) {
	h, err := r.currentHead(ctx, name, fresh)
	if err != nil {
		return nil, err
	}
	return r.Get(ctx, name, h.version)
}

// currentHead returns name's head as remembered, or read from the store if it is not
// remembered, is older than the TTL, or fresh is set.
func (r *Repo) currentHead(ctx context.Context, name string, fresh bool) (knownHead, error) {
	if !fresh {
		if h, ok := r.knownHead(name); ok {
			return h, nil
		}
	}
	h, _, err := r.readHead(ctx, name)
	if err != nil {
		return knownHead{}, err
	}
	if h.Version == 0 || h.Deleted {
		return knownHead{}, fmt.Errorf("journey %q: %w", name, ErrNotFound)
	}
	r.learnHead(name, h.Version, h.Disabled)
	return knownHead{version: h.Version, disabled: h.Disabled}, nil
}

// Get returns version v of name, compiled. Compiled versions are cached: versions are
// immutable, so a cached one is never stale.
func (r *Repo) Get(ctx context.Context, name string, v int) (*Compiled, error) {
	key := versionID{name, v}
	r.mu.RLock()
	c := r.compiled[key]
	r.mu.RUnlock()
	if c != nil {
		return c, nil
	}
	ver, err := r.version(ctx, name, v)
	if err != nil {
		return nil, err
	}
	opts := r.opts
	if opts.Lookup == nil {
		opts.Lookup = func(string) bool { return true } // checked when it was saved
	}
	c, ps := Load(ver.Doc, opts)
	if ps != nil {
		// A stored version was valid when saved; it fails now only if a node type
		// changed under it. Refuse to run it rather than run something half-built.
		return nil, &InvalidError{Name: name, Problems: ps}
	}
	c.Version = v
	r.mu.Lock()
	r.compiled[key] = c
	r.mu.Unlock()
	return c, nil
}

// Versions lists every version of name, oldest first.
func (r *Repo) Versions(ctx context.Context, name string) ([]Version, error) {
	hv, err := r.HeadVersion(ctx, name)
	if err != nil {
		return nil, err
	}
	out := make([]Version, 0, hv)
	for v := 1; v <= hv; v++ {
		ver, err := r.version(ctx, name, v)
		if err != nil {
			return nil, err
		}
		out = append(out, *ver)
	}
	return out, nil
}

// LoadSet validates and saves a set of documents together (the built-ins, or a
// directory), so journeys in the set may refer to each other. Every invalid document is
// reported and none of the set is saved if any is invalid.
//
// A set never undoes a change made at runtime: the repository remembers, per journey,
// the document a set last brought (journey:<name>:imported, a SHA-256 of its canonical
// JSON), and a document unchanged since then is not saved again, even if a newer
// version was saved since (by the admin API, say). A document that changed, or that no
// set brought before, is saved as a new version when it differs from the current one.
func (r *Repo) LoadSet(ctx context.Context, docs map[string][]byte, source func(key string) string) ([]string, error) {
	names := map[string]string{}
	var keys []string
	for k := range docs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var extra []string
	for _, k := range keys {
		var probe struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(docs[k], &probe)
		if probe.Name != "" {
			if other, dup := names[probe.Name]; dup {
				return nil, fmt.Errorf("journey %q is defined twice: %s and %s", probe.Name, other, k)
			}
			names[probe.Name] = k
			extra = append(extra, probe.Name)
		}
	}
	var errs []error
	for _, k := range keys {
		if _, err := r.Validate(ctx, docs[k], extra...); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", k, err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var saved []string
	for _, k := range keys {
		var probe struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(docs[k], &probe)
		sum := fingerprint(docs[k])
		last, err := r.st.Get(ctx, importedKey(probe.Name))
		switch {
		case err == nil && string(last.Value) == sum:
			saved = append(saved, probe.Name)
			continue // unchanged since the last load: whatever is current stays
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return saved, fmt.Errorf("%s: %w", k, err)
		}
		if _, err := r.Save(ctx, docs[k], source(k), extra...); err != nil {
			return saved, fmt.Errorf("%s: %w", k, err)
		}
		if _, err := r.st.Set(ctx, importedKey(probe.Name), []byte(sum), 0); err != nil {
			return saved, fmt.Errorf("%s: %w", k, err)
		}
		saved = append(saved, probe.Name)
	}
	return saved, nil
}

func importedKey(name string) string { return "journey:" + name + ":imported" }

// fingerprint is the SHA-256 of a document's canonical JSON (keys sorted, no spaces),
// so reformatting a file is not a change.
func fingerprint(data []byte) string {
	var v any
	if json.Unmarshal(data, &v) == nil {
		if b, err := json.Marshal(v); err == nil {
			data = b
		}
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// ReadDir reads every *.json file of dir.
func ReadDir(dir string) (map[string][]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read journeys from %s: %w", dir, err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read journey %s: %w", p, err)
		}
		out[p] = b
	}
	return out, nil
}

func compact(data []byte) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, data); err != nil {
		return append(json.RawMessage(nil), data...)
	}
	return b.Bytes()
}

func canonicalEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}
