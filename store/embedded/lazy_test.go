package embedded

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/internal/testwait"
	"github.com/arbor-auth/arbor/store"
)

// dataSize returns the size of the data file in dir.
func dataSize(t *testing.T, dir string) int64 {
	t.Helper()
	info, err := os.Stat(filepath.Join(dir, DataFile))
	if err != nil {
		t.Fatal(err)
	}
	return info.Size()
}

// crashCopy opens a copy of the data file in dir as it is now, which is what a
// process killed at this moment would leave behind, and returns the counter at key
// in it.
func crashCopy(t *testing.T, dir, key string) int64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, DataFile))
	if err != nil {
		t.Fatal(err)
	}
	cp := t.TempDir()
	if err := os.WriteFile(filepath.Join(cp, DataFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	s := open(t, Options{Dir: cp})
	defer mustClose(t, s)
	return must[int64](t)(s.Incr(ctx, key, 0, 0))
}

// TestLazyThrottleWrites checks that a batch writing only the throttle's counters
// leaves the data file as it is until the next write carries its record, under the
// modes that allow it, and that SyncAll writes it at once.
func TestLazyThrottleWrites(t *testing.T) {
	const key = "throttle:{pair}:n:1"
	for _, tc := range []struct {
		mode SyncMode
		lazy bool
	}{{SyncAccounts, true}, {SyncNone, true}, {SyncAll, false}} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, Options{Dir: dir, Sync: tc.mode})
			defer mustClose(t, s)
			before := dataSize(t, dir)
			if err := s.Do(ctx, []store.Op{store.GetOp("user:x"), store.IncrOp(key, 1, time.Hour)}); err != nil {
				t.Fatal(err)
			}
			wantCounter(t, s, key, 1)
			if grew := dataSize(t, dir) > before; grew == tc.lazy {
				t.Fatalf("data file grew: %v, want %v", grew, !tc.lazy)
			}
			if n, want := crashCopy(t, dir, key), map[bool]int64{true: 0, false: 1}[tc.lazy]; n != want {
				t.Fatalf("counter after a crash now = %d, want %d", n, want)
			}

			// The next write that is not lazy carries the counter's record with its own.
			if err := s.Do(ctx, []store.Op{store.SetOp("flow:f", []byte("v"), time.Hour), store.IncrOp(key, 1, time.Hour)}); err != nil {
				t.Fatal(err)
			}
			if n := crashCopy(t, dir, key); n != 2 {
				t.Fatalf("counter after a crash following a flow write = %d, want 2", n)
			}
		})
	}
}

// TestLazyFlushedWithoutOtherWrites checks that a lazy record reaches the data file by
// itself when no other write comes, through Incr as through Do.
func TestLazyFlushedWithoutOtherWrites(t *testing.T) {
	const key = "throttle:{addr}:n:7"
	dir := t.TempDir()
	s := open(t, Options{Dir: dir})
	defer mustClose(t, s)
	before := dataSize(t, dir)
	must[int64](t)(s.Incr(ctx, key, 3, time.Hour))
	testwait.Until(t, "the lazy record reaches the data file", func() bool { return dataSize(t, dir) > before })
	if n := crashCopy(t, dir, key); n != 3 {
		t.Fatalf("counter after a crash = %d, want 3", n)
	}
}

// TestCloseWritesLazyRecords checks that Close keeps lazy writes, and that the
// timer firing after Close does no harm.
func TestCloseWritesLazyRecords(t *testing.T) {
	const key = "throttle:{user}:n:9"
	dir := t.TempDir()
	s := open(t, Options{Dir: dir})
	must[int64](t)(s.Incr(ctx, key, 1, time.Hour))
	mustClose(t, s)
	s.flushLazy() // as the timer would, had it fired after Close
	s = open(t, Options{Dir: dir})
	defer mustClose(t, s)
	wantCounter(t, s, key, 1)
}

// TestLazyRecordsSurviveAFailedWrite checks that a write that fails to reach the data
// file keeps the lazy records it was to carry, and that the next one writes them.
func TestLazyRecordsSurviveAFailedWrite(t *testing.T) {
	const key = "throttle:{pair}:n:3"
	dir := t.TempDir()
	s := open(t, Options{Dir: dir})
	defer mustClose(t, s)
	must[int64](t)(s.Incr(ctx, key, 1, time.Hour))
	ro, err := os.Open(filepath.Join(dir, DataFile))
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	s.mu.Lock()
	rw := s.log
	s.log = ro
	s.mu.Unlock()
	if _, err := s.Set(ctx, "session:s", []byte("v"), time.Hour); err == nil {
		t.Fatal("Set on an unwritable file succeeded")
	}
	s.mu.Lock()
	s.log = rw
	s.mu.Unlock()
	if _, err := s.Get(ctx, "session:s"); err == nil {
		t.Fatal("the failed Set is in memory")
	}
	must[uint64](t)(s.Set(ctx, "session:s", []byte("w"), time.Hour))
	if n := crashCopy(t, dir, key); n != 1 {
		t.Fatalf("counter after a crash = %d, want 1 (the lazy record lost with the failed write)", n)
	}
}
