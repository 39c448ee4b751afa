package nodes

import (
	"context"
	"fmt"

	"github.com/arbor-auth/arbor/store"
)

// WriteBehind holds the store writes that the nodes of one request leave to the flow's
// next write: the engine sends them in the batch that saves the flow (it asks for input)
// or finishes it (with the success hook's commit), so they cost no round trip of their
// own. The guessing defence's record of a right secret is one (see DeferringGuard).
//
// A writer defers only writes that are right whenever they land and whatever the
// flow's write does: they are sent whether that write wins or loses the race to a
// concurrent submission of the same step, and when the store fails or the walk ends in
// an error, which of them took effect is unknown, or none did. Only one request's walk
// uses a WriteBehind, from one goroutine.
type WriteBehind struct {
	st  store.Store
	ops []store.Op
}

// NewWriteBehind returns an empty WriteBehind whose writes go to st when Flush is
// called (see Flush).
func NewWriteBehind(st store.Store) *WriteBehind { return &WriteBehind{st: st} }

// Defer adds ops, to be written with the flow's next write. The ops must not touch a
// key an op already held touches (store.Do runs them in one batch); a writer that may
// touch a key twice in one request calls Flush before it reads that key again.
func (w *WriteBehind) Defer(ops []store.Op) {
	if w.ops == nil {
		// The usual single writer: its slice is kept as it is, so that room it leaves
		// serves the batch its writes ride in (the guessing defence leaves room for the
		// flow's end: engine's finishWrite appends there without copying).
		w.ops = ops
		return
	}
	w.ops = append(w.ops, ops...)
}

// Pending reports whether writes are held; a nil WriteBehind holds none.
func (w *WriteBehind) Pending() bool { return w != nil && len(w.ops) > 0 }

// Ops returns the held writes, for the caller's batch, which may append to it and
// record results in it.
func (w *WriteBehind) Ops() []store.Op {
	if w == nil {
		return nil
	}
	return w.ops
}

// Flush writes the held writes now, in one batch, and forgets them: for a node that is
// about to read what a held write changes (a second secret checked in one request), so
// that it reads the store as the held writes leave it, and for a flow's write that
// cannot carry them (see engine's saveBehind).
func (w *WriteBehind) Flush(ctx context.Context) error {
	if !w.Pending() {
		return nil
	}
	ops := w.ops
	w.ops = nil
	if err := store.Do(ctx, w.st, ops); err != nil {
		return fmt.Errorf("write the deferred writes: %w", err)
	}
	return nil
}

// ReadAhead is a read that a door wants made, within one request, of the user whose
// secret a node checks, in the store batch that counts the attempt (see
// CheckSecretWith), so that it costs no round trip of its own: the door core's read of
// the user's enrolled second factors, which it needs once the flow succeeds. Only one
// request's walk and its success hook use a ReadAhead, from one goroutine, so what it
// holds was always read in that request.
type ReadAhead struct {
	// Read returns the read to make for user in realm, or false for none.
	Read func(realm, user string) (store.Op, bool)
	done []store.Op
}

// batch returns a new batch of have and the reads to add for user in realm (none for a
// nil ReadAhead). A read have makes already is not added again (a batch touches each
// key once): record keeps its result as well.
func (r *ReadAhead) batch(realm, user string, have []store.Op) []store.Op {
	all := make([]store.Op, len(have), len(have)+1)
	copy(all, have)
	if r == nil || r.Read == nil {
		return all
	}
	op, ok := r.Read(realm, user)
	if !ok {
		return all
	}
	for _, h := range have {
		if h.Key == op.Key && h.Kind == store.OpGet {
			return all
		}
	}
	return append(all, op)
}

// record keeps the results of the reads of a batch that ran; it keeps ops.
func (r *ReadAhead) record(ops []store.Op) {
	switch {
	case r == nil:
	case r.done == nil:
		r.done = ops
	default:
		r.done = append(r.done, ops...)
	}
}

// Result returns the latest read of key made ahead in this request, with its outcome
// in Item and Err, or false when none was made (nothing checked a secret, or the batch
// failed): the caller then reads for itself.
func (r *ReadAhead) Result(key string) (store.Op, bool) {
	if r == nil {
		return store.Op{}, false
	}
	for i := len(r.done) - 1; i >= 0; i-- {
		if r.done[i].Key == key && r.done[i].Kind == store.OpGet {
			return r.done[i], true
		}
	}
	return store.Op{}, false
}
