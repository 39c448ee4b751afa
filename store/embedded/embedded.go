// Package embedded is Arbor's default store for a single instance: an in-memory map
// persisted to a data directory, with no server to run.
//
// # Storage
//
// Every key lives in memory. With a data directory, every write is also appended to
// the file arbor.db in it as a checksummed record carrying the key's whole new state,
// and Open replays that file. When the file grows beyond twice the size of the live
// data and beyond 64 MiB, and at Close, it is compacted: the live keys are written to
// a temporary file which is flushed and atomically renamed over arbor.db. Keys that
// have expired are dropped at load and at compaction, and a background sweeper
// removes them from memory. Compaction holds the store's lock while it writes, so writes pause for the
// time it takes to write the live data once.
//
// # Durability
//
// Every write has reached the operating system (a write(2) to arbor.db) before the
// call returns, so it survives the Arbor process crashing or being killed, with one
// exception: unless Options.Sync is SyncAll, a batch that writes only the sign-in
// throttle's counters (LazyPrefixes) is applied in memory and its record goes to the
// file with the next write that is not lazy, or after LazyFlushDelay when none comes.
// A login's attempt count and its commit thus share one write(2) instead of two, and
// a crash can forget the attempts of the last few milliseconds (a guesser would have
// to crash the server for each handful of extra guesses). Whether a write also
// survives the machine crashing or losing power depends on Options.Sync:
//
//   - SyncAccounts (the default) fsyncs every write before it returns, except the
//     writes of flows, sessions and sign-in throttling (EphemeralPrefixes, which are
//     most of the writes). Users, devices, recovery codes (their use included),
//     journeys and counters survive a power loss once acknowledged; a flow or session
//     written in the seconds before one may be lost, and its user logs in again, and
//     a logout in those seconds may be undone until the session's idle timeout.
//   - SyncAll fsyncs every write.
//   - SyncNone fsyncs nothing: the kernel writes data back within about 30 seconds
//     on Linux, and a power loss can lose what was acknowledged in that time.
//
// Fsyncs are group commits: a writer that must wait syncs everything appended so far,
// and the writers that arrive meanwhile share the next fsync, so their cost is paid
// once per batch rather than once per write.
// Close flushes everything. If the last record was cut short by a crash, Open detects
// it by its length prefix and CRC-32C checksum and truncates it: the write it belonged
// to is lost, which is correct since its call never returned. Damage in the middle of
// the file makes Open fail rather than silently lose later data.
//
// If the file can no longer be written (disk full, I/O error), the failing call
// returns an error wrapping store.ErrUnavailable and the store's memory is left
// unchanged; if the file cannot be repaired or a sync fails, the store refuses all
// further calls with store.ErrUnavailable, since what is on disk is then unknown.
//
// # Concurrency
//
// A data directory belongs to one process: Open takes an exclusive flock on
// arbor.lock in it and fails with ErrLocked while another process (or another Store
// in the same process) holds it. Several Arbor instances that must share state need
// the Redis backend instead. All methods of Store are safe for concurrent use.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/arbor-auth/arbor/store"
)

// File names inside Options.Dir.
const (
	// DataFile is the name of the data file in the data directory.
	DataFile = "arbor.db"
	// LockFile is the name of the file locked by the process that has the directory open.
	LockFile = "arbor.lock"
)

// ErrLocked reports that another process, or another Store in this process, has the
// data directory open.
var ErrLocked = errors.New("embedded: data directory is in use by another process")

// Tunables, variables so that tests can shrink them.
var (
	// sweepInterval is how often expired keys are removed from memory.
	sweepInterval = 30 * time.Second
	// minCompactBytes is the data file size below which it is never compacted before
	// Close, however much of it is garbage. Compaction rewrites and fsyncs the live
	// data, so with a small store and a 1 MiB threshold it ran every few hundred
	// logins (3 % of a login's CPU in a profile); 64 MiB of garbage costs little disk
	// and well under a second of replay at Open.
	minCompactBytes int64 = 64 << 20
)

