package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/arbor-auth/arbor/store"
)

// Flaky wraps a store.Store that tests can take down, as Redis can go down: while Down
// is true every operation fails with an error wrapping store.ErrUnavailable. It lets a
// test of a service or node check its outage path without stopping a server.
type Flaky struct {
	store.Store
	// Down makes every operation fail while it is true.
	Down atomic.Bool
}

// NewFlaky returns a Flaky that passes every call on to st while it is up.
func NewFlaky(st store.Store) *Flaky { return &Flaky{Store: st} }

func (s *Flaky) err() error {
	if s.Down.Load() {
		return fmt.Errorf("storetest: store taken down: %w", store.ErrUnavailable)
	}
	return nil
}

// Get reads through to the wrapped store unless it is down.
func (s *Flaky) Get(ctx context.Context, key string) (store.Item, error) {
	if err := s.err(); err != nil {
		return store.Item{}, err
	}
	return s.Store.Get(ctx, key)
}

// Set writes through to the wrapped store unless it is down.
func (s *Flaky) Set(ctx context.Context, key string, v []byte, ttl time.Duration) (uint64, error) {
	if err := s.err(); err != nil {
		return 0, err
	}
	return s.Store.Set(ctx, key, v, ttl)
}

// CAS writes through to the wrapped store unless it is down.
func (s *Flaky) CAS(ctx context.Context, key string, v []byte, rev uint64, ttl time.Duration) (uint64, error) {
	if err := s.err(); err != nil {
		return 0, err
	}
	return s.Store.CAS(ctx, key, v, rev, ttl)
}

// Delete deletes through to the wrapped store unless it is down.
func (s *Flaky) Delete(ctx context.Context, key string) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.Delete(ctx, key)
}

// Take takes through to the wrapped store unless it is down.
func (s *Flaky) Take(ctx context.Context, key string) ([]byte, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Store.Take(ctx, key)
}

// Incr counts through to the wrapped store unless it is down.
func (s *Flaky) Incr(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error) {
	if err := s.err(); err != nil {
		return 0, err
	}
	return s.Store.Incr(ctx, key, delta, ttl)
}

// Ping fails while the store is down.
func (s *Flaky) Ping(ctx context.Context) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.Ping(ctx)
}

var (
	_ store.Batcher = (*Flaky)(nil)
	_ store.InOrder = (*Flaky)(nil)
)

// BatchInOrder reports what the wrapped store does (store.InOrder).
func (s *Flaky) BatchInOrder() bool { return store.BatchesInOrder(s.Store) }

// Do runs a batch on the wrapped store unless it is down.
func (s *Flaky) Do(ctx context.Context, ops []store.Op) error {
	if err := s.err(); err != nil {
		return err
	}
	return store.Do(ctx, s.Store, ops)
}
