package embedded

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/arbor-auth/arbor/store"
)

var _ store.Batcher = (*Store)(nil)

// pending is one write of a batch, applied to memory once its record is in the file.
type pending struct {
	key     string
	counter bool
	del     bool
	e       entry
	c       counter
}

// Do runs a batch (store.Do) under one lock, with the records of all its writes
// appended to the data file in one write and fsynced at most once (group commit), so
// a batch costs about what its dearest op does. The batch is atomic here, which the
// contract allows but does not promise. If the append fails, memory is left as it was
// and no op has taken effect.
func (s *Store) Do(ctx context.Context, ops []store.Op) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("embedded batch: %w", err)
	}
	s.mu.Lock()
	if err := s.usableLocked(); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("embedded batch: %w", err)
	}
	now := s.now()
	nowNano := now.UnixNano()
	var (
		// Room for the writes of the batches Arbor makes on the stack, without an
		// allocation per batch: a login's last is at most eight (the session, its index
		// entry, the session the index dropped, the guessing defence's success record,
		// the flow's end).
		room   [8]pending
		writes = room[:0]
		rec    = s.recBuf[:0]
		// The new values of the batch's pushes, back to back; the table copies them.
		lists   = s.listBuf[:0]
		durable bool
	)
	for i := range ops {
		op := &ops[i]
		switch op.Kind {
		case store.OpGet:
			e, ok := s.liveValueLocked(op.Key, nowNano)
			if !ok {
				op.Err = &store.NotFoundError{Store: "embedded", Op: "get", Key: op.Key}
				continue
			}
			op.Item = store.Item{Value: clone(e.value), Rev: e.rev}
			continue
		case store.OpSet, store.OpCAS:
			old, _ := s.liveValueLocked(op.Key, nowNano)
			if op.Kind == store.OpCAS && old.rev != op.Rev {
				op.Err = fmt.Errorf("embedded cas %q at revision %d: %w", op.Key, op.Rev, store.ErrConflict)
				continue
			}
			// The table copies the value into its arena when the write is applied.
			e := entry{value: op.Value, rev: old.rev + 1, exp: expiry(now, op.TTL)}
			op.Rev = e.rev
			rec = appendSet(rec, op.Key, e)
			writes = append(writes, pending{key: op.Key, e: e})
		case store.OpPush:
			old, _ := s.liveValueLocked(op.Key, nowNano)
			start := len(lists)
			var (
				dropped [][]byte
				ttl     time.Duration
			)
			lists, dropped, ttl = store.AppendPush(lists, old.value, store.ListEntry{Expires: op.Expires.UnixMilli(), Member: op.Value}, op.Bound, op.Now)
			// A later push of the batch may move lists; this value keeps the old array,
			// which nothing writes again.
			e := entry{value: lists[start:len(lists):len(lists)], rev: old.rev + 1, exp: expiry(now, ttl)}
			op.Rev, op.Dropped = e.rev, dropped
			rec = appendSet(rec, op.Key, e)
			writes = append(writes, pending{key: op.Key, e: e})
			if op.OwnsKeys {
				// The keys the list owned go in the same record and the same append
				// as the push itself: both happen, or neither does.
				for _, m := range dropped {
					k, ok := store.MemberKey(m)
					if !ok {
						continue
					}
					if _, ok := s.liveValueLocked(k, nowNano); ok {
						rec = appendDelete(rec, k)
						writes = append(writes, pending{key: k, del: true})
						durable = durable || !(s.sync == SyncAccounts && ephemeral(k))
					}
				}
				op.KeysDeleted = true
			}
		case store.OpDelete:
			if _, ok := s.liveValueLocked(op.Key, nowNano); !ok {
				continue // missing, or expired: dropped on replay and by the sweeper anyway
			}
			rec = appendDelete(rec, op.Key)
			writes = append(writes, pending{key: op.Key, del: true})
		case store.OpIncr:
			c, had := s.counters[op.Key]
			if !had || expired(c.exp, nowNano) {
				c = counter{exp: expiry(now, op.TTL)}
			}
			if op.Delta == 0 {
				op.N = c.n
				continue
			}
			if (op.Delta > 0 && c.n > math.MaxInt64-op.Delta) || (op.Delta < 0 && c.n < math.MinInt64-op.Delta) {
				s.mu.Unlock()
				return fmt.Errorf("embedded incr %q: counter %d plus %d overflows int64", op.Key, c.n, op.Delta)
			}
			c.n += op.Delta
			op.N = c.n
			rec = appendCounter(rec, op.Key, c)
			writes = append(writes, pending{key: op.Key, counter: true, c: c})
		case store.OpZero:
			// A missing counter stays missing and one at zero is left as it is: no
			// record for a write that changes nothing.
			c, had := s.counters[op.Key]
			if !had || expired(c.exp, nowNano) || c.n == 0 {
				op.N = 0
				continue
			}
			op.N, c.n = c.n, 0
			rec = appendCounter(rec, op.Key, c)
			writes = append(writes, pending{key: op.Key, counter: true, c: c})
		}
		durable = durable || !(s.sync == SyncAccounts && ephemeral(op.Key))
	}
	if cap(lists) <= maxRecBuf {
		s.listBuf = lists[:0] // the table copies the values: reuse it for the next batch
	}
	if len(writes) == 0 {
		s.mu.Unlock()
		return nil
	}
	var seq uint64
	if s.log != nil {
		lazy := true
		for _, w := range writes {
			lazy = lazy && lazyKey(w.key)
		}
		var err error
		if seq, err = s.writeLocked(rec, lazy); err != nil {
			s.mu.Unlock()
			return fmt.Errorf("embedded batch: %w", err)
		}
	}
	for _, w := range writes {
		switch {
		case w.counter:
			if prev, had := s.counters[w.key]; had {
				s.liveBytes -= counterSize(w.key, prev)
			}
			s.counters[w.key] = w.c
			s.liveBytes += counterSize(w.key, w.c)
		case w.del:
			prev, _ := s.values.del(w.key)
			s.liveBytes -= setSize(w.key, prev)
		default:
			if prev, had := s.values.put(w.key, w.e); had {
				s.liveBytes -= setSize(w.key, prev)
			}
			s.liveBytes += setSize(w.key, w.e)
		}
	}
	s.afterWriteLocked()
	if durable {
		if err := s.commit(seq); err != nil {
			return fmt.Errorf("embedded batch: %w", err)
		}
	}
	return nil
}

var _ store.InOrder = (*Store)(nil)

// BatchInOrder reports true: a batch is applied under one lock, all of it or none
// (store.InOrder).
func (s *Store) BatchInOrder() bool { return true }