// maxRecBuf is the largest record buffer kept for reuse; larger records get their own.
const maxRecBuf = 64 << 10

// SyncMode chooses which writes wait for the data file to be fsynced before they
// return (see the package documentation, Durability).
type SyncMode int

const (
	// SyncAccounts fsyncs every write except those of flows and sessions
	// (EphemeralPrefixes). It is the zero value, the default.
	SyncAccounts SyncMode = iota
	// SyncAll fsyncs every write.
	SyncAll
	// SyncNone fsyncs no write; the kernel writes them back within about 30 seconds.
	SyncNone
)

// EphemeralPrefixes are the key prefixes of flows and sessions, whose writes
// SyncAccounts does not fsync: they are the bulk of the writes (every step, every
// login), and losing one at a power loss makes a user log in again, or, for a logout,
// leaves the session valid until its idle timeout.
//
// "usersessions:" is the per-user session index, written with each session, and
// "throttle:" the guessing defence's counters, written on every sign-in attempt:
// losing their last seconds at a power loss only forgets a few attempts.
var EphemeralPrefixes = []string{"flow:", "session:", "usersessions:", "throttle:"}

// LazyPrefixes are the key prefixes whose writes reach the data file lazily (see the
// package documentation, Durability): the guessing defence's counters, written by
// the check before every password and code. Losing the last milliseconds of them to a
// crash only forgets a few attempts, and writing them with the login's commit saves
// a write(2) per login, about 3 % of its CPU (README, "Fifth round").
var LazyPrefixes = []string{"throttle:"}

// LazyFlushDelay bounds how long a lazy record waits in memory for a write to carry it
// to the data file.
const LazyFlushDelay = 10 * time.Millisecond

var syncModeNames = []string{SyncAccounts: "accounts", SyncAll: "all", SyncNone: "none"}

// String returns the mode's name as ParseSyncMode reads it.
func (m SyncMode) String() string {
	if m >= 0 && int(m) < len(syncModeNames) {
		return syncModeNames[m]
	}
	return fmt.Sprintf("SyncMode(%d)", int(m))
}

// ParseSyncMode reads a mode name: accounts, all or none.
func ParseSyncMode(name string) (SyncMode, error) {
	for m, n := range syncModeNames {
		if n == name {
			return SyncMode(m), nil
		}
	}
	return 0, fmt.Errorf("embedded: unknown sync mode %q, want accounts, all or none", name)
}

// Options configures Open.
type Options struct {
	// Dir is the data directory, created if missing. Empty means memory only: nothing
	// is persisted, which suits tests.
	Dir string
	// Sync chooses which writes are fsynced before they return; the default,
	// SyncAccounts, fsyncs all but the writes of flows and sessions.
	Sync SyncMode
	// Now is the clock used for expiry; nil means time.Now. It must be safe for
	// concurrent use. Expiry times are stored as absolute wall-clock instants.
	Now func() time.Time
}

// Store is the embedded store.Store. Create it with Open.
type Store struct {
	now      func() time.Time
	sync     SyncMode
	dir      string
	dataPath string

	// syncMu serializes fsyncs and file replacement; it is taken before mu.
	syncMu    sync.Mutex
	syncedSeq uint64 // writes up to this sequence number are on stable storage

	mu       sync.RWMutex
	closed   bool
	broken   error // set once the data file can no longer be trusted
	values   *table
	counters map[string]counter
	log      *os.File // nil when memory only
	logBytes int64    // size of the data file
	// liveBytes is the size a compacted data file would have, header excluded. Expired
	// keys still in memory are counted until they are swept.
	liveBytes int64
	seq       uint64 // number of records appended since Open
	recBuf    []byte // scratch for encoding a record, reused under mu
	// lazy holds the records of lazy writes (LazyPrefixes) that are applied in memory
	// but not yet in the data file; the next write carries them, or lazyTimer.
	lazy      []byte
	lazyTimer *time.Timer
	lazyArmed bool   // lazyTimer will fire
	listBuf   []byte // scratch for the lists a batch pushes, reused under mu
	// compactAt is the data file size below which compaction is not retried after a
	// failure.
	compactAt int64

	lock        *os.File // holds the flock; nil when memory only
	stop        chan struct{}
	sweeperDone chan struct{}
}

