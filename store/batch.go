package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// OpKind names what one Op of a batch does.
type OpKind uint8

// The kinds of Op: one per single-key method of Store, OpPush and OpZero.
const (
	// OpGet is Get: it fills Item, or sets Err to an error wrapping ErrNotFound.
	OpGet OpKind = iota + 1
	// OpSet is Set: it fills Rev with the new revision.
	OpSet
	// OpCAS is CAS at Rev: it fills Rev with the new revision, or sets Err to an error
	// wrapping ErrConflict.
	OpCAS
	// OpDelete is Delete.
	OpDelete
	// OpIncr is Incr by Delta (0 reads the counter): it fills N.
	OpIncr
	// OpPush adds Value, expiring at Expires, to the bounded list at Key, keeping at
	// most Bound entries (see Push and PushOp): it fills Rev with the list's new
	// revision and Dropped with the members the bound pushed out. It has no
	// single-key method: a Store that is not a Batcher runs it as an Update.
	//
	// With OwnsKeys (PushOwningOp), each member names a key the list owns (KeyMember),
	// and the keys of the members the bound drops are deleted with the push, so that
	// what the list no longer holds does not outlive it (a user's oldest session past
	// the quota). Entries pruned because they expired are not deleted: an owned key
	// expires no later than its entry. KeysDeleted reports whether it happened:
	//   - the embedded store deletes them under its lock, in the push's own append to
	//     its data file: all of it or none, atomic with the push;
	//   - a single Redis server and Sentinel delete them in the push's script: atomic
	//     with the push;
	//   - a Redis Cluster cannot (the keys live in other slots than the list): it
	//     pushes, leaves the keys alone and reports KeysDeleted false, and the caller
	//     deletes them itself;
	//   - a Store that is not a Batcher (DoOne) deletes them one by one after the
	//     push's Update won, not atomically: if a delete fails, Do fails as after a lost
	//     reply, and the caller cannot tell which took effect.
	// A key a push may delete must not be touched by another op of its batch.
	OpPush
	// OpZero sets the counter at Key to zero if it exists, keeping its expiry (a missing
	// or expired counter stays missing), and fills N with the value it held: 0 for a
	// missing one. Like OpIncr it is atomic on its own, so an increment that lands
	// after it counts from zero and none is lost but those it cleared. It is how a
	// count is cleared by a write that cannot read it first (the guessing defence's
	// record of a right secret, which rides in the flow's write): Delete does not reach
	// counters (they are their own key space), and subtracting a count read earlier
	// misses what landed since. It has no single-key method: a Store that is not a
	// Batcher runs it as two Incr calls (see DoOne), which is not atomic.
	OpZero
)

// String returns the kind's method name.
func (k OpKind) String() string {
	switch k {
	case OpGet:
		return "Get"
	case OpSet:
		return "Set"
	case OpCAS:
		return "CAS"
	case OpDelete:
		return "Delete"
	case OpIncr:
		return "Incr"
	case OpPush:
		return "Push"
	case OpZero:
		return "Zero"
	}
	return fmt.Sprintf("OpKind(%d)", uint8(k))
}

// Op is one operation of a batch (see Do): its input, and after Do its result. Build it
// with GetOp, SetOp, CASOp, DeleteOp, IncrOp, ZeroOp, PushOp or PushOwningOp.
type Op struct {
	// Kind is what the operation does.
	Kind OpKind
	// Key is the key it works on.
	Key string
	// Value is what OpSet and OpCAS write, and the member OpPush adds.
	Value []byte
	// Rev is the revision OpCAS expects (0: the key must not exist); after Do, the new
	// revision written by OpSet or OpCAS.
	Rev uint64
	// Delta is what OpIncr adds.
	Delta int64
	// TTL is the expiry OpSet, OpCAS and a creating OpIncr give the key (0: none).
	TTL time.Duration
	// Expires is when the member OpPush adds expires, Now the caller's clock against
	// which the list's entries expire, and Bound how many entries the list keeps.
	Expires, Now time.Time
	Bound        int
	// OwnsKeys says that the members of OpPush's list name keys the list owns, to be
	// deleted when the bound drops their members (see OpPush).
	OwnsKeys bool

	// Item is what OpGet read.
	Item Item
	// N is the counter's value after OpIncr, and before OpZero.
	N int64
	// Dropped are the members OpPush removed to keep the list within its bound,
	// oldest first.
	Dropped [][]byte
	// KeysDeleted reports, after an OpPush with OwnsKeys, that the keys named by
	// Dropped are gone: the backend deleted them with the push. False, with members
	// dropped, means the caller must delete them (a Redis Cluster).
	KeysDeleted bool
	// Err is the operation's own outcome: nil, an error wrapping ErrNotFound (OpGet) or
	// ErrConflict (OpCAS). Failures of the store are Do's error instead.
	Err error
}

