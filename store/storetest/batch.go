package storetest

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/store"
)

// batchTests are the contract points of store.Do, run by Run.
var batchTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"BatchEveryKind", testBatchEveryKind},
	{"BatchOneKeyOnce", testBatchOneKeyOnce},
	{"BatchTTL", testBatchTTL},
	{"BatchConcurrent", testBatchConcurrent},
	{"BatchEmpty", testBatchEmpty},
}

// testBatchEveryKind runs one batch of every kind of op, with the outcomes each can
// have, and checks each result against what the single-key methods then read.
func testBatchEveryKind(t *testing.T, s store.Store) {
	mustSet(t, s, "{a}get", []byte("v1"), 0)
	rev := mustSet(t, s, "{b}cas", []byte("old"), 0)
	mustSet(t, s, "{c}stale", []byte("keep"), 0)
	mustSet(t, s, "{d}delete", []byte("x"), 0)
	mustSet(t, s, "{e}set", []byte("before"), 0)
	if _, err := s.Incr(bg, "{f}n", 5, 0); err != nil {
		t.Fatal(err)
	}
	ops := []store.Op{
		store.GetOp("{a}get"),
		store.GetOp("{g}missing"),
		store.SetOp("{e}set", []byte("after"), 0),
		store.CASOp("{b}cas", []byte("new"), rev, 0),
		store.CASOp("{h}create", []byte("created"), 0, 0),
		store.CASOp("{c}stale", []byte("lost"), 7, 0),
		store.DeleteOp("{d}delete"),
		store.DeleteOp("{i}never"),
		store.IncrOp("{f}n", 2, 0),
		store.IncrOp("{j}read", 0, 0),
		store.IncrOp("{k}fresh", -3, time.Hour),
		store.GetOp("{f}n"), // a value key: counters are a separate key space
	}
	if err := store.Do(bg, s, ops); err != nil {
		t.Fatalf("Do: %v", err)
	}
	check := func(i int, wantErr error) {
		t.Helper()
		if !errors.Is(ops[i].Err, wantErr) || (wantErr == nil && ops[i].Err != nil) {
			t.Errorf("op %d (%s %q): Err = %v, want %v", i, ops[i].Kind, ops[i].Key, ops[i].Err, wantErr)
		}
	}
	check(0, nil)
	if string(ops[0].Item.Value) != "v1" || ops[0].Item.Rev != 1 {
		t.Errorf("batched Get = %q rev %d, want \"v1\" rev 1", ops[0].Item.Value, ops[0].Item.Rev)
	}
	check(1, store.ErrNotFound)
	check(2, nil)
	if ops[2].Rev != 2 {
		t.Errorf("batched Set returned revision %d, want 2", ops[2].Rev)
	}
	check(3, nil)
	if ops[3].Rev != rev+1 {
		t.Errorf("batched CAS returned revision %d, want %d", ops[3].Rev, rev+1)
	}
	check(4, nil)
	if ops[4].Rev != 1 {
		t.Errorf("batched CAS create returned revision %d, want 1", ops[4].Rev)
	}
	check(5, store.ErrConflict)
	check(6, nil)
	check(7, nil)
	if ops[8].N != 7 {
		t.Errorf("batched Incr = %d, want 7", ops[8].N)
	}
	if ops[9].N != 0 {
		t.Errorf("batched Incr 0 of a missing counter = %d, want 0", ops[9].N)
	}
	if ops[10].N != -3 {
		t.Errorf("batched Incr creating a counter = %d, want -3", ops[10].N)
	}
	check(11, store.ErrNotFound)

	wantValue(t, s, "{e}set", []byte("after"), 2)
	wantValue(t, s, "{b}cas", []byte("new"), rev+1)
	wantValue(t, s, "{h}create", []byte("created"), 1)
	wantValue(t, s, "{c}stale", []byte("keep"), 1)
	wantNotFound(t, s, "{d}delete")
	for key, want := range map[string]int64{"{f}n": 7, "{j}read": 0, "{k}fresh": -3} {
		if n, err := s.Incr(bg, key, 0, 0); err != nil || n != want {
			t.Errorf("counter %q after the batch = %d, %v; want %d", key, n, err, want)
		}
	}
	// The read of a missing counter created nothing: a later Incr gives it its ttl.
	if n, err := s.Incr(bg, "{j}read", 1, time.Hour); err != nil || n != 1 {
		t.Errorf("Incr after a batched read = %d, %v; want 1", n, err)
	}
}