var _ store.Store = (*Store)(nil)

// Open opens the store described by opts, replaying the data file if there is one.
// It fails with an error wrapping ErrLocked if another process has the directory open.
func Open(opts Options) (*Store, error) {
	s := &Store{
		now:         opts.Now,
		sync:        opts.Sync,
		dir:         opts.Dir,
		values:      newTable(),
		counters:    map[string]counter{},
		stop:        make(chan struct{}),
		sweeperDone: make(chan struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if opts.Dir != "" {
		if err := s.openDir(); err != nil {
			return nil, err
		}
	}
	go s.sweeper()
	return s, nil
}

// openDir locks the data directory and loads the data file.
func (s *Store) openDir() (err error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("embedded: create data directory: %w", err)
	}
	lockPath := filepath.Join(s.dir, LockFile)
	lock, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("embedded: open lock file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = lock.Close()
		}
	}()
	if err := lockExclusive(lock); err != nil {
		if errors.Is(err, errWouldBlock) {
			return fmt.Errorf("%w: %s is locked (%s); stop the other Arbor instance or give this one another data directory",
				ErrLocked, s.dir, lockPath)
		}
		return fmt.Errorf("embedded: lock %s: %w", lockPath, err)
	}

	s.dataPath = filepath.Join(s.dir, DataFile)
	// A leftover temporary file is a compaction that did not finish; arbor.db is intact.
	_ = os.Remove(s.dataPath + ".tmp")
	f, err := os.OpenFile(s.dataPath, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("embedded: open data file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
		}
	}()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("embedded: stat data file: %w", err)
	}
	st, err := replay(f, info.Size(), s.now().UnixNano())
	if err != nil {
		return fmt.Errorf("embedded: load %s: %w", s.dataPath, err)
	}
	if st.torn > 0 {
		if err := f.Truncate(st.size); err != nil {
			return fmt.Errorf("embedded: truncate the damaged last record of %s: %w", s.dataPath, err)
		}
	}
	if st.size == 0 {
		if _, err := f.Write(fileHeader); err != nil {
			return fmt.Errorf("embedded: initialize %s: %w", s.dataPath, err)
		}
		st.size = headerLen
	}
	if st.torn > 0 || info.Size() == 0 {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("embedded: sync %s: %w", s.dataPath, err)
		}
		if err := syncDir(s.dir); err != nil {
			return fmt.Errorf("embedded: %w", err)
		}
	}
	s.values, s.counters = st.values, st.counters
	s.log, s.logBytes, s.lock = f, st.size, lock
	s.lazyTimer = time.AfterFunc(time.Hour, s.flushLazy)
	s.lazyTimer.Stop()
	for k, e := range s.values.all() {
		s.liveBytes += setSize(k, e)
	}
	for k, c := range s.counters {
		s.liveBytes += counterSize(k, c)
	}
	if s.shouldCompactLocked() {
		if err := s.compactLocked(); err != nil {
			if s.broken != nil {
				_ = s.log.Close()
				return err
			}
			// The old file is intact and in use; compaction is only an optimization.
			s.compactAt = 2 * s.logBytes
		}
	}
	return nil
}

// Get returns the value and revision of key, or an error wrapping store.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (store.Item, error) {
	if err := ctx.Err(); err != nil {
		return store.Item{}, fmt.Errorf("embedded get %q: %w", key, err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.usableLocked(); err != nil {
		return store.Item{}, fmt.Errorf("embedded get %q: %w", key, err)
	}
	e, ok := s.liveValueLocked(key, s.now().UnixNano())
	if !ok {
		return store.Item{}, &store.NotFoundError{Store: "embedded", Op: "get", Key: key}
	}
	return store.Item{Value: clone(e.value), Rev: e.rev}, nil
}

// Set writes key unconditionally and returns its new revision.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) (uint64, error) {
	return s.write(ctx, "set", key, value, 0, false, ttl)
}

