package nodes_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/store"
	"github.com/arbor-auth/arbor/store/embedded"
	"github.com/arbor-auth/arbor/store/storetest"
	"github.com/arbor-auth/arbor/throttle"
)

// TestCheckSecretWithRidesAlong: in a walk (a WriteBehind and a ReadAhead in the
// context), a right secret costs the check's one batch, which carries the node's reads
// and the door's read-ahead, and leaves its success record behind, writes that read
// nothing; a second check in the same request writes the first one's record before it
// counts; a wrong secret, and a check outside a walk, report to the guard at once.
func TestCheckSecretWithRidesAlong(t *testing.T) {
	st, err := embedded.Open(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	counted := storetest.NewCounting(st)
	th, err := throttle.New(counted, throttle.Config{}, func() time.Time { return time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	newCtx := func(walk bool) *nodes.Context {
		c := &nodes.Context{Ctx: context.Background(), Realm: "/", Request: nodes.Request{ClientIP: "203.0.113.5"}}
		if walk {
			c.WriteBehind = nodes.NewWriteBehind(counted)
			c.ReadAhead = &nodes.ReadAhead{Read: func(realm, user string) (store.Op, bool) { return store.GetOp("factors:{" + user + "}"), true }}
		}
		return c
	}
	check := func(c *nodes.Context, right bool) []string {
		t.Helper()
		counted.Reset()
		reads := []store.Op{store.GetOp("account:{alice}")}
		ok, err := nodes.CheckSecretWith(c, th, nil, "alice", nil, reads, func(ran bool) (bool, error) {
			if !ran || !errors.Is(reads[0].Err, store.ErrNotFound) {
				t.Errorf("check told ran %v with the read %+v, want it run in the guard's batch", ran, reads[0])
			}
			return right, nil
		})
		if err != nil || ok != right {
			t.Fatalf("CheckSecretWith = %v, %v; want %v", ok, err, right)
		}
		var calls []string
		for _, op := range counted.Ops() {
			calls = append(calls, op.Name)
		}
		return calls
	}
	batch := func(i int) string { return counted.Ops()[i].Key }

	c := newCtx(true)
	if calls := check(c, true); len(calls) != 1 {
		t.Fatalf("right secret in a walk: calls %v, want the check's batch alone", calls)
	}
	if b := batch(0); !strings.Contains(b, "Get account:{alice}") || !strings.Contains(b, "Get factors:{alice}") {
		t.Errorf("the check's batch %q does not carry the account's and the read-ahead's reads", b)
	}
	if read, ok := c.ReadAhead.Result("factors:{alice}"); !ok || !errors.Is(read.Err, store.ErrNotFound) {
		t.Errorf("read-ahead result %+v, %v; want the read made", read, ok)
	}
	if !c.WriteBehind.Pending() {
		t.Fatal("the success record was not left behind")
	}
	for _, op := range c.WriteBehind.Ops() {
		if op.Kind == store.OpGet || (op.Kind == store.OpIncr && op.Delta == 0) {
			t.Errorf("the success record reads: %+v", op)
		}
	}
	// A second check in the same request: the first record is written, then counted.
	if calls := check(c, true); len(calls) != 2 {
		t.Fatalf("second right secret in one walk: calls %v, want the first record's write and the check", calls)
	}
	if b := batch(0); strings.Contains(b, "Get ") || !strings.Contains(b, "Zero throttle:") {
		t.Errorf("the first record's write %q reads, or zeroes nothing", b)
	}
	// A wrong secret reports at once, and leaves the earlier record written.
	if calls := check(c, false); len(calls) < 3 {
		t.Errorf("wrong secret in a walk: calls %v, want the record, the check and Failed's", calls)
	}
	if c.WriteBehind.Pending() {
		t.Error("a write is still held after a wrong secret")
	}
	// A read-ahead of a key the node reads already is not made twice (a batch touches
	// each key once), and the node's read serves it.
	same := newCtx(true)
	same.ReadAhead.Read = func(string, string) (store.Op, bool) { return store.GetOp("account:{alice}"), true }
	if calls := check(same, true); len(calls) != 1 || strings.Count(batch(0), "account:{alice}") != 1 {
		t.Errorf("read-ahead of the node's own key: calls %v, batch %q", calls, batch(0))
	}
	if _, ok := same.ReadAhead.Result("account:{alice}"); !ok {
		t.Error("the node's read does not serve the read-ahead of the same key")
	}
	// Outside a walk the success is recorded at once.
	if calls := check(newCtx(false), true); len(calls) < 2 {
		t.Errorf("right secret outside a walk: calls %v, want the check and Succeeded's", calls)
	}
}
