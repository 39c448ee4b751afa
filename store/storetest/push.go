package storetest

import (
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/store"
)

// pushTests are the contract points of store.OpPush, run by Run with the batch tests.
var pushTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"PushBoundAndExpiry", testPushBoundAndExpiry},
	{"PushReplacesNonList", testPushReplacesNonList},
	{"PushWithOtherOps", testPushWithOtherOps},
	{"PushTTL", testPushTTL},
	{"PushConcurrent", testPushConcurrent},
	{"PushRefusesBadInput", testPushRefusesBadInput},
}

// push runs one OpPush on its own and returns it with its results.
func push(t *testing.T, s store.Store, key, member string, expires time.Time, bound int, now time.Time) store.Op {
	t.Helper()
	ops := []store.Op{store.PushOp(key, []byte(member), expires, bound, now)}
	if err := store.Do(bg, s, ops); err != nil {
		t.Fatalf("push %q to %q: %v", member, key, err)
	}
	if ops[0].Err != nil {
		t.Fatalf("push %q to %q: op error %v", member, key, ops[0].Err)
	}
	return ops[0]
}

// members reads the list at key and returns its members, oldest first.
func members(t *testing.T, s store.Store, key string) []string {
	t.Helper()
	it := mustGet(t, s, key)
	list, err := store.DecodeList(it.Value)
	if err != nil {
		t.Fatalf("list %q: %v (%q)", key, err, it.Value)
	}
	out := make([]string, len(list))
	for i, e := range list {
		out[i] = string(e.Member)
	}
	return out
}

func dropped(op store.Op) []string {
	var out []string
	for _, m := range op.Dropped {
		out = append(out, string(m))
	}
	return out
}

// testPushBoundAndExpiry pushes past the bound and past entries' expiries: the oldest
// entries are dropped and reported, expired ones pruned silently, the revision grows
// by one a push, and the list reads back with Get and DecodeList.
func testPushBoundAndExpiry(t *testing.T, s store.Store) {
	now := time.Now()
	later := now.Add(time.Hour)
	steps := []struct {
		member  string
		expires time.Time
		now     time.Time
		want    []string
		dropped []string
	}{
		{"a", later, now, []string{"a"}, nil},
		{"b with space", now.Add(time.Minute), now, []string{"a", "b with space"}, nil},
		{"c", later, now, []string{"a", "b with space", "c"}, nil},
		{"d", later, now, []string{"b with space", "c", "d"}, []string{"a"}},
		// Two minutes on, "b" has expired: pruned, not reported, and nothing is
		// dropped for the bound.
		{"e", later, now.Add(2 * time.Minute), []string{"c", "d", "e"}, nil},
		{"f", later, now.Add(2 * time.Minute), []string{"d", "e", "f"}, []string{"c"}},
	}
	for i, st := range steps {
		op := push(t, s, "{u}list", st.member, st.expires, 3, st.now)
		if op.Rev != uint64(i+1) {
			t.Errorf("push %d (%s): revision %d, want %d", i, st.member, op.Rev, i+1)
		}
		if got := dropped(op); !slices.Equal(got, st.dropped) {
			t.Errorf("push %d (%s): dropped %q, want %q", i, st.member, got, st.dropped)
		}
		if got := members(t, s, "{u}list"); !slices.Equal(got, st.want) {
			t.Errorf("after push %d (%s): list %q, want %q", i, st.member, got, st.want)
		}
	}
	// The list is a value like any other: a CAS at its revision replaces it.
	it := mustGet(t, s, "{u}list")
	keep := store.EncodeList([]store.ListEntry{{Expires: later.UnixMilli(), Member: []byte("z")}})
	if _, err := s.CAS(bg, "{u}list", keep, it.Rev, time.Hour); err != nil {
		t.Fatalf("CAS of a list: %v", err)
	}
	op := push(t, s, "{u}list", "g", later, 3, now)
	if got := members(t, s, "{u}list"); !slices.Equal(got, []string{"z", "g"}) || op.Rev != it.Rev+2 {
		t.Errorf("push after CAS: %q rev %d, want [z g] rev %d", got, op.Rev, it.Rev+2)
	}
}