// CAS writes key only if its revision is rev (0: only if it does not exist), and
// returns the new revision, or an error wrapping store.ErrConflict.
func (s *Store) CAS(ctx context.Context, key string, value []byte, rev uint64, ttl time.Duration) (uint64, error) {
	return s.write(ctx, "cas", key, value, rev, true, ttl)
}

// write implements Set and, with check, CAS.
func (s *Store) write(ctx context.Context, op, key string, value []byte, rev uint64, check bool, ttl time.Duration) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("embedded %s %q: %w", op, key, err)
	}
	if err := store.ValidateTTL(ttl); err != nil {
		return 0, fmt.Errorf("embedded %s %q: %w", op, key, err)
	}
	s.mu.Lock()
	if err := s.usableLocked(); err != nil {
		s.mu.Unlock()
		return 0, fmt.Errorf("embedded %s %q: %w", op, key, err)
	}
	now := s.now()
	old, _ := s.liveValueLocked(key, now.UnixNano())
	if check && old.rev != rev {
		s.mu.Unlock()
		return 0, fmt.Errorf("embedded %s %q at revision %d: %w", op, key, rev, store.ErrConflict)
	}
	// The table copies value into its arena: no clone of its own.
	e := entry{value: value, rev: old.rev + 1, exp: expiry(now, ttl)}
	seq, err := s.appendLocked(key, setSize(key, e), func(b []byte) []byte { return appendSet(b, key, e) })
	if err != nil {
		s.mu.Unlock()
		return 0, fmt.Errorf("embedded %s %q: %w", op, key, err)
	}
	if prev, had := s.values.put(key, e); had {
		s.liveBytes -= setSize(key, prev)
	}
	s.liveBytes += setSize(key, e)
	s.afterWriteLocked()
	if err := s.commitFor(key, seq); err != nil {
		return 0, fmt.Errorf("embedded %s %q: %w", op, key, err)
	}
	return e.rev, nil
}

// Delete removes key; a missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("embedded delete %q: %w", key, err)
	}
	_, err := s.remove(key)
	if err != nil {
		return fmt.Errorf("embedded delete %q: %w", key, err)
	}
	return nil
}

// Take atomically reads and deletes key, or returns an error wrapping
// store.ErrNotFound.
func (s *Store) Take(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("embedded take %q: %w", key, err)
	}
	e, err := s.remove(key)
	if err != nil {
		return nil, fmt.Errorf("embedded take %q: %w", key, err)
	}
	if e == nil {
		return nil, &store.NotFoundError{Store: "embedded", Op: "take", Key: key}
	}
	return e.value, nil
}

// remove deletes the value key and returns what it held, nil if it was missing or
// expired.
func (s *Store) remove(key string) (*entry, error) {
	s.mu.Lock()
	if err := s.usableLocked(); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	prev, had := s.values.get(key)
	if !had {
		s.mu.Unlock()
		return nil, nil
	}
	if expired(prev.exp, s.now().UnixNano()) {
		// Nothing to log: an expired record is dropped on replay anyway.
		s.values.del(key)
		s.liveBytes -= setSize(key, prev)
		s.mu.Unlock()
		return nil, nil
	}
	seq, err := s.appendLocked(key, frameLen+1+int64(uvarintLen(uint64(len(key)))+len(key)), func(b []byte) []byte { return appendDelete(b, key) })
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	// The caller owns what Take returns; prev.value aliases the table's arena.
	prev.value = clone(prev.value)
	s.values.del(key)
	s.liveBytes -= setSize(key, prev)
	s.afterWriteLocked()
	if err := s.commitFor(key, seq); err != nil {
		return nil, err
	}
	return &prev, nil
}

