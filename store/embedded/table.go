package embedded

import (
	"hash/maphash"
	"iter"
	"math/bits"
	"strings"
	"sync"
	"unsafe"
)

// table holds the value keys in memory in a layout the garbage collector has nothing
// to follow in: every key and value is copied into a few large byte chunks (an arena),
// and the index maps a 64-bit hash of the key to a slot of offsets, so neither the
// index's map nor the chunks contain pointers. With a pointer per key and per value
// (a map[string]entry), every collection had to visit every live session and flow,
// which made the collector a fifth of a login's CPU once many sessions were live; now
// a collection's cost no longer grows with the keys held.
//
// The arena is append-only: overwriting or deleting a key leaves its old bytes as
// garbage, and once the garbage exceeds both the live bytes and arenaMinRebuild the
// live keys are copied into fresh chunks (a rebuild, linear in the live bytes, so its
// cost per written byte is constant). The arena thus holds at most about twice the
// live bytes.
//
// Two live keys whose hashes are equal cannot share the index: the second one goes to
// others, an ordinary map checked only when it is not empty. With a 64-bit seeded hash
// this is vanishingly rare; it exists so that a collision costs speed, never data.
//
// A table is not safe for concurrent use; the Store's lock guards it. The values it
// returns alias its arena: they stay valid only until the next put, del or sweep, so
// callers copy what they keep.
type table struct {
	seed  maphash.Seed
	hash  func(string) uint64 // nil: maphash with seed; tests set it to force collisions
	index map[uint64]slot
	// others holds the keys whose hash another live key has in index, values owned.
	others map[string]entry
	chunks [][]byte
	used   int64 // arena bytes of live slots
	total  int64 // arena bytes written since the last rebuild, wasted chunk tails included
}

// slot locates a key and its value, stored back to back in chunk chunks[chunk] at
// off, and carries the entry's other fields.
type slot struct {
	chunk, off, klen, vlen uint32
	rev                    uint64
	exp                    int64
}

// Arena sizing, variables so that tests can shrink them.
var (
	// arenaFirstChunk and arenaMaxChunk bound the chunk sizes: chunks double from the
	// first to the max, so an empty store costs little and a full one few chunks. A
	// value larger than the max gets a chunk of its own size.
	arenaFirstChunk = 4 << 10
	arenaMaxChunk   = 1 << 20
	// arenaMinRebuild is the garbage below which the arena is never rebuilt.
	arenaMinRebuild int64 = 1 << 20
)

func newTable() *table {
	return &table{seed: maphash.MakeSeed(), index: map[uint64]slot{}}
}

func (t *table) sum(key string) uint64 {
	if t.hash != nil {
		return t.hash(key)
	}
	return maphash.String(t.seed, key)
}

// len returns the number of keys held, expired ones not yet swept included.
func (t *table) len() int { return len(t.index) + len(t.others) }

// keyIs reports whether slot s holds key.
func (t *table) keyIs(s slot, key string) bool {
	return string(t.chunks[s.chunk][s.off:s.off+s.klen]) == key
}

// entryOf returns s's entry, its value aliasing the arena.
func (t *table) entryOf(s slot) entry {
	start := s.off + s.klen
	return entry{value: t.chunks[s.chunk][start : start+s.vlen : start+s.vlen], rev: s.rev, exp: s.exp}
}

// get returns key's entry, expired or not; its value aliases the arena.
func (t *table) get(key string) (entry, bool) {
	if s, ok := t.index[t.sum(key)]; ok && t.keyIs(s, key) {
		return t.entryOf(s), true
	}
	if len(t.others) > 0 {
		e, ok := t.others[key]
		return e, ok
	}
	return entry{}, false
}

// put stores e under key, copying its value, and returns the entry key held before.
// That entry's value is good for its length only (the Store's byte count): put may
// have rebuilt the arena, and the bytes it points to may already be reused.
func (t *table) put(key string, e entry) (prev entry, had bool) {
	h := t.sum(key)
	s, taken := t.index[h]
	switch {
	case taken && t.keyIs(s, key):
		prev = t.entryOf(s)
		t.used -= int64(s.klen + s.vlen)
		t.index[h] = t.store(key, e)
		t.maybeRebuild()
		return prev, true
	case t.inOthers(key):
		prev = t.others[key]
		// A map overwriting a string key stores the new key too: it must be a copy.
		t.others[strings.Clone(key)] = entry{value: clone(e.value), rev: e.rev, exp: e.exp}
		return prev, true
	case !taken:
		t.index[h] = t.store(key, e)
	default:
		if t.others == nil {
			t.others = map[string]entry{}
		}
		t.others[strings.Clone(key)] = entry{value: clone(e.value), rev: e.rev, exp: e.exp}
	}
	return entry{}, false
}

func (t *table) inOthers(key string) bool {
	if len(t.others) == 0 {
		return false
	}
	_, ok := t.others[key]
	return ok
}

