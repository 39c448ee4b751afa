package oidc

import (
	"context"
	"time"

	"github.com/arbor-auth/arbor/store"
)

// outageStore is the store as the provider's storage uses it: a call that finds the
// store unavailable marks the request (requestInfo.outage), so the answer becomes a
// 503 whatever the library makes of the error it is handed.
type outageStore struct{ store.Store }

func mark(ctx context.Context, err error) {
	if err != nil && store.IsUnavailable(err) {
		if i := infoFrom(ctx); i != nil {
			i.outage.Store(true)
		}
	}
}

func (o outageStore) Get(ctx context.Context, key string) (store.Item, error) {
	it, err := o.Store.Get(ctx, key)
	mark(ctx, err)
	return it, err
}

func (o outageStore) Set(ctx context.Context, key string, v []byte, ttl time.Duration) (uint64, error) {
	rev, err := o.Store.Set(ctx, key, v, ttl)
	mark(ctx, err)
	return rev, err
}

func (o outageStore) CAS(ctx context.Context, key string, v []byte, rev uint64, ttl time.Duration) (uint64, error) {
	n, err := o.Store.CAS(ctx, key, v, rev, ttl)
	mark(ctx, err)
	return n, err
}

func (o outageStore) Delete(ctx context.Context, key string) error {
	err := o.Store.Delete(ctx, key)
	mark(ctx, err)
	return err
}

func (o outageStore) Take(ctx context.Context, key string) ([]byte, error) {
	v, err := o.Store.Take(ctx, key)
	mark(ctx, err)
	return v, err
}

func (o outageStore) Incr(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error) {
	n, err := o.Store.Incr(ctx, key, delta, ttl)
	mark(ctx, err)
	return n, err
}

func (o outageStore) Ping(ctx context.Context) error {
	err := o.Store.Ping(ctx)
	mark(ctx, err)
	return err
}