// Incr adds delta to the counter at key and returns the new value. A missing counter
// starts from zero and gets ttl; an existing one keeps its expiry. Incr with delta 0
// reads the counter without creating it.
func (s *Store) Incr(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("embedded incr %q: %w", key, err)
	}
	if err := store.ValidateTTL(ttl); err != nil {
		return 0, fmt.Errorf("embedded incr %q: %w", key, err)
	}
	s.mu.Lock()
	if err := s.usableLocked(); err != nil {
		s.mu.Unlock()
		return 0, fmt.Errorf("embedded incr %q: %w", key, err)
	}
	now := s.now()
	prev, had := s.counters[key]
	c := prev
	if !had || expired(prev.exp, now.UnixNano()) {
		c = counter{exp: expiry(now, ttl)}
	}
	if delta == 0 {
		s.mu.Unlock()
		return c.n, nil
	}
	if (delta > 0 && c.n > math.MaxInt64-delta) || (delta < 0 && c.n < math.MinInt64-delta) {
		s.mu.Unlock()
		return 0, fmt.Errorf("embedded incr %q: counter %d plus %d overflows int64", key, c.n, delta)
	}
	c.n += delta
	seq, err := s.appendLocked(key, counterSize(key, c), func(b []byte) []byte { return appendCounter(b, key, c) })
	if err != nil {
		s.mu.Unlock()
		return 0, fmt.Errorf("embedded incr %q: %w", key, err)
	}
	if had {
		s.liveBytes -= counterSize(key, prev)
	}
	s.counters[key] = c
	s.liveBytes += counterSize(key, c)
	s.afterWriteLocked()
	if err := s.commitFor(key, seq); err != nil {
		return 0, fmt.Errorf("embedded incr %q: %w", key, err)
	}
	return c.n, nil
}

// Ping reports whether the store is open and its data file writable.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("embedded ping: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.usableLocked(); err != nil {
		return fmt.Errorf("embedded ping: %w", err)
	}
	return nil
}

// Close stops the sweeper, compacts and flushes the data file and releases the data
// directory. After Close every method returns an error wrapping store.ErrUnavailable.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("embedded close: %w", errClosed)
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	<-s.sweeperDone

	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	if s.log != nil {
		s.lazyTimer.Stop()
		if s.broken == nil {
			if err := s.compactLocked(); err != nil {
				errs = append(errs, err)
				if len(s.lazy) > 0 {
					if _, err := s.writeLocked(nil, false); err != nil {
						errs = append(errs, err)
					}
				}
				if err := s.log.Sync(); err != nil {
					errs = append(errs, fmt.Errorf("embedded: sync %s: %w", s.dataPath, err))
				}
			}
		}
		if err := s.log.Close(); err != nil {
			errs = append(errs, fmt.Errorf("embedded: close %s: %w", s.dataPath, err))
		}
		s.syncedSeq = s.seq
	}
	if s.lock != nil {
		if err := s.lock.Close(); err != nil { // releases the flock
			errs = append(errs, fmt.Errorf("embedded: release %s: %w", LockFile, err))
		}
	}
	s.values, s.counters = nil, nil
	return errors.Join(errs...)
}

var errClosed = fmt.Errorf("store closed: %w", store.ErrUnavailable)

// usableLocked returns an error wrapping store.ErrUnavailable if the store is closed
// or broken. s.mu must be held.
func (s *Store) usableLocked() error {
	if s.closed {
		return errClosed
	}
	if s.broken != nil {
		return fmt.Errorf("%w: data file unusable: %w", store.ErrUnavailable, s.broken)
	}
	return nil
}

// liveValueLocked returns key's entry unless it is missing or expired; a missing key
// has revision 0. s.mu must be held.
func (s *Store) liveValueLocked(key string, nowNano int64) (entry, bool) {
	e, ok := s.values.get(key)
	if !ok || expired(e.exp, nowNano) {
		return entry{}, false
	}
	return e, true
}

