package embedded

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/store"
	"github.com/arbor-auth/arbor/store/storetest"
)

var ctx = context.Background()

func TestConformanceMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestConformanceDisk(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(Options{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestConformanceDiskSync(t *testing.T) {
	if testing.Short() {
		t.Skip("fsync per write is slow")
	}
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(Options{Dir: t.TempDir(), Sync: SyncAll})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// clock is a settable clock for expiry tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func open(t *testing.T, opts Options) *Store {
	t.Helper()
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func mustClose(t *testing.T, s *Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func wantItem(t *testing.T, s *Store, key, value string, rev uint64) {
	t.Helper()
	item, err := s.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if string(item.Value) != value || item.Rev != rev {
		t.Fatalf("Get(%q) = %q rev %d, want %q rev %d", key, item.Value, item.Rev, value, rev)
	}
}

func wantMissing(t *testing.T, s *Store, key string) {
	t.Helper()
	if _, err := s.Get(ctx, key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(%q) = %v, want ErrNotFound", key, err)
	}
}

func wantCounter(t *testing.T, s *Store, key string, n int64) {
	t.Helper()
	got, err := s.Incr(ctx, key, 0, 0)
	if err != nil || got != n {
		t.Fatalf("counter %q = %d, %v; want %d", key, got, err, n)
	}
}

// fill writes a state that exercises every record type.
func fill(t *testing.T, s *Store) {
	t.Helper()
	set := must[uint64](t)
	set(s.Set(ctx, "a", []byte("a1"), 0))
	set(s.Set(ctx, "a", []byte("a2"), 0))
	set(s.CAS(ctx, "a", []byte("a3"), 2, 0))
	set(s.Set(ctx, "short", []byte("s"), time.Minute))
	set(s.Set(ctx, "long", []byte("l"), time.Hour))
	set(s.Set(ctx, "deleted", []byte("d"), 0))
	if err := s.Delete(ctx, "deleted"); err != nil {
		t.Fatal(err)
	}
	set(s.Set(ctx, "taken", []byte("t"), 0))
	must[[]byte](t)(s.Take(ctx, "taken"))
	set(s.Set(ctx, "bin:{tag}", []byte{0, ':', 0xff}, 0))
	incr := must[int64](t)
	incr(s.Incr(ctx, "hits", 5, 0))
	incr(s.Incr(ctx, "hits", -2, time.Second)) // ttl ignored: the counter exists
	incr(s.Incr(ctx, "window", 1, time.Minute))
	incr(s.Incr(ctx, "window", 1, 0))
}

// checkFilled checks the state written by fill, t0 being the time fill ran.
func checkFilled(t *testing.T, s *Store, c *clock) {
	t.Helper()
	wantItem(t, s, "a", "a3", 3)
	wantItem(t, s, "short", "s", 1)
	wantItem(t, s, "long", "l", 1)
	wantItem(t, s, "bin:{tag}", "\x00:\xff", 1)
	wantMissing(t, s, "deleted")
	wantMissing(t, s, "taken")
	wantCounter(t, s, "hits", 3)
	wantCounter(t, s, "window", 2)
	// Revisions continue where they were.
	if rev, err := s.CAS(ctx, "a", []byte("a4"), 3, 0); err != nil || rev != 4 {
		t.Fatalf("CAS after reopen = %d, %v; want 4", rev, err)
	}
	// TTLs survive as absolute times.
	c.Advance(time.Minute)
	wantMissing(t, s, "short")
	wantItem(t, s, "long", "l", 1)
	wantCounter(t, s, "window", 0)
	wantCounter(t, s, "hits", 3)
	c.Advance(time.Hour)
	wantMissing(t, s, "long")
}

func TestPersistenceAcrossCloseOpen(t *testing.T) {
	dir, c := t.TempDir(), newClock()
	s := open(t, Options{Dir: dir, Now: c.Now})
	fill(t, s)
	mustClose(t, s)

	s = open(t, Options{Dir: dir, Now: c.Now})
	defer mustClose(t, s)
	checkFilled(t, s, c)
}

// TestPersistenceWithoutClose copies the data file while the store is open, as a
// crash would leave it, and opens the copy.
func TestPersistenceWithoutClose(t *testing.T) {
	for _, mode := range []SyncMode{SyncNone, SyncAccounts, SyncAll} {
		t.Run(mode.String(), func(t *testing.T) {
			dir, c := t.TempDir(), newClock()
			s := open(t, Options{Dir: dir, Now: c.Now, Sync: mode})
			defer mustClose(t, s)
			fill(t, s)

			crashed := t.TempDir()
			copyFile(t, filepath.Join(dir, DataFile), filepath.Join(crashed, DataFile))
			s2 := open(t, Options{Dir: crashed, Now: c.Now})
			defer mustClose(t, s2)
			checkFilled(t, s2, c)
		})
	}
}

func TestExpiredDroppedAtLoad(t *testing.T) {
	dir, c := t.TempDir(), newClock()
	s := open(t, Options{Dir: dir, Now: c.Now})
	must[uint64](t)(s.Set(ctx, "k", []byte("v"), time.Minute))
	must[uint64](t)(s.Set(ctx, "kept", []byte("v"), 0))
	must[int64](t)(s.Incr(ctx, "n", 1, time.Minute))
	mustClose(t, s)
	sizeBefore := fileSize(t, filepath.Join(dir, DataFile))

	c.Advance(2 * time.Minute)
	s = open(t, Options{Dir: dir, Now: c.Now})
	wantMissing(t, s, "k")
	wantCounter(t, s, "n", 0)
	if s.values.len() != 1 || len(s.counters) != 0 {
		t.Fatalf("expired keys loaded into memory: %d values, %d counters", s.values.len(), len(s.counters))
	}
	if rev := must[uint64](t)(s.CAS(ctx, "k", []byte("new"), 0, 0)); rev != 1 {
		t.Fatalf("re-created key has rev %d, want 1", rev)
	}
	must[uint64](t)(s.Set(ctx, "k", []byte("v"), 0))
	mustClose(t, s)
	// Close compacted: the expired counter is gone from the file.
	if size := fileSize(t, filepath.Join(dir, DataFile)); size >= sizeBefore+20 {
		t.Errorf("file grew from %d to %d bytes although an expired counter was dropped", sizeBefore, size)
	}
}

func TestTornTail(t *testing.T) {
	// Build a file whose last record is the Set of "last".
	base := t.TempDir()
	s := open(t, Options{Dir: base})
	must[uint64](t)(s.Set(ctx, "first", []byte("1"), 0))
	must[int64](t)(s.Incr(ctx, "n", 1, 0))
	must[uint64](t)(s.Set(ctx, "first", []byte("2"), 0))
	goodSize := s.logBytes
	must[uint64](t)(s.Set(ctx, "last", bytes.Repeat([]byte("x"), 100), 0))
	full := s.logBytes
	data := readFile(t, filepath.Join(base, DataFile))
	mustClose(t, s)
	if int64(len(data)) != full {
		t.Fatalf("data file has %d bytes, store counted %d", len(data), full)
	}

	cases := map[string][]byte{
		"cut in frame":     data[:goodSize+3],
		"cut in body":      data[:full-10],
		"cut after frame":  data[:goodSize+frameLen],
		"zeroed tail":      append(bytes.Clone(data[:goodSize]), make([]byte, full-goodSize)...),
		"bad checksum":     flip(data, int(full)-1),
		"garbage appended": append(bytes.Clone(data[:goodSize]), "garbage!!!"...),
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, DataFile)
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			s := open(t, Options{Dir: dir})
			wantItem(t, s, "first", "2", 2)
			wantCounter(t, s, "n", 1)
			wantMissing(t, s, "last")
			if size := fileSize(t, path); size != goodSize {
				t.Fatalf("file is %d bytes after recovery, want it cut to %d", size, goodSize)
			}
			// The store keeps working and the next open sees the new writes.
			must[uint64](t)(s.Set(ctx, "after", []byte("ok"), 0))
			mustClose(t, s)
			s = open(t, Options{Dir: dir})
			defer mustClose(t, s)
			wantItem(t, s, "after", "ok", 1)
			wantItem(t, s, "first", "2", 2)
		})
	}

	t.Run("header only cut", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, DataFile), fileHeader[:3], 0o600); err != nil {
			t.Fatal(err)
		}
		s := open(t, Options{Dir: dir})
		defer mustClose(t, s)
		wantMissing(t, s, "first")
		must[uint64](t)(s.Set(ctx, "k", []byte("v"), 0))
	})
}

