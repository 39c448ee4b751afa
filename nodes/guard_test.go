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
// context), the check's one batch carries the node's reads and the door's read-ahead; a
// right secret is recorded at once (Succeeded), never left behind, because a blind
// record cannot clear what the pair holds when it lands; a write an earlier node of the
// request left behind is written before the check counts.
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
	if calls := check(c, true); len(calls) < 2 {
		t.Fatalf("right secret in a walk: calls %v, want the check's batch and Succeeded's", calls)
	}
	if b := batch(0); !strings.Contains(b, "Get account:{alice}") || !strings.Contains(b, "Get factors:{alice}") {
		t.Errorf("the check's batch %q does not carry the account's and the read-ahead's reads", b)
	}
	if read, ok := c.ReadAhead.Result("factors:{alice}"); !ok || !errors.Is(read.Err, store.ErrNotFound) {
		t.Errorf("read-ahead result %+v, %v; want the read made", read, ok)
	}
	if c.WriteBehind.Pending() {
		t.Fatal("the success record was left behind")
	}
	// A write an earlier node left behind goes first, in a batch of its own.
	c.WriteBehind.Defer([]store.Op{store.SetOp("other:{x}", []byte("1"), 0)}, nil)
	if calls := check(c, false); len(calls) < 3 || batch(0) != "Set other:{x}" {
		t.Errorf("wrong secret after a write left behind: calls %v (first %q), want that write, the check and Failed's", calls, batch(0))
	}
	if c.WriteBehind.Pending() {
		t.Error("a write is still held after the check")
	}
	// A read-ahead of a key the node reads already is not made twice (a batch touches
	// each key once), and the node's read serves it.
	same := newCtx(true)
	same.ReadAhead.Read = func(string, string) (store.Op, bool) { return store.GetOp("account:{alice}"), true }
	if calls := check(same, true); len(calls) < 2 || strings.Count(batch(0), "account:{alice}") != 1 {
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