// appendLocked appends the record of the given size built by enc, a write of key, to
// the data file and returns its sequence number for commit. Memory only, it does
// nothing. On a failed write it cuts the file back to its last whole record. s.mu
// must be held for writing.
func (s *Store) appendLocked(key string, size int64, enc func([]byte) []byte) (uint64, error) {
	if s.log == nil {
		return 0, nil
	}
	buf := s.recBuf[:0]
	if int64(cap(buf)) < size {
		buf = make([]byte, 0, size)
	}
	return s.writeLocked(enc(buf), lazyKey(key))
}

// writeLocked appends rec, one or more whole records, to the data file in one write
// and returns the sequence number to commit. With lazy, and unless every write is
// synced, rec only joins the lazy records, which the next write that is not lazy puts
// in front of its own, or flushLazy writes; the sequence number is then 0, nothing to
// commit. On a failed write it cuts the file back to its last whole record and keeps
// the lazy records for the next try. s.mu must be held for writing and the data file
// open.
func (s *Store) writeLocked(rec []byte, lazy bool) (uint64, error) {
	out := rec
	switch {
	case lazy && s.sync != SyncAll:
		s.lazy = append(s.lazy, rec...)
		if !s.lazyArmed {
			s.lazyArmed = true
			s.lazyTimer.Reset(LazyFlushDelay)
		}
		out = nil
	case len(s.lazy) > 0:
		out = append(s.lazy, rec...)
	}
	if rec != nil && cap(rec) <= maxRecBuf {
		s.recBuf = rec[:0] // the file does not keep it: reuse it for the next record
	}
	if out == nil {
		return 0, nil
	}
	n, err := s.log.Write(out)
	if err != nil {
		if n > 0 {
			if terr := s.log.Truncate(s.logBytes); terr != nil {
				s.broken = fmt.Errorf("cut back a partial write: %w", terr)
			}
		}
		if len(s.lazy) > 0 {
			s.lazy = out[:len(s.lazy)]
		}
		return 0, fmt.Errorf("%w: append to %s: %w", store.ErrUnavailable, s.dataPath, err)
	}
	if len(s.lazy) > 0 {
		s.dropLazyLocked(out)
	}
	s.logBytes += int64(n)
	s.seq++
	return s.seq, nil
}

// dropLazyLocked forgets the lazy records once they are in the data file; buf is the
// buffer they were last in, kept for the next ones unless it grew large.
func (s *Store) dropLazyLocked(buf []byte) {
	if cap(buf) > maxRecBuf {
		buf = nil
	}
	s.lazy = buf[:0]
}

// flushLazy writes the lazy records that no other write has carried to the data file
// within LazyFlushDelay; it runs on lazyTimer. A failed write is tried again after
// the same delay.
func (s *Store) flushLazy() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lazyArmed = false
	if s.closed || s.broken != nil || len(s.lazy) == 0 {
		return
	}
	if _, err := s.writeLocked(nil, false); err != nil {
		s.lazyArmed = true
		s.lazyTimer.Reset(LazyFlushDelay)
	}
}

// lazyKey reports whether key's writes may reach the data file lazily (LazyPrefixes).
func lazyKey(key string) bool { return hasAnyPrefix(key, LazyPrefixes) }

// afterWriteLocked finishes a write: it compacts the data file if it has grown too
// large, and releases s.mu. Compaction needs syncMu, which ranks before s.mu, so the
// lock is dropped and retaken.
func (s *Store) afterWriteLocked() {
	compact := s.shouldCompactLocked()
	s.mu.Unlock()
	if !compact {
		return
	}
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.broken != nil || !s.shouldCompactLocked() {
		return
	}
	if err := s.compactLocked(); err != nil {
		// The write itself succeeded and the old file is intact; try again once the
		// file has doubled.
		s.compactAt = 2 * s.logBytes
	}
}

// shouldCompactLocked reports whether the data file is more than twice as large as
// the live data. s.mu must be held.
func (s *Store) shouldCompactLocked() bool {
	return s.log != nil && s.logBytes > minCompactBytes && s.logBytes > s.compactAt &&
		s.logBytes > 2*(headerLen+s.liveBytes)
}