func TestCorruptionFailsOpen(t *testing.T) {
	base := t.TempDir()
	s := open(t, Options{Dir: base})
	must[uint64](t)(s.Set(ctx, "first", []byte("value one"), 0))
	must[uint64](t)(s.Set(ctx, "second", []byte("value two"), 0))
	must[uint64](t)(s.Set(ctx, "third", []byte("value three"), 0))
	data := readFile(t, filepath.Join(base, DataFile))
	mustClose(t, s)

	cases := map[string][]byte{
		"damaged first record": flip(data, headerLen+frameLen+3),
		"bad header":           append([]byte("NOTARBOR"), data[headerLen:]...),
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, DataFile)
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(Options{Dir: dir})
			if err == nil {
				s.Close()
				t.Fatal("Open of a corrupt file succeeded")
			}
			if !errors.Is(err, errCorrupt) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Open error %q does not name the corrupt file", err)
			}
			if got := readFile(t, path); !bytes.Equal(got, content) {
				t.Fatal("a failed Open modified the corrupt file")
			}
			// The lock was released: a repaired directory can be opened.
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			mustClose(t, open(t, Options{Dir: dir}))
		})
	}
}

func TestCompaction(t *testing.T) {
	old := minCompactBytes
	minCompactBytes = 64 << 10
	t.Cleanup(func() { minCompactBytes = old })

	dir := t.TempDir()
	path := filepath.Join(dir, DataFile)
	c := newClock()
	s := open(t, Options{Dir: dir, Now: c.Now})
	value := bytes.Repeat([]byte("v"), 1000)
	// Ten live keys overwritten many times: the log would reach about 1 MB without
	// compaction.
	for i := range 1000 {
		key := fmt.Sprintf("k%d", i%10)
		must[uint64](t)(s.Set(ctx, key, append(value, byte('0'+i%10)), 0))
		must[int64](t)(s.Incr(ctx, "n", 1, 0))
	}
	must[uint64](t)(s.Set(ctx, "expiring", value, time.Minute))
	size := fileSize(t, path)
	live := 11 * (1000 + 20)
	if size > int64(2*live)+int64(minCompactBytes) {
		t.Fatalf("data file is %d bytes for about %d live bytes: no compaction", size, live)
	}
	if s.logBytes != size {
		t.Fatalf("store counts %d bytes, file has %d", s.logBytes, size)
	}
	for i := range 10 {
		item, err := s.Get(ctx, fmt.Sprintf("k%d", i))
		if err != nil || item.Rev != 100 || !bytes.Equal(item.Value, append(value, byte('0'+i))) {
			t.Fatalf("k%d after compaction: rev %d, %v", i, item.Rev, err)
		}
	}
	c.Advance(2 * time.Minute)
	mustClose(t, s)

	// Close compacted to the live keys only: ten values, one counter, no expired key.
	if size, want := fileSize(t, path), int64(headerLen)+10*setSize("k0", entry{value: append(value, '0'), rev: 100})+counterSize("n", counter{n: 1000}); size != want {
		t.Errorf("data file after Close is %d bytes, want %d", size, want)
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary compaction file left behind: %v", err)
	}
	s = open(t, Options{Dir: dir, Now: c.Now})
	defer mustClose(t, s)
	wantCounter(t, s, "n", 1000)
	wantMissing(t, s, "expiring")
	for i := range 10 {
		wantItem(t, s, fmt.Sprintf("k%d", i), string(append(value, byte('0'+i))), 100)
	}
}

