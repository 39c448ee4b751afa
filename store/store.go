// Package store is Arbor's one storage contract: a small key-value interface with
// TTLs, revisions for compare-and-swap, atomic counters and single-use reads.
//
// Two backends implement it and pass one conformance suite (store/storetest):
// Redis (store/redisstore), which several Arbor instances share, and an embedded
// store (store/embedded), the default for a single instance, persisted to a data
// directory. Like database/sql drivers, callers see only this interface, so every
// service above it works on either backend unchanged.
//
// A value changed through its current content (a user's device list, an index) goes
// through Update, the one read-modify-compare-and-swap loop, with one bounded, jittered
// retry policy (Retry) and ErrNoChange for "nothing to write".
//
// Keys are plain strings. A key may carry a Redis Cluster hash tag in braces
// ("flow:{abc}"); backends other than Redis ignore it. Values are opaque bytes;
// callers encode them (JSON, as a rule) and never put secrets in them in clear.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors callers branch on. Backends wrap their own failures in ErrUnavailable so that
// the HTTP doors can answer 503 without knowing which backend is in use.
var (
	// ErrNotFound reports that a key does not exist or has expired.
	ErrNotFound = errors.New("store: key not found")
	// ErrConflict reports that a compare-and-swap lost: the key's revision was not the one expected.
	ErrConflict = errors.New("store: revision conflict")
	// ErrUnavailable reports that the backend could not be reached or failed; the
	// operation may or may not have been applied only for Set and Incr, never for CAS.
	ErrUnavailable = errors.New("store: unavailable")
)

// NotFoundError is how a backend reports a read of a missing key: it wraps
// ErrNotFound, and its message is formatted only if someone reads it. Misses are part of
// every login (a user with no devices, a first attempt with no throttle deadline), and
// fmt.Errorf's quoting of the key was about 1 % of a login's CPU; this is one
// allocation.
type NotFoundError struct {
	// Store names the backend ("embedded", "redis"), Op the read ("get", "take"), Key
	// the key read.
	Store, Op, Key string
}

// Error returns "<store> <op> <quoted key>: store: key not found".
func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s %s %q: %v", e.Store, e.Op, e.Key, ErrNotFound)
}

// Unwrap returns ErrNotFound.
func (e *NotFoundError) Unwrap() error { return ErrNotFound }

// Item is a value read from the store with the revision it was read at.
type Item struct {
	// Value is the stored bytes.
	Value []byte
	// Rev is the key's revision: 1 after the first write and one more on every write.
	// A CAS with this revision succeeds only if nobody has written the key since.
	Rev uint64
}

// Store is the storage contract. All methods are safe for concurrent use. A ttl of zero
// means the key never expires; a negative ttl is an error.
type Store interface {
	// Get returns the value and revision of key, or ErrNotFound.
	Get(ctx context.Context, key string) (Item, error)
	// Set writes key unconditionally, bumping its revision, and returns the new revision.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) (uint64, error)
	// CAS writes key only if its current revision equals rev, and returns the new revision.
	// rev 0 means "only if the key does not exist". On a lost race it returns ErrConflict
	// and changes nothing.
	CAS(ctx context.Context, key string, value []byte, rev uint64, ttl time.Duration) (uint64, error)
	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// Take atomically reads and deletes key, so that of two concurrent callers exactly one
	// gets the value (single-use tokens). A missing key gives ErrNotFound.
	Take(ctx context.Context, key string) ([]byte, error)
	// Incr atomically adds delta to the integer counter at key and returns the new value.
	// A missing key counts from zero and gets ttl; an existing key keeps its expiry.
	// Counters are a separate key space from Get/Set values: a counter key is read only
	// through Incr (delta 0 reads it).
	Incr(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error)
	// Ping reports whether the backend is reachable.
	Ping(ctx context.Context) error
	// Close releases the backend; for the embedded store it also flushes to disk.
	Close() error
}

// ValidateTTL returns an error for a negative ttl. Backends call it first, so all of them
// reject bad input the same way.
func ValidateTTL(ttl time.Duration) error {
	if ttl < 0 {
		return errors.New("store: negative ttl")
	}
	return nil
}

// IsUnavailable reports whether err means the store could not be reached.
func IsUnavailable(err error) bool { return errors.Is(err, ErrUnavailable) }
