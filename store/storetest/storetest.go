// Package storetest is the conformance suite every store.Store backend must pass.
//
// A backend's tests call Run with a function that opens a fresh, empty store:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openMyStore(t) })
//	}
//
// Each contract point of package store is a subtest. Subtests run in parallel, so the
// open function must be safe for concurrent use. Timing tests use real clocks with
// short TTLs (about a second) and generous deadlines, so the whole suite takes a few
// seconds and stays reliable on a loaded machine.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/store"
)

// ShortTTL is the TTL used by expiry tests: long enough that a loaded machine still
// reads a key before it expires, short enough to keep the suite quick.
const ShortTTL = 1200 * time.Millisecond

// expiryGrace is how long after ShortTTL a key may still be visible before the suite
// calls the expiry broken.
const expiryGrace = 3 * time.Second

// Run runs the conformance suite against the backend that open creates. open must
// return a new store that is empty as far as the calling test can see (a fresh
// instance, a fresh key prefix, or a flushed database), and must be safe to call from
// parallel subtests. Run closes every store it opens, checking the error, so open
// should not register its own Close.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"GetMissing", testGetMissing},
		{"SetGet", testSetGet},
		{"RevisionsIncrement", testRevisionsIncrement},
		{"CASCreateOnly", testCASCreateOnly},
		{"CASStaleRevision", testCASStale},
		{"CASConcurrent", testCASConcurrent},
		{"TTLExpiry", testTTLExpiry},
		{"TTLZeroPersists", testTTLZeroPersists},
		{"NegativeTTL", testNegativeTTL},
		{"Delete", testDelete},
		{"Take", testTake},
		{"TakeConcurrent", testTakeConcurrent},
		{"IncrFromZero", testIncrFromZero},
		{"IncrTTLAtCreation", testIncrTTLAtCreation},
		{"IncrConcurrent", testIncrConcurrent},
		{"CountersSeparateFromValues", testCounterNamespace},
		{"LargeValue", testLargeValue},
		{"BinaryValues", testBinaryValues},
		{"HashTagKeys", testHashTagKeys},
		{"ValuesAreCopied", testValuesAreCopied},
		{"Ping", testPing},
		{"CanceledContext", testCanceledContext},
		{"Closed", testClosed},
		{"UpdateCreates", testUpdateCreates},
		{"UpdateModifies", testUpdateModifies},
		{"UpdateNoChange", testUpdateNoChange},
		{"UpdateFuncError", testUpdateFuncError},
		{"UpdateTTL", testUpdateTTL},
		{"UpdateConcurrent", testUpdateConcurrent},
		{"UpdateCanceledContext", testUpdateCanceled},
		{"BatchClosed", testBatchClosed},
	}
	tests = append(tests, batchTests...)
	tests = append(tests, pushTests...)
	tests = append(tests, zeroTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			if s == nil {
				t.Fatal("open returned a nil store")
			}
			closed := false
			t.Cleanup(func() {
				if closed {
					return
				}
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			if tc.name == "Closed" || tc.name == "BatchClosed" {
				closed = true
			}
			tc.fn(t, s)
		})
	}
}

// BenchGetCAS measures the engine's per-step pattern on s: one Get followed by one CAS
// of a 1 KiB value at the revision read. With parallel set, GOMAXPROCS goroutines do
// the same on keys of their own, which measures throughput rather than latency.
func BenchGetCAS(b *testing.B, s store.Store, parallel bool) {
	ctx := context.Background()
	value := bytes.Repeat([]byte("x"), 1024)
	var next atomic.Int64
	run := func(key string, loop func() bool) {
		if _, err := s.Set(ctx, key, value, time.Hour); err != nil {
			b.Fatalf("Set %q: %v", key, err)
		}
		for loop() {
			item, err := s.Get(ctx, key)
			if err != nil {
				b.Fatalf("Get %q: %v", key, err)
			}
			if _, err := s.CAS(ctx, key, value, item.Rev, time.Hour); err != nil {
				b.Fatalf("CAS %q: %v", key, err)
			}
		}
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(value)))
	if !parallel {
		run("bench:flow:{serial}", b.Loop)
		return
	}
	b.RunParallel(func(pb *testing.PB) {
		run(fmt.Sprintf("bench:flow:{%d}", next.Add(1)), pb.Next)
	})
}