// compactLocked rewrites the data file with the live keys only. Both syncMu and s.mu
// must be held, except during Open.
func (s *Store) compactLocked() error {
	nowNano := s.now().UnixNano()
	s.values.sweep(nowNano, func(string, entry) {})
	for k, c := range s.counters {
		if expired(c.exp, nowNano) {
			delete(s.counters, k)
		}
	}
	tmp := s.dataPath + ".tmp"
	f, size, err := writeSnapshot(tmp, s.values, s.counters, nowNano)
	if err != nil {
		return fmt.Errorf("embedded: compact: %w", err)
	}
	if err := os.Rename(tmp, s.dataPath); err != nil {
		_ = f.Close()
		_ = os.Remove(tmp)
		return fmt.Errorf("embedded: compact: %w", err)
	}
	// The new file is in place; from here on the old one is gone whatever happens.
	old := s.log
	s.log, s.logBytes, s.liveBytes = f, size, size-headerLen
	s.dropLazyLocked(s.lazy) // the snapshot holds what they wrote
	s.syncedSeq = s.seq
	_ = old.Close()
	if err := syncDir(s.dir); err != nil {
		s.broken = err
		return fmt.Errorf("embedded: compact: %w", err)
	}
	return nil
}

// ephemeral reports whether key is a flow's or a session's (EphemeralPrefixes).
func ephemeral(key string) bool { return hasAnyPrefix(key, EphemeralPrefixes) }

// hasAnyPrefix reports whether key starts with one of prefixes.
func hasAnyPrefix(key string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// commitFor commits the write of key with sequence number seq, unless the mode is
// SyncAccounts and key is a flow's or a session's.
func (s *Store) commitFor(key string, seq uint64) error {
	if s.sync == SyncAccounts && ephemeral(key) {
		return nil
	}
	return s.commit(seq)
}

// commit waits, unless the mode is SyncNone, until the record with sequence number seq
// is on stable storage. Concurrent callers share one fsync (group commit).
func (s *Store) commit(seq uint64) error {
	if s.sync == SyncNone || seq == 0 {
		return nil
	}
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if s.syncedSeq >= seq {
		return nil
	}
	// A concurrent Close does not stop this sync: Close needs syncMu first, and once
	// it has run, syncedSeq covers every write.
	s.mu.RLock()
	f, upto, broken := s.log, s.seq, s.broken
	s.mu.RUnlock()
	if broken != nil {
		return fmt.Errorf("%w: data file unusable: %w", store.ErrUnavailable, broken)
	}
	if err := f.Sync(); err != nil {
		// After a failed fsync the kernel may have dropped the dirty pages: what is on
		// disk is unknown, so stop accepting writes.
		err = fmt.Errorf("sync %s: %w", s.dataPath, err)
		s.mu.Lock()
		s.broken = err
		s.mu.Unlock()
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	s.syncedSeq = upto
	return nil
}

// sweeper removes expired keys from memory every sweepInterval until Close.
func (s *Store) sweeper() {
	defer close(s.sweeperDone)
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.sweep()
		}
	}
}

// sweep removes expired keys from memory. They need no record in the data file: an
// expired record is dropped on replay.
func (s *Store) sweep() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	nowNano := s.now().UnixNano()
	s.values.sweep(nowNano, func(k string, e entry) { s.liveBytes -= setSize(k, e) })
	for k, c := range s.counters {
		if expired(c.exp, nowNano) {
			delete(s.counters, k)
			s.liveBytes -= counterSize(k, c)
		}
	}
}

// expiry returns the absolute expiry for ttl from now, 0 for none.
func expiry(now time.Time, ttl time.Duration) int64 {
	if ttl == 0 {
		return 0
	}
	return now.Add(ttl).UnixNano()
}

// clone copies b, returning a non-nil slice even when b is empty.
func clone(b []byte) []byte {
	return append(make([]byte, 0, len(b)), b...)
}