// TestCompactionAtOpen opens a bloated file left by a crash: Open compacts it.
func TestCompactionAtOpen(t *testing.T) {
	old := minCompactBytes
	t.Cleanup(func() { minCompactBytes = old })
	minCompactBytes = 1 << 40 // no compaction while writing

	dir := t.TempDir()
	s := open(t, Options{Dir: dir})
	defer mustClose(t, s)
	for i := range 500 {
		must[uint64](t)(s.Set(ctx, "k", bytes.Repeat([]byte{byte(i)}, 500), 0))
	}
	crashed := t.TempDir()
	path := filepath.Join(crashed, DataFile)
	copyFile(t, filepath.Join(dir, DataFile), path)
	before := fileSize(t, path)

	minCompactBytes = 1 << 10
	s2 := open(t, Options{Dir: crashed})
	defer mustClose(t, s2)
	after := fileSize(t, path)
	if after >= before/100 {
		t.Errorf("Open left a %d-byte file of one live key (was %d bytes)", after, before)
	}
	wantItem(t, s2, "k", string(bytes.Repeat([]byte{byte(499 % 256)}, 500)), 500)
}

func TestLeftoverTempFileIgnored(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Options{Dir: dir})
	must[uint64](t)(s.Set(ctx, "k", []byte("v"), 0))
	mustClose(t, s)
	tmp := filepath.Join(dir, DataFile+".tmp")
	if err := os.WriteFile(tmp, []byte("half a compaction"), 0o600); err != nil {
		t.Fatal(err)
	}
	s = open(t, Options{Dir: dir})
	defer mustClose(t, s)
	wantItem(t, s, "k", "v", 1)
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover %s not removed: %v", tmp, err)
	}
}

