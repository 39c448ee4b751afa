package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/store"
	"github.com/arbor-auth/arbor/store/embedded"
	"github.com/arbor-auth/arbor/store/storetest"
)

// rivalStore is a store whose every CAS loses to an imaginary rival writer, or fails
// with casErr when that is set.
type rivalStore struct {
	store.Store
	casErr error
	cas    atomic.Int64
}

func (s *rivalStore) CAS(ctx context.Context, key string, v []byte, rev uint64, ttl time.Duration) (uint64, error) {
	s.cas.Add(1)
	if s.casErr != nil {
		return 0, s.casErr
	}
	return 0, store.ErrConflict
}

func open(t *testing.T) store.Store {
	t.Helper()
	st, err := embedded.Open(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestUpdateRetryPolicy pins the one retry policy: lost races are retried with a fresh
// read up to MaxUpdateAttempts times, then Update gives up with ErrConflict; any other
// store failure is returned at once, wrapped, without a retry.
func TestUpdateRetryPolicy(t *testing.T) {
	unavailable := fmt.Errorf("%w: connection refused", store.ErrUnavailable)
	tests := []struct {
		name      string
		casErr    error
		wantErr   error
		wantCalls int64
	}{
		{"conflicts forever", nil, store.ErrConflict, store.MaxUpdateAttempts},
		{"store down", unavailable, store.ErrUnavailable, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &rivalStore{Store: open(t), casErr: tt.casErr}
			var calls int64
			_, err := store.Update(context.Background(), st, "k", func([]byte, bool) ([]byte, time.Duration, error) {
				calls++
				return []byte("v"), 0, nil
			})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Update = %v, want %v", err, tt.wantErr)
			}
			if calls != tt.wantCalls || st.cas.Load() != tt.wantCalls {
				t.Errorf("fn ran %d times and CAS %d times, want %d", calls, st.cas.Load(), tt.wantCalls)
			}
		})
	}
}

// TestUpdateStopsWaitingOnCancel: a caller that goes away while Update backs off gets
// its context's error, not a full run of retries.
func TestUpdateStopsWaitingOnCancel(t *testing.T) {
	st := &rivalStore{Store: open(t)}
	ctx, cancel := context.WithCancel(context.Background())
	_, err := store.Update(ctx, st, "k", func([]byte, bool) ([]byte, time.Duration, error) {
		if st.cas.Load() == 2 {
			cancel()
		}
		return []byte("v"), 0, nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Update = %v, want context.Canceled", err)
	}
	if n := st.cas.Load(); n != 3 {
		t.Errorf("CAS ran %d times, want 3 (it stops at the first wait after cancel)", n)
	}
}

// unbatched hides a store's Batcher, so that store.Do falls back to one call per op.
type unbatched struct{ store.Store }

// TestConformanceWithoutBatcher runs the conformance suite through store.Do's fallback
// (DoOne), which a store wrapper that does not batch gets: every op kind, OpPush's
// Update loop included, must keep its contract there too.
func TestConformanceWithoutBatcher(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		st, err := embedded.Open(embedded.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return unbatched{st}
	})
}

// TestPushDeletesOwnedKeysWithoutBatcher: store.Do's fallback honours OwnsKeys, deleting
// the dropped members' keys after the push's Update.
func TestPushDeletesOwnedKeysWithoutBatcher(t *testing.T) {
	st, err := embedded.Open(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if !storetest.PushDeletesOwnedKeys(t, unbatched{st}) {
		t.Error("KeysDeleted = false through DoOne, want true")
	}
}

// failingDelete is a store without a Batcher whose Delete fails as in an outage.
type failingDelete struct{ store.Store }

func (f failingDelete) Delete(context.Context, string) error {
	return fmt.Errorf("delete: %w", store.ErrUnavailable)
}

// TestPushOwnedKeysFallbackFailure: when the fallback cannot delete a dropped member's
// key, Do fails with the outage (the caller then treats the batch as unknown and cleans
// up) and never reports KeysDeleted.
func TestPushOwnedKeysFallbackFailure(t *testing.T) {
	st, err := embedded.Open(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	now := time.Now()
	if _, err := st.Set(ctx, "{a}k", []byte("owned"), time.Hour); err != nil {
		t.Fatal(err)
	}
	first := []store.Op{store.PushOwningOp("{l}list", []byte("h1 {a}k"), now.Add(time.Hour), 1, now)}
	if err := store.Do(ctx, failingDelete{st}, first); err != nil {
		t.Fatalf("push with nothing to drop: %v", err)
	}
	ops := []store.Op{store.PushOwningOp("{l}list", []byte("h2 {b}k"), now.Add(time.Hour), 1, now)}
	err = store.Do(ctx, failingDelete{st}, ops)
	if !errors.Is(err, store.ErrUnavailable) || ops[0].KeysDeleted {
		t.Fatalf("Do = %v, KeysDeleted %v; want ErrUnavailable, false", err, ops[0].KeysDeleted)
	}
	if _, err := st.Get(ctx, "{a}k"); err != nil {
		t.Errorf("the key the failed delete left: %v", err)
	}
}

// batchingOnly is a Batcher that does not say whether it applies batches in order.
type batchingOnly struct{ store.Store }

func (b batchingOnly) Do(ctx context.Context, ops []store.Op) error {
	return store.Do(ctx, b.Store, ops)
}

func TestBatchesInOrder(t *testing.T) {
	st, err := embedded.Open(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, tc := range []struct {
		name string
		st   store.Store
		want bool
	}{
		{"embedded: one lock", st, true},
		{"no Batcher: one op after another", unbatched{st}, true},
		{"a Batcher that does not say", batchingOnly{st}, false},
		{"counting wrapper of the embedded store", storetest.NewCounting(st), true},
		{"counting wrapper of a Batcher that does not say", storetest.NewCounting(batchingOnly{st}), false},
	} {
		if got := store.BatchesInOrder(tc.st); got != tc.want {
			t.Errorf("%s: BatchesInOrder = %v, want %v", tc.name, got, tc.want)
		}
	}
}