// testPushReplacesNonList checks that a value that is not a list is replaced by a list
// of the pushed member, at the next revision, and that nothing is reported dropped.
func testPushReplacesNonList(t *testing.T, s store.Store) {
	for i, bad := range []string{`[{"h":"x","k":"session:{1}","e":1}]`, "12 no newline", "x y\n", "\n"} {
		key := "{n}bad" + strconv.Itoa(i)
		rev := mustSet(t, s, key, []byte(bad), time.Hour)
		op := push(t, s, key, "m", time.Now().Add(time.Hour), 4, time.Now())
		if got := members(t, s, key); !slices.Equal(got, []string{"m"}) || op.Rev != rev+1 || len(op.Dropped) != 0 {
			t.Errorf("push onto %q: list %q rev %d dropped %q; want [m] rev %d, nothing dropped", bad, got, op.Rev, dropped(op), rev+1)
		}
	}
}

// testPushWithOtherOps runs a push in one batch with a CAS creation and a Get, on keys
// of different hash tags (different Cluster slots), as a login's commit does.
func testPushWithOtherOps(t *testing.T, s store.Store) {
	rev := mustSet(t, s, "{f}flow", []byte("waiting"), time.Hour)
	ops := []store.Op{
		store.CASOp("{s}session", []byte("new"), 0, time.Hour),
		store.PushOp("{i}index", []byte("h1 {s}session"), time.Now().Add(time.Hour), 32, time.Now()),
		store.CASOp("{f}flow", []byte("done"), rev, time.Hour),
		store.GetOp("{g}other"),
	}
	if err := store.Do(bg, s, ops); err != nil {
		t.Fatalf("Do: %v", err)
	}
	for i, want := range []error{nil, nil, nil, store.ErrNotFound} {
		if !errors.Is(ops[i].Err, want) || (want == nil && ops[i].Err != nil) {
			t.Errorf("op %d (%s): Err = %v, want %v", i, ops[i].Kind, ops[i].Err, want)
		}
	}
	if ops[1].Rev != 1 {
		t.Errorf("push creating the list: revision %d, want 1", ops[1].Rev)
	}
	wantValue(t, s, "{s}session", []byte("new"), 1)
	wantValue(t, s, "{f}flow", []byte("done"), rev+1)
	if got := members(t, s, "{i}index"); !slices.Equal(got, []string{"h1 {s}session"}) {
		t.Errorf("index %q", got)
	}
}

// testPushTTL checks that the list expires with its last entry, not its first.
func testPushTTL(t *testing.T, s store.Store) {
	start := time.Now()
	push(t, s, "list", "early", start.Add(ShortTTL/2), 8, start)
	push(t, s, "list", "last", start.Add(ShortTTL), 8, start)
	waitGone(t, start, ShortTTL, func() error { _, err := s.Get(bg, "list"); return err })
}

// testPushConcurrent pushes from many goroutines at once: each push is atomic, so none
// is lost and, past the bound, each member is dropped exactly once.
func testPushConcurrent(t *testing.T, s store.Store) {
	const n, bound = 24, 8
	now := time.Now()
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		out []string
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ops := []store.Op{store.PushOp("{c}list", []byte("m"+strconv.Itoa(i)), now.Add(time.Hour), bound, now)}
			if err := store.Do(bg, s, ops); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			out = append(out, dropped(ops[0])...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	kept := members(t, s, "{c}list")
	all := append(append([]string(nil), out...), kept...)
	slices.Sort(all)
	want := make([]string, n)
	for i := range n {
		want[i] = "m" + strconv.Itoa(i)
	}
	slices.Sort(want)
	if len(kept) != bound || !slices.Equal(all, want) {
		t.Errorf("kept %d %q and dropped %q; want %d kept, every member once in all", len(kept), kept, out, bound)
	}
	if it := mustGet(t, s, "{c}list"); it.Rev != n {
		t.Errorf("revision after %d pushes = %d", n, it.Rev)
	}
}

// testPushRefusesBadInput checks that a push of an empty member, one with a newline, or
// with a bound below one refuses the whole batch, with nothing written.
func testPushRefusesBadInput(t *testing.T, s store.Store) {
	now := time.Now()
	for name, op := range map[string]store.Op{
		"empty member":   store.PushOp("l", nil, now.Add(time.Hour), 4, now),
		"newline":        store.PushOp("l", []byte("a\nb"), now.Add(time.Hour), 4, now),
		"zero bound":     store.PushOp("l", []byte("a"), now.Add(time.Hour), 0, now),
		"negative bound": store.PushOp("l", []byte("a"), now.Add(time.Hour), -1, now),
	} {
		ops := []store.Op{store.SetOp("k", []byte("v"), 0), op}
		if err := store.Do(bg, s, ops); err == nil {
			t.Errorf("%s: Do accepted the batch", name)
		} else if testing.Verbose() {
			t.Logf("%s: %v", name, err)
		}
	}
	wantNotFound(t, s, "l")
	wantNotFound(t, s, "k")
}