var bg = context.Background()

func mustSet(t *testing.T, s store.Store, key string, value []byte, ttl time.Duration) uint64 {
	t.Helper()
	rev, err := s.Set(bg, key, value, ttl)
	if err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
	return rev
}

func mustGet(t *testing.T, s store.Store, key string) store.Item {
	t.Helper()
	item, err := s.Get(bg, key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return item
}

func wantNotFound(t *testing.T, s store.Store, key string) {
	t.Helper()
	if item, err := s.Get(bg, key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(%q) = %q rev %d, %v; want ErrNotFound", key, item.Value, item.Rev, err)
	}
}

func wantValue(t *testing.T, s store.Store, key string, value []byte, rev uint64) {
	t.Helper()
	item := mustGet(t, s, key)
	if !bytes.Equal(item.Value, value) {
		t.Fatalf("Get(%q) value = %.80q (len %d), want %.80q (len %d)", key, item.Value, len(item.Value), value, len(value))
	}
	if rev != 0 && item.Rev != rev {
		t.Fatalf("Get(%q) rev = %d, want %d", key, item.Rev, rev)
	}
}

// waitGone polls key until Get reports ErrNotFound, and returns how long it took from
// start. It fails the test if the key outlives ttl by more than expiryGrace.
func waitGone(t *testing.T, start time.Time, ttl time.Duration, get func() error) time.Duration {
	t.Helper()
	deadline := start.Add(ttl + expiryGrace)
	for {
		err := get()
		if errors.Is(err, store.ErrNotFound) {
			return time.Since(start)
		}
		if err != nil {
			t.Fatalf("while waiting for expiry: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("key still present %v after it was written with ttl %v", time.Since(start), ttl)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// counterLivesItsTTL waits until each counter at keys, given ShortTTL at start, reads
// zero again, and fails if one did before its ttl.
func counterLivesItsTTL(t *testing.T, s store.Store, start time.Time, keys ...string) {
	t.Helper()
	for _, key := range keys {
		took := waitGone(t, start, ShortTTL, func() error {
			n, err := s.Incr(context.Background(), key, 0, 0)
			if err == nil && n == 0 {
				return store.ErrNotFound
			}
			return err
		})
		if took < ShortTTL-100*time.Millisecond {
			t.Errorf("counter %q reset after %v, before its ttl of %v", key, took, ShortTTL)
		}
	}
}

func testGetMissing(t *testing.T, s store.Store) {
	wantNotFound(t, s, "missing")
	if _, err := s.Take(bg, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Take(missing) = %v, want ErrNotFound", err)
	}
}

func testSetGet(t *testing.T, s store.Store) {
	rev := mustSet(t, s, "k", []byte(`{"a":1}`), 0)
	if rev != 1 {
		t.Fatalf("first Set rev = %d, want 1", rev)
	}
	wantValue(t, s, "k", []byte(`{"a":1}`), 1)
	mustSet(t, s, "k", []byte(`{"a":2}`), time.Hour)
	wantValue(t, s, "k", []byte(`{"a":2}`), 2)
	mustSet(t, s, "empty", []byte{}, 0)
	wantValue(t, s, "empty", nil, 1)
	wantNotFound(t, s, "other")
}

func testRevisionsIncrement(t *testing.T, s store.Store) {
	for want := uint64(1); want <= 5; want++ {
		if rev := mustSet(t, s, "k", []byte("v"+strconv.FormatUint(want, 10)), 0); rev != want {
			t.Fatalf("Set #%d rev = %d, want %d", want, rev, want)
		}
	}
	rev, err := s.CAS(bg, "k", []byte("cas"), 5, 0)
	if err != nil || rev != 6 {
		t.Fatalf("CAS at rev 5 = %d, %v; want 6", rev, err)
	}
	if rev := mustSet(t, s, "k", []byte("again"), 0); rev != 7 {
		t.Fatalf("Set after CAS rev = %d, want 7", rev)
	}
	wantValue(t, s, "k", []byte("again"), 7)
	// Revisions are per key.
	if rev := mustSet(t, s, "k2", []byte("x"), 0); rev != 1 {
		t.Fatalf("first Set of another key rev = %d, want 1", rev)
	}
}

func testCASCreateOnly(t *testing.T, s store.Store) {
	rev, err := s.CAS(bg, "k", []byte("first"), 0, time.Hour)
	if err != nil || rev != 1 {
		t.Fatalf("CAS rev 0 on missing key = %d, %v; want 1", rev, err)
	}
	if _, err := s.CAS(bg, "k", []byte("second"), 0, time.Hour); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CAS rev 0 on existing key = %v, want ErrConflict", err)
	}
	wantValue(t, s, "k", []byte("first"), 1)
}

func testCASStale(t *testing.T, s store.Store) {
	mustSet(t, s, "k", []byte("v1"), 0)
	mustSet(t, s, "k", []byte("v2"), 0)
	for _, stale := range []uint64{1, 3, 100} {
		if _, err := s.CAS(bg, "k", []byte("lost"), stale, 0); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("CAS at rev %d of a key at rev 2 = %v, want ErrConflict", stale, err)
		}
	}
	wantValue(t, s, "k", []byte("v2"), 2)
	if _, err := s.CAS(bg, "missing", []byte("x"), 1, 0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CAS at rev 1 of a missing key = %v, want ErrConflict", err)
	}
	wantNotFound(t, s, "missing")
	if rev, err := s.CAS(bg, "k", []byte("v3"), 2, 0); err != nil || rev != 3 {
		t.Fatalf("CAS at the current rev = %d, %v; want 3", rev, err)
	}
	wantValue(t, s, "k", []byte("v3"), 3)
}

// testCASConcurrent runs read-modify-write loops from many goroutines on one key. Each
// write increments a number in the value; if two writers ever won the same revision an
// increment would be lost and the final number would be short.
func testCASConcurrent(t *testing.T, s store.Store) {
	const workers, winsEach = 16, 8
	mustSet(t, s, "k", []byte("0"), 0)
	var (
		mu      sync.Mutex
		winners = map[uint64]int{} // new revision -> worker
		wg      sync.WaitGroup
		errs    = make(chan error, workers)
	)
	for w := range workers {
		wg.Go(func() {
			for wins := 0; wins < winsEach; {
				item, err := s.Get(bg, "k")
				if err != nil {
					errs <- fmt.Errorf("worker %d: Get: %w", w, err)
					return
				}
				n, err := strconv.Atoi(string(item.Value))
				if err != nil {
					errs <- fmt.Errorf("worker %d: value %q: %w", w, item.Value, err)
					return
				}
				rev, err := s.CAS(bg, "k", []byte(strconv.Itoa(n+1)), item.Rev, 0)
				if errors.Is(err, store.ErrConflict) {
					continue
				}
				if err != nil {
					errs <- fmt.Errorf("worker %d: CAS: %w", w, err)
					return
				}
				if rev != item.Rev+1 {
					errs <- fmt.Errorf("worker %d: CAS at rev %d returned rev %d", w, item.Rev, rev)
					return
				}
				mu.Lock()
				if other, dup := winners[rev]; dup {
					mu.Unlock()
					errs <- fmt.Errorf("workers %d and %d both won revision %d", other, w, rev)
					return
				}
				winners[rev] = w
				mu.Unlock()
				wins++
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	const total = workers * winsEach
	wantValue(t, s, "k", []byte(strconv.Itoa(total)), total+1)
	for rev := uint64(2); rev <= total+1; rev++ {
		if _, ok := winners[rev]; !ok {
			t.Errorf("nobody won revision %d", rev)
		}
	}
}

func testTTLExpiry(t *testing.T, s store.Store) {
	start := time.Now()
	mustSet(t, s, "set", []byte("v"), ShortTTL)
	if _, err := s.CAS(bg, "cas", []byte("v"), 0, ShortTTL); err != nil {
		t.Fatalf("CAS create with ttl: %v", err)
	}
	mustSet(t, s, "take", []byte("v"), ShortTTL)
	// A later write replaces the TTL: this key is rewritten with ShortTTL after having
	// had a long one.
	mustSet(t, s, "shortened", []byte("v"), time.Hour)
	mustSet(t, s, "shortened", []byte("v2"), ShortTTL)
	mustSet(t, s, "long", []byte("v"), time.Hour)

	wantValue(t, s, "set", []byte("v"), 1)
	wantValue(t, s, "cas", []byte("v"), 1)

	for _, key := range []string{"set", "cas", "shortened"} {
		took := waitGone(t, start, ShortTTL, func() error { _, err := s.Get(bg, key); return err })
		// Keys must not vanish early. Allow a little for coarse clocks.
		if took < ShortTTL-100*time.Millisecond {
			t.Errorf("%q expired after %v, before its ttl of %v", key, took, ShortTTL)
		}
	}
	if _, err := s.Take(bg, "take"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Take of an expired key = %v, want ErrNotFound", err)
	}
	wantValue(t, s, "long", []byte("v"), 1)
	// An expired key is gone: rev 0 creates it again.
	if _, err := s.CAS(bg, "set", []byte("again"), 0, 0); err != nil {
		t.Errorf("CAS rev 0 on an expired key: %v", err)
	}
}

func testTTLZeroPersists(t *testing.T, s store.Store) {
	start := time.Now()
	mustSet(t, s, "forever", []byte("v"), 0)
	// A write with ttl 0 removes an earlier TTL, for Set and CAS alike.
	mustSet(t, s, "set-cleared", []byte("v"), ShortTTL)
	mustSet(t, s, "set-cleared", []byte("v2"), 0)
	rev := mustSet(t, s, "cas-cleared", []byte("v"), ShortTTL)
	if _, err := s.CAS(bg, "cas-cleared", []byte("v2"), rev, 0); err != nil {
		t.Fatalf("CAS: %v", err)
	}
	mustSet(t, s, "witness", []byte("v"), ShortTTL)
	waitGone(t, start, ShortTTL, func() error { _, err := s.Get(bg, "witness"); return err })
	wantValue(t, s, "forever", []byte("v"), 1)
	wantValue(t, s, "set-cleared", []byte("v2"), 2)
	wantValue(t, s, "cas-cleared", []byte("v2"), 2)
}

func testNegativeTTL(t *testing.T, s store.Store) {
	check := func(op string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s with a negative ttl succeeded", op)
		} else if errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s with a negative ttl = %v, want a plain input error", op, err)
		}
	}
	_, err := s.Set(bg, "k", []byte("v"), -time.Second)
	check("Set", err)
	_, err = s.CAS(bg, "k", []byte("v"), 0, -1)
	check("CAS", err)
	_, err = s.Incr(bg, "n", 1, -time.Minute)
	check("Incr", err)
	wantNotFound(t, s, "k")
	if n, err := s.Incr(bg, "n", 0, 0); err != nil || n != 0 {
		t.Errorf("counter after a rejected Incr = %d, %v; want 0", n, err)
	}
}

func testDelete(t *testing.T, s store.Store) {
	mustSet(t, s, "k", []byte("v"), time.Hour)
	mustSet(t, s, "kept", []byte("v"), 0)
	if err := s.Delete(bg, "k"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantNotFound(t, s, "k")
	wantValue(t, s, "kept", []byte("v"), 1)
	if err := s.Delete(bg, "k"); err != nil {
		t.Fatalf("Delete of a deleted key: %v", err)
	}
	if err := s.Delete(bg, "never"); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
	rev, err := s.CAS(bg, "k", []byte("new"), 0, 0)
	if err != nil {
		t.Fatalf("CAS rev 0 after Delete: %v", err)
	}
	if _, err := s.CAS(bg, "k", []byte("newer"), rev, 0); err != nil {
		t.Fatalf("CAS at the revision returned after re-creation: %v", err)
	}
}

func testTake(t *testing.T, s store.Store) {
	mustSet(t, s, "k", []byte("token"), time.Hour)
	got, err := s.Take(bg, "k")
	if err != nil || string(got) != "token" {
		t.Fatalf("Take = %q, %v; want token", got, err)
	}
	wantNotFound(t, s, "k")
	if _, err := s.Take(bg, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second Take = %v, want ErrNotFound", err)
	}
	if _, err := s.CAS(bg, "k", []byte("again"), 0, 0); err != nil {
		t.Fatalf("CAS rev 0 after Take: %v", err)
	}
}

func testTakeConcurrent(t *testing.T, s store.Store) {
	const takers, rounds = 32, 10
	for round := range rounds {
		key := fmt.Sprintf("token:%d", round)
		want := []byte(fmt.Sprintf("secret-%d", round))
		mustSet(t, s, key, want, time.Hour)
		var (
			winners atomic.Int32
			wg      sync.WaitGroup
			start   = make(chan struct{})
		)
		for range takers {
			wg.Go(func() {
				<-start
				got, err := s.Take(bg, key)
				switch {
				case err == nil:
					winners.Add(1)
					if !bytes.Equal(got, want) {
						t.Errorf("Take(%q) = %q, want %q", key, got, want)
					}
				case !errors.Is(err, store.ErrNotFound):
					t.Errorf("Take(%q): %v", key, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if n := winners.Load(); n != 1 {
			t.Fatalf("round %d: %d of %d concurrent Takes got the value, want exactly 1", round, n, takers)
		}
	}
}

func testIncrFromZero(t *testing.T, s store.Store) {
	steps := []struct {
		delta, want int64
	}{{0, 0}, {1, 1}, {5, 6}, {-2, 4}, {0, 4}, {-10, -6}}
	for _, st := range steps {
		if n, err := s.Incr(bg, "n", st.delta, 0); err != nil || n != st.want {
			t.Fatalf("Incr(%d) = %d, %v; want %d", st.delta, n, err, st.want)
		}
	}
	if n, err := s.Incr(bg, "other", 0, 0); err != nil || n != 0 {
		t.Fatalf("Incr(0) of a fresh counter = %d, %v; want 0", n, err)
	}
}

func testIncrTTLAtCreation(t *testing.T, s store.Store) {
	start := time.Now()
	if n, err := s.Incr(bg, "n", 1, ShortTTL); err != nil || n != 1 {
		t.Fatalf("Incr creating the counter = %d, %v; want 1", n, err)
	}
	// Later increments keep the expiry set at creation, whatever ttl they pass.
	if n, err := s.Incr(bg, "n", 1, 0); err != nil || n != 2 {
		t.Fatalf("second Incr = %d, %v; want 2", n, err)
	}
	if n, err := s.Incr(bg, "n", 1, time.Hour); err != nil || n != 3 {
		t.Fatalf("third Incr = %d, %v; want 3", n, err)
	}
	// A read with delta 0 of a missing counter must not create it with ttl 0 for ever:
	// check that the counter read this way still expires later when created with a ttl.
	if n, err := s.Incr(bg, "late", 0, 0); err != nil || n != 0 {
		t.Fatalf("Incr(0) of a missing counter = %d, %v; want 0", n, err)
	}
	if _, err := s.Incr(bg, "late", 1, ShortTTL); err != nil {
		t.Fatalf("Incr creating late: %v", err)
	}
	if n, err := s.Incr(bg, "forever", 1, 0); err != nil || n != 1 {
		t.Fatalf("Incr creating forever = %d, %v; want 1", n, err)
	}

	counterLivesItsTTL(t, s, start, "n", "late")
	if n, err := s.Incr(bg, "n", 1, 0); err != nil || n != 1 {
		t.Fatalf("Incr after expiry = %d, %v; want 1 (counting from zero again)", n, err)
	}
	if n, err := s.Incr(bg, "forever", 0, 0); err != nil || n != 1 {
		t.Fatalf("counter created with ttl 0 = %d, %v after the others expired; want 1", n, err)
	}
}

func testIncrConcurrent(t *testing.T, s store.Store) {
	const workers, each = 50, 20
	var wg sync.WaitGroup
	seen := make([]atomic.Bool, workers*each+1)
	for range workers {
		wg.Go(func() {
			for range each {
				n, err := s.Incr(bg, "n", 1, time.Hour)
				if err != nil {
					t.Errorf("Incr: %v", err)
					return
				}
				if n < 1 || n > workers*each || seen[n].Swap(true) {
					t.Errorf("Incr returned %d twice or out of range", n)
				}
			}
		})
	}
	wg.Wait()
	if n, err := s.Incr(bg, "n", 0, 0); err != nil || n != workers*each {
		t.Fatalf("counter after %d increments = %d, %v", workers*each, n, err)
	}
}

func testCounterNamespace(t *testing.T, s store.Store) {
	mustSet(t, s, "x", []byte("value"), 0)
	if n, err := s.Incr(bg, "x", 7, 0); err != nil || n != 7 {
		t.Fatalf("Incr on a name used by a value = %d, %v; want 7", n, err)
	}
	wantValue(t, s, "x", []byte("value"), 1)
	if n, err := s.Incr(bg, "y", 3, 0); err != nil || n != 3 {
		t.Fatalf("Incr(y) = %d, %v", n, err)
	}
	wantNotFound(t, s, "y")
	if _, err := s.Take(bg, "y"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Take of a counter-only name = %v, want ErrNotFound", err)
	}
	if err := s.Delete(bg, "x"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Incr(bg, "x", 0, 0); err != nil || n != 7 {
		t.Fatalf("counter after deleting the value of the same name = %d, %v; want 7", n, err)
	}
	// Backends that put both key spaces in one flat namespace must not let a value key
	// that looks like a counter key alias it.
	for _, k := range []string{"n:x", "c:x", "counter:x", "v:x", ":x"} {
		wantNotFound(t, s, k)
	}
}

func testLargeValue(t *testing.T, s store.Store) {
	big := make([]byte, 256<<10)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	rev := mustSet(t, s, "big", big, time.Hour)
	wantValue(t, s, "big", big, rev)
	big2 := bytes.Clone(big)
	big2[len(big2)-1] ^= 0xff
	rev, err := s.CAS(bg, "big", big2, rev, time.Hour)
	if err != nil {
		t.Fatalf("CAS of a large value: %v", err)
	}
	wantValue(t, s, "big", big2, rev)
	got, err := s.Take(bg, "big")
	if err != nil || !bytes.Equal(got, big2) {
		t.Fatalf("Take of a large value: len %d, %v", len(got), err)
	}
}

func testBinaryValues(t *testing.T, s store.Store) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	values := map[string][]byte{
		"nul":        {0, 0, 0},
		"colons":     []byte(":::"),
		"rev-like":   []byte("12:34:56"),
		"nul-colon":  {'7', ':', 0, ':', 0xff, '\n', '\r'},
		"all-bytes":  all,
		"not-utf8":   {0xc3, 0x28, 0xff, 0xfe},
		"lua-quotes": []byte(`"'\]]--[[`),
	}
	for key, v := range values {
		rev := mustSet(t, s, key, v, 0)
		wantValue(t, s, key, v, rev)
		rev, err := s.CAS(bg, key, append(bytes.Clone(v), 0), rev, 0)
		if err != nil {
			t.Fatalf("CAS %q: %v", key, err)
		}
		wantValue(t, s, key, append(bytes.Clone(v), 0), rev)
		got, err := s.Take(bg, key)
		if err != nil || !bytes.Equal(got, append(bytes.Clone(v), 0)) {
			t.Fatalf("Take %q = %q, %v", key, got, err)
		}
	}
}

func testHashTagKeys(t *testing.T, s store.Store) {
	keys := []string{
		"flow:{abc}", "{abc}:otp", "flow:{abc}:step", "{}", "a{b}c{d}", "{{x}}",
		"flow:{ABC}", "space key", "ünïcödé:{ß}", "trailing:",
	}
	for i, k := range keys {
		if rev := mustSet(t, s, k, []byte(k), 0); rev != 1 {
			t.Fatalf("Set(%q) rev = %d, want 1: the key aliases another", k, rev)
		}
		if n, err := s.Incr(bg, k, int64(i+1), 0); err != nil || n != int64(i+1) {
			t.Fatalf("Incr(%q) = %d, %v; want %d", k, n, err, i+1)
		}
	}
	for i, k := range keys {
		wantValue(t, s, k, []byte(k), 1)
		if _, err := s.CAS(bg, k, []byte("cas:"+k), 1, 0); err != nil {
			t.Fatalf("CAS(%q): %v", k, err)
		}
		if n, err := s.Incr(bg, k, 0, 0); err != nil || n != int64(i+1) {
			t.Fatalf("counter %q = %d, %v; want %d", k, n, err, i+1)
		}
	}
	for _, k := range keys {
		got, err := s.Take(bg, k)
		if err != nil || string(got) != "cas:"+k {
			t.Fatalf("Take(%q) = %q, %v", k, got, err)
		}
	}
}

func testValuesAreCopied(t *testing.T, s store.Store) {
	in := []byte("original")
	mustSet(t, s, "k", in, 0)
	copy(in, "MUTATED!")
	wantValue(t, s, "k", []byte("original"), 1)
	item := mustGet(t, s, "k")
	copy(item.Value, "MUTATED!")
	wantValue(t, s, "k", []byte("original"), 1)

	in = []byte("casvalue")
	if _, err := s.CAS(bg, "k", in, 1, 0); err != nil {
		t.Fatal(err)
	}
	copy(in, "MUTATED!")
	wantValue(t, s, "k", []byte("casvalue"), 2)
}

func testPing(t *testing.T, s store.Store) {
	if err := s.Ping(bg); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testCanceledContext(t *testing.T, s store.Store) {
	mustSet(t, s, "k", []byte("v"), 0)
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if _, err := s.Get(ctx, "k"); err == nil {
		t.Error("Get with a canceled context succeeded")
	}
	if _, err := s.Set(ctx, "k", []byte("w"), 0); err == nil {
		t.Error("Set with a canceled context succeeded")
	}
	if _, err := s.CAS(ctx, "k", []byte("w"), 1, 0); err == nil {
		t.Error("CAS with a canceled context succeeded")
	}
	if _, err := s.Take(ctx, "k"); err == nil {
		t.Error("Take with a canceled context succeeded")
	}
	if _, err := s.Incr(ctx, "n", 1, 0); err == nil {
		t.Error("Incr with a canceled context succeeded")
	}
	if err := s.Delete(ctx, "k"); err == nil {
		t.Error("Delete with a canceled context succeeded")
	}
	wantValue(t, s, "k", []byte("v"), 1)
	if n, err := s.Incr(bg, "n", 0, 0); err != nil || n != 0 {
		t.Errorf("counter after a canceled Incr = %d, %v; want 0", n, err)
	}
}

func testClosed(t *testing.T, s store.Store) {
	mustSet(t, s, "k", []byte("v"), 0)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s after Close = %v, want ErrUnavailable", op, err)
		}
	}
	_, err := s.Get(bg, "k")
	check("Get", err)
	_, err = s.Set(bg, "k", []byte("v"), 0)
	check("Set", err)
	_, err = s.CAS(bg, "k", []byte("v"), 1, 0)
	check("CAS", err)
	check("Delete", s.Delete(bg, "k"))
	_, err = s.Take(bg, "k")
	check("Take", err)
	_, err = s.Incr(bg, "n", 1, 0)
	check("Incr", err)
	check("Ping", s.Ping(bg))
	check("second Close", s.Close())
}
