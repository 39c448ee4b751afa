package storetest

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/store"
)

// zeroTests are the contract points of store.OpZero, run by Run.
var zeroTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"ZeroCases", testZeroCases},
	{"ZeroKeepsExpiry", testZeroKeepsExpiry},
	{"ZeroConcurrent", testZeroConcurrent},
	{"ZeroInBatch", testZeroInBatch},
}

// zero runs one OpZero of key in a batch of its own and returns what it reported.
func zero(t *testing.T, s store.Store, key string) int64 {
	t.Helper()
	ops := []store.Op{store.ZeroOp(key)}
	if err := store.Do(bg, s, ops); err != nil {
		t.Fatalf("Zero %q: %v", key, err)
	}
	return ops[0].N
}

// counter reads the counter at key.
func counter(t *testing.T, s store.Store, key string) int64 {
	t.Helper()
	n, err := s.Incr(bg, key, 0, 0)
	if err != nil {
		t.Fatalf("Incr(0) %q: %v", key, err)
	}
	return n
}

// testZeroCases zeroes a live counter, a negative one, one already at zero and a
// missing one, and checks what each reports and leaves.
func testZeroCases(t *testing.T, s store.Store) {
	for _, tc := range []struct {
		name  string
		start []int64 // increments before the zero; none: the counter is missing
		want  int64   // what the zero reports
	}{
		{name: "live", start: []int64{3, 4}, want: 7},
		{name: "negative", start: []int64{-2}, want: -2},
		{name: "at zero", start: []int64{5, -5}, want: 0},
		{name: "missing", want: 0},
	} {
		key := "{zero}" + strings.ReplaceAll(tc.name, " ", "-")
		for _, d := range tc.start {
			if _, err := s.Incr(bg, key, d, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		if got := zero(t, s, key); got != tc.want {
			t.Errorf("%s: Zero reported %d, want %d", tc.name, got, tc.want)
		}
		if got := counter(t, s, key); got != 0 {
			t.Errorf("%s: counter after Zero = %d, want 0", tc.name, got)
		}
		if got := zero(t, s, key); got != 0 {
			t.Errorf("%s: a second Zero reported %d, want 0", tc.name, got)
		}
		if n, err := s.Incr(bg, key, 1, time.Hour); err != nil || n != 1 {
			t.Errorf("%s: Incr after Zero = %d, %v; want 1 (counting from zero)", tc.name, n, err)
		}
	}
}

// testZeroKeepsExpiry checks that a zeroed counter keeps the expiry it was created
// with, and that a missing counter is not created by a zero: a zero of it that created
// it without an expiry would make the counter created after it live for ever.
func testZeroKeepsExpiry(t *testing.T, s store.Store) {
	start := time.Now()
	if _, err := s.Incr(bg, "{z}live", 4, ShortTTL); err != nil {
		t.Fatal(err)
	}
	if got := zero(t, s, "{z}live"); got != 4 {
		t.Fatalf("Zero reported %d, want 4", got)
	}
	if got := zero(t, s, "{z}absent"); got != 0 {
		t.Fatalf("Zero of a missing counter reported %d, want 0", got)
	}
	for _, key := range []string{"{z}live", "{z}absent"} {
		// Incr with a ttl: it keeps the live counter's expiry and gives the missing one
		// its own, which only holds if the zero did not create it.
		if n, err := s.Incr(bg, key, 1, ShortTTL); err != nil || n != 1 {
			t.Fatalf("Incr of %q after Zero = %d, %v; want 1", key, n, err)
		}
	}
	counterLivesItsTTL(t, s, start, "{z}live", "{z}absent")
}

// testZeroConcurrent increments a counter from many goroutines while another zeroes it
// over and over: no increment may be lost but those a zero cleared, and each zero
// reports exactly the ones it cleared.
func testZeroConcurrent(t *testing.T, s store.Store) {
	const workers, each = 20, 25
	var (
		wg     sync.WaitGroup
		zeroed atomic.Int64
		done   = make(chan struct{})
	)
	for range workers {
		wg.Go(func() {
			for range each {
				if _, err := s.Incr(bg, "{zc}n", 1, time.Hour); err != nil {
					t.Errorf("Incr: %v", err)
					return
				}
			}
		})
	}
	var zeroes sync.WaitGroup
	zeroes.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			ops := []store.Op{store.ZeroOp("{zc}n")}
			if err := store.Do(bg, s, ops); err != nil {
				t.Errorf("Zero: %v", err)
				return
			}
			if ops[0].N < 0 {
				t.Errorf("Zero reported %d: only increments ran", ops[0].N)
			}
			zeroed.Add(ops[0].N)
		}
	})
	wg.Wait()
	close(done)
	zeroes.Wait()
	if got, want := zeroed.Load()+counter(t, s, "{zc}n"), int64(workers*each); got != want {
		t.Fatalf("cleared by zeroes plus left = %d, want the %d increments made", got, want)
	}
}

// testZeroInBatch runs zeroes in one batch with other kinds of op, a value key of the
// same name among them (counters are a key space of their own), and checks that a
// batch may not both zero and increment one counter.
func testZeroInBatch(t *testing.T, s store.Store) {
	if _, err := s.Incr(bg, "{zb1}n", 6, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Incr(bg, "{zb2}m", 2, time.Hour); err != nil {
		t.Fatal(err)
	}
	mustSet(t, s, "{zb1}n", []byte("value"), 0)
	ops := []store.Op{
		store.ZeroOp("{zb1}n"),
		store.GetOp("{zb1}n"),
		store.IncrOp("{zb2}m", -1, time.Hour),
		store.ZeroOp("{zb3}none"),
		store.SetOp("{zb4}v", []byte("x"), 0),
	}
	if err := store.Do(bg, s, ops); err != nil {
		t.Fatalf("Do: %v", err)
	}
	if ops[0].N != 6 || ops[2].N != 1 || ops[3].N != 0 {
		t.Errorf("Zero, Incr, Zero of missing reported %d, %d, %d; want 6, 1, 0", ops[0].N, ops[2].N, ops[3].N)
	}
	if ops[1].Err != nil || string(ops[1].Item.Value) != "value" {
		t.Errorf("Get of the value key of the zeroed counter's name = %q, %v; want it untouched", ops[1].Item.Value, ops[1].Err)
	}
	if got := counter(t, s, "{zb1}n"); got != 0 {
		t.Errorf("zeroed counter = %d, want 0", got)
	}
	wantValue(t, s, "{zb4}v", []byte("x"), 1)
	bad := []store.Op{store.ZeroOp("{zb2}m"), store.IncrOp("{zb2}m", 1, 0)}
	if err := store.Do(bg, s, bad); err == nil {
		t.Errorf("a batch that zeroes and increments one counter ran")
	}
	if got := counter(t, s, "{zb2}m"); got != 1 {
		t.Errorf("counter after a refused batch = %d, want 1 (unchanged)", got)
	}
}
