package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// ErrNoChange, returned by an UpdateFunc, ends Update without a write and without an
// error: the current value is already what the caller wants.
var ErrNoChange = errors.New("store: no change")

// MaxUpdateAttempts bounds how many times Update reads and tries to write one key before
// it gives up with an error wrapping ErrConflict. Contention on one key is rare (a few
// requests of one user at once), so the bound only matters under attack or a bug, where
// failing beats spinning.
const MaxUpdateAttempts = 32

// Backoff bounds for Update's retries: the n-th retry waits a uniformly random time in
// [0, min(backoffBase<<n, backoffCap)), so that contenders spread out ("full jitter")
// and the worst case stays well under a second in total.
const (
	backoffBase = 250 * time.Microsecond
	backoffCap  = 20 * time.Millisecond
)

// An UpdateFunc computes a key's next value from its current one. cur is the current
// value (nil if the key does not exist) and exists tells a missing key from an empty
// value. It returns the value to write and the TTL to write it with (0: no expiry), or
// ErrNoChange to write nothing, or another error to stop the update and return that
// error unchanged. It may be called several times, each time with a freshly read
// value, so it must be a pure function of its arguments: it must not mutate cur or
// anything it captured, except to record its last result.
type UpdateFunc func(cur []byte, exists bool) (next []byte, ttl time.Duration, err error)

// Update reads key, applies fn and writes the result back with CAS at the revision it
// read, retrying with a fresh read when another writer got there first. It is the one
// read-modify-write loop of Arbor: every service that changes a stored value through
// its current content goes through it, so all share one bounded, jittered retry policy.
//
// It returns the key's revision after the write (or, after ErrNoChange, the revision
// read; 0 for a missing key). Errors: fn's own error unchanged; store errors wrapped with
// the key (errors.Is with ErrUnavailable keeps working); an error wrapping ErrConflict
// after MaxUpdateAttempts lost races; the context's error if it ends while waiting.
func Update(ctx context.Context, st Store, key string, fn UpdateFunc) (uint64, error) {
	for attempt := range MaxUpdateAttempts {
		var (
			cur    []byte
			rev    uint64
			exists bool
		)
		it, err := st.Get(ctx, key)
		switch {
		case err == nil:
			cur, rev, exists = it.Value, it.Rev, true
		case errors.Is(err, ErrNotFound):
		default:
			return 0, fmt.Errorf("store: update %s: read: %w", key, err)
		}
		next, ttl, err := fn(cur, exists)
		if errors.Is(err, ErrNoChange) {
			return rev, nil
		}
		if err != nil {
			return 0, err
		}
		nrev, err := st.CAS(ctx, key, next, rev, ttl)
		if err == nil {
			return nrev, nil
		}
		if !errors.Is(err, ErrConflict) {
			return 0, fmt.Errorf("store: update %s: write: %w", key, err)
		}
		if attempt == MaxUpdateAttempts-1 {
			break
		}
		if err := wait(ctx, attempt); err != nil {
			return 0, fmt.Errorf("store: update %s: %w", key, err)
		}
	}
	return 0, fmt.Errorf("store: update %s: gave up after %d attempts lost to concurrent writers: %w", key, MaxUpdateAttempts, ErrConflict)
}

// wait sleeps before retry number attempt+1 (full jitter, capped), or returns early
// with the context's error.
func wait(ctx context.Context, attempt int) error {
	ceil := min(backoffBase<<min(attempt, 16), backoffCap)
	t := time.NewTimer(rand.N(ceil))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
