package storetest

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/store"
)

// This file is the conformance suite of store.Update: the helper is backend-neutral,
// but it leans on each backend's Get/CAS semantics (missing key at revision 0, a CAS
// conflict that changes nothing), so it is proven on every backend.

// set returns an UpdateFunc that writes v with ttl whatever the key holds, and counts
// its calls.
func set(v string, ttl time.Duration, calls *int) store.UpdateFunc {
	return func([]byte, bool) ([]byte, time.Duration, error) {
		*calls++
		return []byte(v), ttl, nil
	}
}

func testUpdateCreates(t *testing.T, s store.Store) {
	var sawExists bool
	var sawCur []byte
	rev, err := store.Update(bg, s, "k", func(cur []byte, exists bool) ([]byte, time.Duration, error) {
		sawCur, sawExists = cur, exists
		return []byte("new"), 0, nil
	})
	if err != nil {
		t.Fatalf("Update on a missing key: %v", err)
	}
	if sawExists || sawCur != nil {
		t.Errorf("fn saw cur %q exists %v on a missing key, want nil, false", sawCur, sawExists)
	}
	if rev != 1 {
		t.Errorf("rev = %d, want 1", rev)
	}
	wantValue(t, s, "k", []byte("new"), 1)
}

func testUpdateModifies(t *testing.T, s store.Store) {
	mustSet(t, s, "k", []byte(""), 0)
	var sawExists bool
	rev, err := store.Update(bg, s, "k", func(cur []byte, exists bool) ([]byte, time.Duration, error) {
		sawExists = exists
		return append(append([]byte{}, cur...), "x"...), 0, nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if !sawExists {
		t.Error("fn saw exists = false on an empty but present value")
	}
	if rev != 2 {
		t.Errorf("rev = %d, want 2", rev)
	}
	wantValue(t, s, "k", []byte("x"), 2)
}

func testUpdateNoChange(t *testing.T, s store.Store) {
	noChange := func([]byte, bool) ([]byte, time.Duration, error) { return nil, 0, store.ErrNoChange }
	rev, err := store.Update(bg, s, "missing", noChange)
	if err != nil || rev != 0 {
		t.Fatalf("Update(ErrNoChange) on a missing key = %d, %v; want 0, nil", rev, err)
	}
	wantNotFound(t, s, "missing")
	mustSet(t, s, "k", []byte("v"), 0)
	rev, err = store.Update(bg, s, "k", noChange)
	if err != nil || rev != 1 {
		t.Fatalf("Update(ErrNoChange) = %d, %v; want 1, nil", rev, err)
	}
	wantValue(t, s, "k", []byte("v"), 1)
}

// testUpdateFuncError: fn's error comes back unchanged and is never retried, even when
// it is store.ErrConflict itself; nothing is written.
func testUpdateFuncError(t *testing.T, s store.Store) {
	mustSet(t, s, "k", []byte("v"), 0)
	for _, want := range []error{errors.New("boom"), store.ErrConflict} {
		calls := 0
		_, err := store.Update(bg, s, "k", func([]byte, bool) ([]byte, time.Duration, error) {
			calls++
			return []byte("w"), 0, want
		})
		if err != want {
			t.Errorf("Update = %v, want fn's error %v unchanged", err, want)
		}
		if calls != 1 {
			t.Errorf("fn returning %v ran %d times, want 1", want, calls)
		}
		wantValue(t, s, "k", []byte("v"), 1)
	}
}

func testUpdateTTL(t *testing.T, s store.Store) {
	calls := 0
	start := time.Now()
	if _, err := store.Update(bg, s, "k", set("v", ShortTTL, &calls)); err != nil {
		t.Fatalf("Update with ttl: %v", err)
	}
	if _, err := store.Update(bg, s, "forever", set("v", 0, &calls)); err != nil {
		t.Fatalf("Update without ttl: %v", err)
	}
	if _, err := store.Update(bg, s, "bad", set("v", -time.Second, &calls)); err == nil {
		t.Error("Update with a negative ttl succeeded")
	}
	wantNotFound(t, s, "bad")
	waitGone(t, start, ShortTTL, func() error { _, err := s.Get(bg, "k"); return err })
	wantValue(t, s, "forever", []byte("v"), 1)
}

// testUpdateConcurrent increments one counter from many goroutines through Update. The
// retry budget must absorb this contention (no errors) and no increment may be lost.
func testUpdateConcurrent(t *testing.T, s store.Store) {
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				_, err := store.Update(bg, s, "n", func(cur []byte, exists bool) ([]byte, time.Duration, error) {
					n := 0
					if exists {
						var err error
						if n, err = strconv.Atoi(string(cur)); err != nil {
							return nil, 0, err
						}
					}
					return []byte(strconv.Itoa(n + 1)), 0, nil
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Update under contention: %v", err)
	}
	wantValue(t, s, "n", []byte(strconv.Itoa(workers*each)), workers*each)
}

func testUpdateCanceled(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(bg)
	cancel()
	calls := 0
	_, err := store.Update(ctx, s, "k", set("v", 0, &calls))
	if err == nil {
		t.Fatal("Update with a canceled context succeeded")
	}
	if calls != 0 {
		t.Errorf("fn ran %d times with a canceled context", calls)
	}
	wantNotFound(t, s, "k")
}
