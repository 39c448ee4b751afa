package storetest

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/arbor-auth/arbor/store"
)

// Counting wraps a store.Store and counts the calls made through it, by operation and
// by key, so that tests can assert how many store round trips an operation costs. It is
// safe for concurrent use.
type Counting struct {
	store.Store

	mu  sync.Mutex
	ops []Op
}

// Op is one call recorded by Counting.
type Op struct {
	// Name is the method: "Get", "Set", "CAS", "Delete", "Take", "Incr", "Ping" or "Do"
	// (a batch, see store.Do).
	Name string
	// Key is the key it was called with ("" for Ping).
	Key string
}

// NewCounting returns a Counting that passes every call on to st.
func NewCounting(st store.Store) *Counting { return &Counting{Store: st} }

func (c *Counting) record(name, key string) {
	c.mu.Lock()
	c.ops = append(c.ops, Op{Name: name, Key: key})
	c.mu.Unlock()
}

// Ops returns the calls made since the last Reset, oldest first.
func (c *Counting) Ops() []Op {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Op(nil), c.ops...)
}

// Count returns how many calls were made since the last Reset.
func (c *Counting) Count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ops)
}

// Reset forgets the calls recorded so far.
func (c *Counting) Reset() {
	c.mu.Lock()
	c.ops = nil
	c.mu.Unlock()
}

// Get counts and passes on.
func (c *Counting) Get(ctx context.Context, key string) (store.Item, error) {
	c.record("Get", key)
	return c.Store.Get(ctx, key)
}

// Set counts and passes on.
func (c *Counting) Set(ctx context.Context, key string, value []byte, ttl time.Duration) (uint64, error) {
	c.record("Set", key)
	return c.Store.Set(ctx, key, value, ttl)
}

// CAS counts and passes on.
func (c *Counting) CAS(ctx context.Context, key string, value []byte, rev uint64, ttl time.Duration) (uint64, error) {
	c.record("CAS", key)
	return c.Store.CAS(ctx, key, value, rev, ttl)
}

// Delete counts and passes on.
func (c *Counting) Delete(ctx context.Context, key string) error {
	c.record("Delete", key)
	return c.Store.Delete(ctx, key)
}

// Take counts and passes on.
func (c *Counting) Take(ctx context.Context, key string) ([]byte, error) {
	c.record("Take", key)
	return c.Store.Take(ctx, key)
}

// Incr counts and passes on.
func (c *Counting) Incr(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error) {
	c.record("Incr", key)
	return c.Store.Incr(ctx, key, delta, ttl)
}

// Ping counts and passes on.
func (c *Counting) Ping(ctx context.Context) error {
	c.record("Ping", "")
	return c.Store.Ping(ctx)
}

var (
	_ store.Batcher = (*Counting)(nil)
	_ store.InOrder = (*Counting)(nil)
)

// BatchInOrder reports what the wrapped store does (store.InOrder).
func (c *Counting) BatchInOrder() bool { return store.BatchesInOrder(c.Store) }

// Do counts a batch as one call, named "Do" with the ops' kinds and keys ("Get k1 Incr
// k2"), and passes it on: a batch is one round trip on a backend that batches.
func (c *Counting) Do(ctx context.Context, ops []store.Op) error {
	parts := make([]string, 0, 2*len(ops))
	for _, op := range ops {
		parts = append(parts, op.Kind.String(), op.Key)
	}
	c.record("Do", strings.Join(parts, " "))
	return store.Do(ctx, c.Store, ops)
}