func TestLockConflict(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Options{Dir: dir})
	if s2, err := Open(Options{Dir: dir}); !errors.Is(err, ErrLocked) {
		if s2 != nil {
			s2.Close()
		}
		t.Fatalf("second Open of the same directory = %v, want ErrLocked", err)
	} else if !strings.Contains(err.Error(), dir) {
		t.Errorf("lock error %q does not name the directory", err)
	}

	// Another process gets the same answer.
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "EMBEDDED_LOCK_HELPER_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "LOCKED:") {
		t.Fatalf("helper process: %v\n%s", err, out)
	}

	mustClose(t, s)
	mustClose(t, open(t, Options{Dir: dir}))
}

// TestLockHelperProcess is run by TestLockConflict in a child process.
func TestLockHelperProcess(t *testing.T) {
	dir := os.Getenv("EMBEDDED_LOCK_HELPER_DIR")
	if dir == "" {
		t.Skip("helper for TestLockConflict")
	}
	s, err := Open(Options{Dir: dir})
	if err == nil {
		s.Close()
		t.Fatal("Open in a second process succeeded")
	}
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("Open in a second process: %v", err)
	}
	fmt.Println("LOCKED:", err)
}

func TestSweeper(t *testing.T) {
	old := sweepInterval
	sweepInterval = 10 * time.Millisecond
	t.Cleanup(func() { sweepInterval = old })

	c := newClock()
	s := open(t, Options{Now: c.Now})
	defer mustClose(t, s)
	must[uint64](t)(s.Set(ctx, "gone", []byte("v"), time.Minute))
	must[uint64](t)(s.Set(ctx, "kept", []byte("v"), 0))
	must[int64](t)(s.Incr(ctx, "n", 1, time.Minute))
	c.Advance(time.Minute)
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.RLock()
		nv, nc := s.values.len(), len(s.counters)
		s.mu.RUnlock()
		if nv == 1 && nc == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sweeper left %d values and %d counters, want 1 and 0", nv, nc)
		}
		time.Sleep(5 * time.Millisecond)
	}
	wantItem(t, s, "kept", "v", 1)
}