// testBatchOneKeyOnce checks that a batch touching a key twice is refused whole, and
// that a bad ttl refuses it too, with nothing written.
func testBatchOneKeyOnce(t *testing.T, s store.Store) {
	for name, ops := range map[string][]store.Op{
		"same value key": {store.SetOp("k", []byte("a"), 0), store.GetOp("x"), store.CASOp("k", []byte("b"), 0, 0)},
		"same counter":   {store.IncrOp("n", 1, 0), store.IncrOp("n", 1, 0)},
		"negative ttl":   {store.SetOp("k", []byte("a"), 0), store.IncrOp("n", 1, -time.Second)},
	} {
		if err := store.Do(bg, s, ops); err == nil {
			t.Errorf("%s: Do accepted the batch", name)
		}
	}
	wantNotFound(t, s, "k")
	if n, err := s.Incr(bg, "n", 0, 0); err != nil || n != 0 {
		t.Errorf("counter after refused batches = %d, %v; want 0", n, err)
	}
	// A value key and a counter of one name are different keys.
	if err := store.Do(bg, s, []store.Op{store.SetOp("k", []byte("a"), 0), store.IncrOp("k", 1, 0)}); err != nil {
		t.Errorf("a value and a counter of one name: %v", err)
	}
}

// testBatchTTL checks that batched writes expire like single ones: Set and CAS with
// their ttl, a creating Incr with its ttl, an existing counter keeping its expiry.
func testBatchTTL(t *testing.T, s store.Store) {
	start := time.Now()
	if _, err := s.Incr(bg, "kept", 1, ShortTTL); err != nil {
		t.Fatal(err)
	}
	ops := []store.Op{
		store.SetOp("set", []byte("v"), ShortTTL),
		store.CASOp("cas", []byte("v"), 0, ShortTTL),
		store.IncrOp("created", 1, ShortTTL),
		store.IncrOp("kept", 1, time.Hour),
		store.SetOp("long", []byte("v"), time.Hour),
	}
	if err := store.Do(bg, s, ops); err != nil {
		t.Fatalf("Do: %v", err)
	}
	for _, key := range []string{"set", "cas"} {
		waitGone(t, start, ShortTTL, func() error { _, err := s.Get(bg, key); return err })
	}
	for _, key := range []string{"created", "kept"} {
		waitGone(t, start, ShortTTL, func() error {
			n, err := s.Incr(bg, key, 0, 0)
			if err == nil && n == 0 {
				return store.ErrNotFound
			}
			return err
		})
	}
	wantValue(t, s, "long", []byte("v"), 1)
}

// testBatchConcurrent runs batches at once: every increment counts, and of the CAS
// creations of one key exactly one wins.
func testBatchConcurrent(t *testing.T, s store.Store) {
	const n = 16
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ops := []store.Op{
				store.IncrOp("count", 1, time.Hour),
				store.CASOp("once", []byte(strconv.Itoa(i)), 0, time.Hour),
				store.SetOp("own"+strconv.Itoa(i), []byte("v"), time.Hour),
			}
			if err := store.Do(bg, s, ops); err != nil {
				t.Error(err)
				return
			}
			if ops[1].Err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !errors.Is(ops[1].Err, store.ErrConflict) {
				t.Errorf("losing CAS: %v, want ErrConflict", ops[1].Err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d of %d concurrent batched CAS creations won, want 1", wins, n)
	}
	if c, err := s.Incr(bg, "count", 0, 0); err != nil || c != n {
		t.Errorf("counter after %d batches = %d, %v", n, c, err)
	}
	for i := range n {
		wantValue(t, s, "own"+strconv.Itoa(i), []byte("v"), 1)
	}
}

// testBatchEmpty checks that an empty batch is no call and no error.
func testBatchEmpty(t *testing.T, s store.Store) {
	if err := store.Do(bg, s, nil); err != nil {
		t.Errorf("empty batch: %v", err)
	}
}

// testBatchClosed checks that a batch on a closed store fails as unavailable.
func testBatchClosed(t *testing.T, s store.Store) {
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	err := store.Do(bg, s, []store.Op{store.GetOp("k"), store.IncrOp("n", 1, 0)})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Do after Close = %v, want ErrUnavailable", err)
	}
}
