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

// Version describes one saved version of a journey.
type Version struct {
	Name    string          `json:"name"`
	Version int             `json:"version"`
	Saved   time.Time       `json:"saved"`
	Source  string          `json:"source"`
	Doc     json.RawMessage `json:"doc"`
}

type head struct {
	Version int `json:"version"`
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
	version int
	until   time.Time // trusted until then
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

// knownHead returns the current version of name if it was read or saved less than the
// TTL ago.
func (r *Repo) knownHead(name string) (int, bool) {
	r.mu.RLock()
	h, ok := r.heads[name]
	r.mu.RUnlock()
	if !ok || !r.now().Before(h.until) {
		return 0, false
	}
	return h.version, true
}

// learnHead records that version is name's current version as of now. Versions only go
// up, so an older one (read by a Head that raced with a Save here) does not replace a
// newer one while that is fresh.
func (r *Repo) learnHead(name string, version int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.headTTL <= 0 {
		return
	}
	now := r.now()
	if h, ok := r.heads[name]; ok && h.version > version && now.Before(h.until) {
		return
	}
	r.heads[name] = knownHead{version: version, until: now.Add(r.headTTL)}
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
	c, err := r.Validate(ctx, data, extra...)
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
		saved int
		doc   json.RawMessage // set when this call wrote a new version
	)
	err = store.Retry(ctx, func() error {
		doc = nil
		hit, err := r.st.Get(ctx, headKey(name))
		var h head
		var rev uint64
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		default:
			if err := json.Unmarshal(hit.Value, &h); err != nil {
				return fmt.Errorf("corrupt head: %w", err)
			}
			rev = hit.Rev
		}
		if h.Version > 0 {
			cur, err := r.version(ctx, name, h.Version)
			if err != nil {
				return err
			}
			if canonicalEqual(cur.Doc, data) {
				saved = h.Version
				return nil
			}
		}
		next := h.Version + 1
		v := Version{Name: name, Version: next, Saved: time.Now().UTC(), Source: source, Doc: compact(data)}
		vb, _ := json.Marshal(v)
		if _, err := r.st.CAS(ctx, versionKey(name, next), vb, 0, 0); err != nil {
			return err
		}
		hb, _ := json.Marshal(head{Version: next})
		if _, err := r.st.CAS(ctx, headKey(name), hb, rev, 0); err != nil {
			return err
		}
		saved, doc = next, v.Doc
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("save journey %q: %w", name, err)
	}
	if doc == nil {
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
	r.learnHead(name, saved)
	return saved, nil
}

// addToIndex adds name to the sorted index of journey names, if it is not there yet.
func (r *Repo) addToIndex(ctx context.Context, name string) error {
	_, err := store.Update(ctx, r.st, indexKey, func(cur []byte, exists bool) ([]byte, time.Duration, error) {
		var names []string
		if exists {
			if err := json.Unmarshal(cur, &names); err != nil {
				return nil, 0, fmt.Errorf("corrupt index: %w", err)
			}
		}
		i, found := slices.BinarySearch(names, name)
		if found {
			return nil, 0, store.ErrNoChange
		}
		b, err := json.Marshal(slices.Insert(names, i, name))
		return b, 0, err
	})
	if err != nil {
		return fmt.Errorf("index journey %q: %w", name, err)
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
	it, err := r.st.Get(ctx, headKey(name))
	if errors.Is(err, store.ErrNotFound) {
		return 0, fmt.Errorf("journey %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("load journey %q: %w", name, err)
	}
	var h head
	if err := json.Unmarshal(it.Value, &h); err != nil {
		return 0, fmt.Errorf("load journey %q: corrupt head: %w", name, err)
	}
	return h.Version, nil
}

// Head returns the current version of name, compiled. It reads the version number from
// the store (one read) unless it did so less than the head TTL ago (see SetHeadTTL).
func (r *Repo) Head(ctx context.Context, name string) (*Compiled, error) {
	return r.head(ctx, name, false)
}

// head is Head; fresh skips the remembered version numbers.
func (r *Repo) head(ctx context.Context, name string, fresh bool) (*Compiled, error) {
	v, ok := 0, false
	if !fresh {
		v, ok = r.knownHead(name)
	}
	if !ok {
		var err error
		if v, err = r.HeadVersion(ctx, name); err != nil {
			return nil, err
		}
		r.learnHead(name, v)
	}
	return r.Get(ctx, name, v)
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