// TestWriteFailure makes the data file unwritable and checks that a failed write
// reports ErrUnavailable and leaves memory as it was.
func TestWriteFailure(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Options{Dir: dir})
	must[uint64](t)(s.Set(ctx, "k", []byte("v"), 0))
	must[int64](t)(s.Incr(ctx, "n", 1, 0))

	ro, err := os.Open(filepath.Join(dir, DataFile))
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	rw := s.log
	s.log = ro
	s.mu.Unlock()

	if _, err := s.Set(ctx, "k", []byte("w"), 0); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Set on an unwritable file = %v, want ErrUnavailable", err)
	}
	if _, err := s.CAS(ctx, "k", []byte("w"), 1, 0); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("CAS on an unwritable file = %v, want ErrUnavailable", err)
	}
	if _, err := s.Take(ctx, "k"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Take on an unwritable file = %v, want ErrUnavailable", err)
	}
	if _, err := s.Incr(ctx, "n", 1, 0); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Incr on an unwritable file = %v, want ErrUnavailable", err)
	}
	wantItem(t, s, "k", "v", 1)
	wantCounter(t, s, "n", 1)

	s.mu.Lock()
	s.log = rw
	s.mu.Unlock()
	ro.Close()
	must[uint64](t)(s.Set(ctx, "k", []byte("w"), 0))
	mustClose(t, s)
	s = open(t, Options{Dir: dir})
	defer mustClose(t, s)
	wantItem(t, s, "k", "w", 2)
}

func TestConcurrentWritersWithSync(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Options{Dir: dir, Sync: SyncAll})
	var wg sync.WaitGroup
	var fails atomic.Int32
	for w := range 8 {
		wg.Go(func() {
			for i := range 25 {
				if _, err := s.Set(ctx, fmt.Sprintf("w%d:%d", w, i), []byte("v"), 0); err != nil {
					fails.Add(1)
				}
				if _, err := s.Incr(ctx, "n", 1, 0); err != nil {
					fails.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := fails.Load(); n != 0 {
		t.Fatalf("%d writes failed", n)
	}
	// Copy without Close: every acknowledged write must be in the file.
	crashed := t.TempDir()
	copyFile(t, filepath.Join(dir, DataFile), filepath.Join(crashed, DataFile))
	mustClose(t, s)
	s = open(t, Options{Dir: crashed})
	defer mustClose(t, s)
	wantCounter(t, s, "n", 200)
	if s.values.len() != 200 {
		t.Fatalf("%d values after reopen, want 200", s.values.len())
	}
}

func TestClosedMemoryStore(t *testing.T) {
	s := open(t, Options{})
	mustClose(t, s)
	if _, err := s.Get(ctx, "k"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Get after Close = %v", err)
	}
}

func BenchmarkGetCAS(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts func(b *testing.B) Options
	}{
		{"memory", func(b *testing.B) Options { return Options{} }},
		{"disk", func(b *testing.B) Options { return Options{Dir: b.TempDir(), Sync: SyncNone} }},
		{"disk-sync", func(b *testing.B) Options { return Options{Dir: b.TempDir(), Sync: SyncAll} }},
	} {
		for _, parallel := range []bool{false, true} {
			name := bc.name
			if parallel {
				name += "/parallel"
			}
			b.Run(name, func(b *testing.B) {
				s, err := Open(bc.opts(b))
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				storetest.BenchGetCAS(b, s, parallel)
			})
		}
	}
}

// BenchmarkSync measures what each sync mode costs a write of 1 KiB: of an account
// (a user, a device: fsynced unless SyncNone) and of a flow (fsynced only with
// SyncAll), by one writer and by 16 concurrent writers, who share fsyncs (group
// commit):
//
//	go test ./store/embedded -run '^$' -bench Sync -benchtime 2s
func BenchmarkSync(b *testing.B) {
	value := bytes.Repeat([]byte("x"), 1024)
	for _, mode := range []SyncMode{SyncNone, SyncAccounts, SyncAll} {
		for _, kind := range []string{"user", "flow"} {
			for _, writers := range []int{1, 16} {
				b.Run(fmt.Sprintf("%s/%s/writers=%d", mode, kind, writers), func(b *testing.B) {
					s, err := Open(Options{Dir: b.TempDir(), Sync: mode})
					if err != nil {
						b.Fatal(err)
					}
					defer s.Close()
					var n atomic.Int64
					b.SetBytes(int64(len(value)))
					// RunParallel starts parallelism × GOMAXPROCS goroutines.
					b.SetParallelism(max(1, writers/runtime.GOMAXPROCS(0)))
					b.ResetTimer()
					run := func(key string) {
						if _, err := s.Set(ctx, key, value, time.Hour); err != nil {
							b.Fatal(err)
						}
					}
					if writers == 1 {
						for i := 0; b.Loop(); i++ {
							run(fmt.Sprintf("%s:{%d}", kind, i%1000))
						}
						return
					}
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							run(fmt.Sprintf("%s:{%d}", kind, n.Add(1)%1000))
						}
					})
				})
			}
		}
	}
}

