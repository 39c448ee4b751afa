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
	{"PushOwnedKeys", testPushOwnedKeys},
	{"PushOwnedKeysWithOtherOps", testPushOwnedKeysWithOtherOps},
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
		"empty member":                   store.PushOp("l", nil, now.Add(time.Hour), 4, now),
		"newline":                        store.PushOp("l", []byte("a\nb"), now.Add(time.Hour), 4, now),
		"zero bound":                     store.PushOp("l", []byte("a"), now.Add(time.Hour), 0, now),
		"negative bound":                 store.PushOp("l", []byte("a"), now.Add(time.Hour), -1, now),
		"owning, no key":                 store.PushOwningOp("l", []byte("a"), now.Add(time.Hour), 4, now),
		"owning, no key after the space": store.PushOwningOp("l", []byte("a "), now.Add(time.Hour), 4, now),
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

// pushOwning runs one OpPush with OwnsKeys on its own and returns it with its results.
func pushOwning(t *testing.T, s store.Store, key, member string, expires time.Time, bound int, now time.Time) store.Op {
	t.Helper()
	ops := []store.Op{store.PushOwningOp(key, []byte(member), expires, bound, now)}
	if err := store.Do(bg, s, ops); err != nil {
		t.Fatalf("owning push %q to %q: %v", member, key, err)
	}
	return ops[0]
}

// wantOwnedOutcome checks what op, a push with OwnsKeys, did to the keys its dropped
// members name: with KeysDeleted every one of them is gone, without it every one is
// as it was (the caller deletes them), so that a backend never reports what it did not
// do. revs holds each owned key's revision before the push.
func wantOwnedOutcome(t *testing.T, s store.Store, op store.Op, revs map[string]uint64) {
	t.Helper()
	for _, m := range op.Dropped {
		k, ok := store.MemberKey(m)
		if !ok {
			continue
		}
		rev, had := revs[k]
		switch {
		case op.KeysDeleted:
			wantNotFound(t, s, k)
		case had:
			wantValue(t, s, k, []byte("owned "+k), rev)
		}
	}
}

// testPushOwnedKeys pushes onto a list that owns its members' keys, each in a slot of
// its own: the key of a member the bound drops is deleted with the push (or, where the
// backend reports KeysDeleted false, left for the caller), every other key is
// untouched, an expired entry's key is left to expire on its own, a dropped member
// naming no key or a missing key is no error, and a push that does not own keys never
// deletes.
func testPushOwnedKeys(t *testing.T, s store.Store) {
	now := time.Now()
	later := now.Add(time.Hour)
	revs := map[string]uint64{}
	for _, k := range []string{"{a}k", "{b}k", "{c}k", "{d}k", "{e}k", "{x}k", "{y}k", "{p}k"} {
		revs[k] = mustSet(t, s, k, []byte("owned "+k), 0)
	}
	// A list that does not own keys drops "p {p}k" and leaves {p}k alone.
	push(t, s, "{o}plain", "p {p}k", later, 1, now)
	if op := push(t, s, "{o}plain", "q {q}k", later, 1, now); op.KeysDeleted || !slices.Equal(dropped(op), []string{"p {p}k"}) {
		t.Errorf("push without OwnsKeys: dropped %q, KeysDeleted %v; want [p {p}k], false", dropped(op), op.KeysDeleted)
	}
	wantValue(t, s, "{p}k", []byte("owned {p}k"), revs["{p}k"])

	steps := []struct {
		member  string
		expires time.Time
		now     time.Time
		dropped []string
	}{
		// After a member naming no key (pushed without OwnsKeys below), one that
		// expires soon.
		{"ha {a}k", later, now, nil},
		{"hx {x}k", now.Add(time.Minute), now, nil},
		// The bound drops the member naming no key: nothing to delete.
		{"hb {b}k", later, now, []string{"legacy"}},
		// Two minutes on, "hx" has expired: pruned, not dropped, and {x}k stays.
		{"hc {c}k", later, now.Add(2 * time.Minute), nil},
		{"hd {d}k", later, now.Add(2 * time.Minute), []string{"ha {a}k"}},
		{"hm {m}missing", later, now.Add(2 * time.Minute), []string{"hb {b}k"}},
		{"he {e}k", later, now.Add(2 * time.Minute), []string{"hc {c}k"}},
		{"hy {y}k", later, now.Add(2 * time.Minute), []string{"hd {d}k"}},
		// A dropped member whose key does not exist is no error.
		{"hz {z}k", later, now.Add(2 * time.Minute), []string{"hm {m}missing"}},
	}
	push(t, s, "{o}list", "legacy", later, 3, now)
	for i, st := range steps {
		op := pushOwning(t, s, "{o}list", st.member, st.expires, 3, st.now)
		if got := dropped(op); !slices.Equal(got, st.dropped) {
			t.Fatalf("push %d (%s): dropped %q, want %q", i, st.member, got, st.dropped)
		}
		wantOwnedOutcome(t, s, op, revs)
		for _, m := range op.Dropped {
			if k, ok := store.MemberKey(m); ok {
				delete(revs, k)
			}
		}
		// Every key the list still holds, and every key it never held, is untouched.
		for k, rev := range revs {
			wantValue(t, s, k, []byte("owned "+k), rev)
		}
	}
	if got := members(t, s, "{o}list"); !slices.Equal(got, []string{"he {e}k", "hy {y}k", "hz {z}k"}) {
		t.Errorf("list %q", got)
	}
	// A lower bound drops several members at once; all their keys go.
	op := pushOwning(t, s, "{o}list", "hw {w}k", later, 1, now.Add(2*time.Minute))
	if got := dropped(op); !slices.Equal(got, []string{"he {e}k", "hy {y}k", "hz {z}k"}) {
		t.Fatalf("push with bound 1: dropped %q", got)
	}
	wantOwnedOutcome(t, s, op, revs)
	wantValue(t, s, "{x}k", []byte("owned {x}k"), revs["{x}k"])
}