// GetOp reads key.
func GetOp(key string) Op { return Op{Kind: OpGet, Key: key} }

// SetOp writes key unconditionally.
func SetOp(key string, value []byte, ttl time.Duration) Op {
	return Op{Kind: OpSet, Key: key, Value: value, TTL: ttl}
}

// CASOp writes key if its revision is rev.
func CASOp(key string, value []byte, rev uint64, ttl time.Duration) Op {
	return Op{Kind: OpCAS, Key: key, Value: value, Rev: rev, TTL: ttl}
}

// DeleteOp removes key.
func DeleteOp(key string) Op { return Op{Kind: OpDelete, Key: key} }

// IncrOp adds delta to the counter at key (0 reads it).
func IncrOp(key string, delta int64, ttl time.Duration) Op {
	return Op{Kind: OpIncr, Key: key, Delta: delta, TTL: ttl}
}

// ZeroOp clears the counter at key to zero, keeping its expiry (see OpZero).
func ZeroOp(key string) Op { return Op{Kind: OpZero, Key: key} }

// Batcher is implemented by a backend that can send several single-key operations at
// once: Redis in one pipeline (one round trip), the embedded store under one lock with
// one append to its data file. Callers use Do, which falls back to one call per
// operation for a Store that is not a Batcher (a test wrapper, for example).
type Batcher interface {
	// Do runs ops as Do describes; the ops have been checked by Do.
	Do(ctx context.Context, ops []Op) error
}

// Do runs ops against st in as few round trips as st allows, and records each one's
// result in it. Each op is atomic on its own, exactly as the single-key method it
// stands for; the batch as a whole is not a transaction (on Redis Cluster its ops may
// even run on different nodes), and no order between its ops is promised, so the ops
// of one batch must work on different keys (a value key and a counter key of one name
// are different keys). A batch costs one round trip on Redis, which is what it is for:
// a caller that needs several independent reads and writes of one request pays the
// network once.
//
// Do returns nil when every op ran, each op's own outcome (ErrNotFound, ErrConflict) in
// its Err. Otherwise it returns an error, wrapping ErrUnavailable for an outage, and
// which ops took effect is unknown, as with a single write whose reply was lost.
func Do(ctx context.Context, st Store, ops []Op) error {
	if err := checkOps(ops); err != nil {
		return err
	}
	if len(ops) == 0 {
		return nil
	}
	if b, ok := st.(Batcher); ok {
		return b.Do(ctx, ops)
	}
	for i := range ops {
		if err := DoOne(ctx, st, &ops[i]); err != nil {
			return err
		}
	}
	return nil
}