func flip(data []byte, i int) []byte {
	out := bytes.Clone(data)
	out[i] ^= 0x55
	return out
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	if err := os.WriteFile(to, readFile(t, from), 0o600); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Size()
}

// TestNotFoundError keeps the message of a miss as it was with fmt.Errorf and its
// identity as store.ErrNotFound, for Get, Take and a batch's get.
func TestNotFoundError(t *testing.T) {
	s, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	_, getErr := s.Get(ctx, "flow:{x}")
	_, takeErr := s.Take(ctx, "flow:{x}")
	ops := []store.Op{{Kind: store.OpGet, Key: "flow:{x}"}}
	if err := s.Do(ctx, ops); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{getErr, `embedded get "flow:{x}": ` + store.ErrNotFound.Error()},
		{takeErr, `embedded take "flow:{x}": ` + store.ErrNotFound.Error()},
		{ops[0].Err, `embedded get "flow:{x}": ` + store.ErrNotFound.Error()},
	} {
		if !errors.Is(tc.err, store.ErrNotFound) || tc.err.Error() != tc.want {
			t.Errorf("error %v (is ErrNotFound: %v), want %q wrapping store.ErrNotFound", tc.err, errors.Is(tc.err, store.ErrNotFound), tc.want)
		}
	}
}

// TestPushDeletesOwnedKeysInOneAppend: the embedded store deletes the key of a member
// that an owning push drops in the push's own append to the data file (one write, not
// two), and a reopened store sees the key gone and the list as pushed.
func TestPushDeletesOwnedKeysInOneAppend(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !storetest.PushDeletesOwnedKeys(t, s) {
		t.Fatal("KeysDeleted = false, want true")
	}
	now := time.Now()
	must[uint64](t)(s.Set(ctx, "session:{old}", []byte("old"), time.Hour))
	must[uint64](t)(s.Set(ctx, "session:{kept}", []byte("kept"), time.Hour))
	for _, m := range []string{"h1 session:{old}", "h2 session:{kept}"} {
		if err := store.Do(ctx, s, []store.Op{store.PushOwningOp("usersessions:{u}", []byte(m), now.Add(time.Hour), 2, now)}); err != nil {
			t.Fatal(err)
		}
	}
	s.mu.Lock()
	before := s.seq
	s.mu.Unlock()
	ops := []store.Op{
		store.CASOp("session:{new}", []byte("new"), 0, time.Hour),
		store.PushOwningOp("usersessions:{u}", []byte("h3 session:{new}"), now.Add(time.Hour), 2, now),
	}
	if err := store.Do(ctx, s, ops); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	appends := s.seq - before
	s.mu.Unlock()
	if appends != 1 {
		t.Errorf("the batch took %d appends, want 1", appends)
	}
	if !ops[1].KeysDeleted || len(ops[1].Dropped) != 1 || string(ops[1].Dropped[0]) != "h1 session:{old}" {
		t.Fatalf("push: dropped %q, KeysDeleted %v", ops[1].Dropped, ops[1].KeysDeleted)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Get(ctx, "session:{old}"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the dropped session after a reopen: %v, want ErrNotFound", err)
	}
	for _, k := range []string{"session:{kept}", "session:{new}"} {
		if _, err := s.Get(ctx, k); err != nil {
			t.Errorf("%s after a reopen: %v", k, err)
		}
	}
	it := must[store.Item](t)(s.Get(ctx, "usersessions:{u}"))
	list, err := store.DecodeList(it.Value)
	if err != nil || len(list) != 2 || string(list[0].Member) != "h2 session:{kept}" || string(list[1].Member) != "h3 session:{new}" {
		t.Errorf("the list after a reopen: %q %v", it.Value, err)
	}
}