// testPushOwnedKeysWithOtherOps runs an owning push in a batch as a login's commit does
// (the new session's creation, the push, the flow's end, all in different slots): the
// other ops take effect and the dropped member's key is deleted, or reported not.
func testPushOwnedKeysWithOtherOps(t *testing.T, s store.Store) {
	now := time.Now()
	old := mustSet(t, s, "{s1}session", []byte("owned {s1}session"), time.Hour)
	pushOwning(t, s, "{i}index", "h1 {s1}session", now.Add(time.Hour), 1, now)
	flow := mustSet(t, s, "{f}flow", []byte("waiting"), time.Hour)
	ops := []store.Op{
		store.CASOp("{s2}session", []byte("new"), 0, time.Hour),
		store.PushOwningOp("{i}index", []byte("h2 {s2}session"), now.Add(time.Hour), 1, now),
		store.CASOp("{f}flow", []byte("done"), flow, time.Hour),
	}
	if err := store.Do(bg, s, ops); err != nil {
		t.Fatalf("Do: %v", err)
	}
	for i, op := range ops {
		if op.Err != nil {
			t.Errorf("op %d (%s): %v", i, op.Kind, op.Err)
		}
	}
	if got := dropped(ops[1]); !slices.Equal(got, []string{"h1 {s1}session"}) {
		t.Fatalf("dropped %q", got)
	}
	wantOwnedOutcome(t, s, ops[1], map[string]uint64{"{s1}session": old})
	wantValue(t, s, "{s2}session", []byte("new"), 1)
	wantValue(t, s, "{f}flow", []byte("done"), flow+1)
}

// PushDeletesOwnedKeys reports whether s deletes the key of a member that a push with
// OwnsKeys drops (store.Op.KeysDeleted), after checking that it did what it reports:
// the backend's tests pin the answer each topology must give. It works on keys under
// "{pushdeletes}".
func PushDeletesOwnedKeys(t *testing.T, s store.Store) bool {
	t.Helper()
	now := time.Now()
	rev := mustSet(t, s, "{pushdeletes}owned", []byte("owned {pushdeletes}owned"), time.Hour)
	pushOwning(t, s, "{pushdeletes}list", "h {pushdeletes}owned", now.Add(time.Hour), 1, now)
	op := pushOwning(t, s, "{pushdeletes}list", "h2 {pushdeletes}other", now.Add(time.Hour), 1, now)
	if len(op.Dropped) != 1 {
		t.Fatalf("dropped %q, want one member", dropped(op))
	}
	wantOwnedOutcome(t, s, op, map[string]uint64{"{pushdeletes}owned": rev})
	return op.KeysDeleted
}
