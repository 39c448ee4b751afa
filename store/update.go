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
	var rev uint64
	err := Retry(ctx, func() error {
		var (
			cur    []byte
			exists bool
		)
		rev = 0
		it, err := st.Get(ctx, key)
		switch {
		case err == nil:
			cur, rev, exists = it.Value, it.Rev, true
		case errors.Is(err, ErrNotFound):
		default:
			return fmt.Errorf("read: %w", err)
		}
		next, ttl, err := fn(cur, exists)
		if errors.Is(err, ErrNoChange) {
			return nil
		}
		if err != nil {
			return &fnError{err}
		}
		rev, err = st.CAS(ctx, key, next, rev, ttl)
		if err != nil && !errors.Is(err, ErrConflict) {
			return fmt.Errorf("write: %w", err)
		}
		return err
	})
	if fe, ok := err.(*fnError); ok {
		return 0, fe.err
	}
	if err != nil {
		return 0, fmt.Errorf("store: update %s: %w", key, err)
	}
	return rev, nil
}

// fnError carries an UpdateFunc's error through Retry unchanged and unretried, even
// when it wraps ErrConflict: it deliberately has no Unwrap method.
type fnError struct{ err error }

// Error returns the UpdateFunc's error message.
func (e *fnError) Error() string { return e.err.Error() }

// Retry is the retry policy under Update, for the few writes that span more than one
// key (a journey version and its head): it runs attempt until attempt returns anything
// but an error wrapping ErrConflict, at most MaxUpdateAttempts times, waiting a jittered,
// growing while between attempts. attempt must start from a fresh read each time. It
// returns attempt's last error, an error wrapping ErrConflict once the budget is spent,
// or the context's error if it ends while waiting.
func Retry(ctx context.Context, attempt func() error) error {
	for i := range MaxUpdateAttempts {
		err := attempt()
		if !errors.Is(err, ErrConflict) { // an fnError never matches: it does not unwrap

			return err
		}
		if i == MaxUpdateAttempts-1 {
			break
		}
		if err := wait(ctx, i); err != nil {
			return err
		}
	}
	return fmt.Errorf("gave up after %d attempts lost to concurrent writers: %w", MaxUpdateAttempts, ErrConflict)
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