// DoOne runs one op through st's single-key method and records its result in op: the
// fallback of Do, and what a Batcher that wraps another store may use. It returns the
// store's failure; ErrNotFound and ErrConflict go to op.Err.
//
// OpZero has no single-key method and is not atomic here: it reads the counter (Incr by
// 0) and subtracts what it read (Incr by -N). An increment landing between the two
// stays counted, two concurrent zeroes may take the counter below zero, and a counter
// that expires between them comes back without an expiry. Both backends are Batchers
// and run OpZero atomically; only a Store that is not one (a test wrapper that does not
// pass batches on) comes here.
func DoOne(ctx context.Context, st Store, op *Op) error {
	var err error
	switch op.Kind {
	case OpGet:
		op.Item, err = st.Get(ctx, op.Key)
	case OpSet:
		op.Rev, err = st.Set(ctx, op.Key, op.Value, op.TTL)
	case OpCAS:
		var rev uint64
		if rev, err = st.CAS(ctx, op.Key, op.Value, op.Rev, op.TTL); err == nil {
			op.Rev = rev
		}
	case OpDelete:
		err = st.Delete(ctx, op.Key)
	case OpIncr:
		op.N, err = st.Incr(ctx, op.Key, op.Delta, op.TTL)
	case OpZero:
		if op.N, err = st.Incr(ctx, op.Key, 0, 0); err == nil && op.N != 0 {
			_, err = st.Incr(ctx, op.Key, -op.N, 0)
		}
	case OpPush:
		var dropped [][]byte
		op.Rev, err = Update(ctx, st, op.Key, func(cur []byte, _ bool) ([]byte, time.Duration, error) {
			next, d, ttl := Push(cur, ListEntry{Expires: op.Expires.UnixMilli(), Member: op.Value}, op.Bound, op.Now)
			dropped = d
			return next, ttl, nil
		})
		op.Dropped = dropped
		if err == nil && op.OwnsKeys {
			err = deleteOwned(ctx, st, op)
		}
	}
	if (op.Kind == OpGet && errors.Is(err, ErrNotFound)) || (op.Kind == OpCAS && errors.Is(err, ErrConflict)) {
		op.Err, err = err, nil
	}
	return err
}

// deleteOwned deletes, one by one, the keys that the members op dropped name: OpPush
// with OwnsKeys on a Store that is not a Batcher. It sets KeysDeleted once all are gone.
func deleteOwned(ctx context.Context, st Store, op *Op) error {
	for _, m := range op.Dropped {
		if k, ok := MemberKey(m); ok {
			if err := st.Delete(ctx, k); err != nil {
				return fmt.Errorf("store: push %q: delete the key of a dropped member: %w", op.Key, err)
			}
		}
	}
	op.KeysDeleted = true
	return nil
}

// checkOps refuses a batch that no backend could run as documented: an unknown kind, a
// negative ttl, or two ops on one key.
func checkOps(ops []Op) error {
	type slot struct {
		counter bool
		key     string
	}
	seen := make(map[slot]bool, len(ops))
	for i := range ops {
		op := &ops[i]
		if op.Kind < OpGet || op.Kind > OpZero {
			return fmt.Errorf("store: batch op %d: unknown kind %d", i, op.Kind)
		}
		if op.Kind == OpPush {
			if err := CheckMember(op.Value); err != nil {
				return fmt.Errorf("store: batch op %d (%s %q): %w", i, op.Kind, op.Key, err)
			}
			if _, ok := MemberKey(op.Value); op.OwnsKeys && !ok {
				return fmt.Errorf("store: batch op %d (%s %q): member %q names no key, which a list that owns keys needs", i, op.Kind, op.Key, op.Value)
			}
			if op.Bound < 1 {
				return fmt.Errorf("store: batch op %d (%s %q): bound %d, want at least 1", i, op.Kind, op.Key, op.Bound)
			}
			op.Dropped, op.KeysDeleted = nil, false
		}
		if err := ValidateTTL(op.TTL); err != nil {
			return fmt.Errorf("store: batch op %d (%s %q): %w", i, op.Kind, op.Key, err)
		}
		s := slot{counter: op.Kind == OpIncr || op.Kind == OpZero, key: op.Key}
		if seen[s] {
			return fmt.Errorf("store: batch op %d (%s %q): a batch may touch each key once", i, op.Kind, op.Key)
		}
		seen[s] = true
		op.Err = nil
	}
	return nil
}

// InOrder is implemented by a Batcher that says whether it applies the ops of a batch in
// their order, so that when an op took effect every op before it did too, whatever Do
// returns: one Redis server reading one pipeline, or the embedded store under its lock.
// A Redis Cluster, which sends each node its share at once, does not.
type InOrder interface {
	// BatchInOrder reports whether batches are applied in order.
	BatchInOrder() bool
}

// BatchesInOrder reports whether st applies a batch's ops in order (see InOrder). A
// Store that is not a Batcher does: Do runs its ops one by one and stops at the first
// failure. A Batcher that does not implement InOrder is taken not to. A caller that
// needs "if the last op took effect, so did the others" (the engine's final write after a
// session's) batches only where this is true.
func BatchesInOrder(st Store) bool {
	if o, ok := st.(InOrder); ok {
		return o.BatchInOrder()
	}
	_, batches := st.(Batcher)
	return !batches
}