// del removes key and returns the entry it held, if it was there; the entry's value
// is good for its length only, as put's.
func (t *table) del(key string) (prev entry, had bool) {
	h := t.sum(key)
	if s, ok := t.index[h]; ok && t.keyIs(s, key) {
		prev = t.entryOf(s)
		t.drop(h, s)
		t.maybeRebuild()
		return prev, true
	}
	if t.inOthers(key) {
		prev = t.others[key]
		delete(t.others, key)
		return prev, true
	}
	return entry{}, false
}

// drop removes the index slot s under hash h.
func (t *table) drop(h uint64, s slot) {
	delete(t.index, h)
	t.used -= int64(s.klen + s.vlen)
}

// all yields every key and entry, expired ones included. The key and value alias the
// arena and are valid during the call only; the table must not change meanwhile.
func (t *table) all() iter.Seq2[string, entry] {
	return func(yield func(string, entry) bool) {
		for _, s := range t.index {
			if !yield(t.keyView(s), t.entryOf(s)) {
				return
			}
		}
		for k, e := range t.others {
			if !yield(k, e) {
				return
			}
		}
	}
}

// keyView returns s's key as a string that aliases the arena, without a copy: the
// arena's bytes of a slot never change while the slot is live.
func (t *table) keyView(s slot) string {
	return view(t.chunks[s.chunk][s.off : s.off+s.klen])
}

// view returns b's bytes as a string without a copy; b must not change while the
// string is in use.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// sweep removes the keys expired at nowNano, calling gone with each before it goes
// (its arguments valid during the call only).
func (t *table) sweep(nowNano int64, gone func(string, entry)) {
	for h, s := range t.index {
		if expired(s.exp, nowNano) {
			gone(t.keyView(s), t.entryOf(s))
			t.drop(h, s)
		}
	}
	for k, e := range t.others {
		if expired(e.exp, nowNano) {
			gone(k, e)
			delete(t.others, k)
		}
	}
	t.maybeRebuild()
}

// store copies key and e's value into the arena and returns their slot.
func (t *table) store(key string, e entry) slot {
	n := len(key) + len(e.value)
	last := len(t.chunks) - 1
	if last < 0 || cap(t.chunks[last])-len(t.chunks[last]) < n {
		size := arenaFirstChunk
		if last >= 0 {
			t.total += int64(cap(t.chunks[last]) - len(t.chunks[last]))
			size = min(2*cap(t.chunks[last]), arenaMaxChunk)
		}
		t.chunks = append(t.chunks, newChunk(max(size, n)))
		last++
	}
	c := t.chunks[last]
	s := slot{chunk: uint32(last), off: uint32(len(c)), klen: uint32(len(key)), vlen: uint32(len(e.value)), rev: e.rev, exp: e.exp}
	c = append(c, key...)
	t.chunks[last] = append(c, e.value...)
	t.used += int64(n)
	t.total += int64(n)
	return s
}

// maybeRebuild copies the live slots into fresh chunks once the garbage exceeds both
// the live bytes and arenaMinRebuild.
func (t *table) maybeRebuild() {
	garbage := t.total - t.used
	if garbage <= t.used || garbage < arenaMinRebuild {
		return
	}
	old := t.chunks
	t.chunks, t.used, t.total = nil, 0, 0
	for h, s := range t.index {
		start := s.off
		kv := old[s.chunk][start : start+s.klen+s.vlen]
		t.index[h] = t.store(view(kv[:s.klen]), entry{value: kv[s.klen:], rev: s.rev, exp: s.exp})
	}
	// No slot points into the old chunks any more, and the values the table handed
	// out were to be copied before this put or del: the next rebuild, of this table or
	// another, may write over them.
	for _, c := range old {
		freeChunk(c)
	}
}

// chunkPools hold the arena chunks rebuilds have let go, by size (bits.Len of a
// power-of-two capacity), for the next chunks a table needs. Without them every
// rebuild allocated a whole new arena: with a few sessions live and the arena rebuilt
// every megabyte written, the chunks were 80 % of the bytes the embedded store
// allocated per login (BenchmarkLoginBatches) and 6 % of a whole login's. A pool
// rather than a free list of the table's own: chunks nobody takes within two
// collections go back to the runtime, so a large store does not hold a spare arena.
var chunkPools [40]sync.Pool

// newChunk returns an empty chunk of capacity size, reused from a rebuild if one is
// pooled. Its bytes beyond its length are stale, and the table never reads them.
func newChunk(size int) []byte {
	if i, ok := chunkClass(size); ok {
		if p, _ := chunkPools[i].Get().(*[]byte); p != nil {
			return (*p)[:0]
		}
	}
	return make([]byte, 0, size)
}

// freeChunk pools c for newChunk once nothing refers to it.
func freeChunk(c []byte) {
	if i, ok := chunkClass(cap(c)); ok {
		c = c[:0]
		chunkPools[i].Put(&c)
	}
}

// chunkClass returns the pool of chunks of capacity size: only powers of two, the
// sizes the doubling from arenaFirstChunk gives, are pooled.
func chunkClass(size int) (int, bool) {
	i := bits.Len(uint(size))
	return i, size > 0 && size&(size-1) == 0 && i < len(chunkPools)
}
