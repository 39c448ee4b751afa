package devices_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/store"
	"github.com/arbor-auth/arbor/store/embedded"
)

// recordingStore is the in-memory embedded store, keeping a copy of every key and value
// ever written, so tests can assert what never reaches the store.
type recordingStore struct {
	store.Store
	mu      sync.Mutex
	written []byte
}

func newStore(t *testing.T) *recordingStore {
	t.Helper()
	st, err := embedded.Open(embedded.Options{})
	if err != nil {
		t.Fatalf("embedded.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return &recordingStore{Store: st}
}

func (r *recordingStore) record(k string, v []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.written = append(r.written, k...)
	r.written = append(r.written, '\n')
	r.written = append(r.written, v...)
	r.written = append(r.written, '\n')
}

func (r *recordingStore) Set(ctx context.Context, k string, v []byte, ttl time.Duration) (uint64, error) {
	r.record(k, v)
	return r.Store.Set(ctx, k, v, ttl)
}

func (r *recordingStore) CAS(ctx context.Context, k string, v []byte, rev uint64, ttl time.Duration) (uint64, error) {
	r.record(k, v)
	return r.Store.CAS(ctx, k, v, rev, ttl)
}

// raw returns every key and value ever written.
func (r *recordingStore) raw() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.written...)
}

// failing is a store whose reads and writes report the backend unavailable.
type failing struct{ store.Store }

func (failing) Get(context.Context, string) (store.Item, error) {
	return store.Item{}, store.ErrUnavailable
}
func (failing) CAS(context.Context, string, []byte, uint64, time.Duration) (uint64, error) {
	return 0, store.ErrUnavailable
}
