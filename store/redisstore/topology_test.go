package redisstore

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/internal/testredis"
	"github.com/arbor-auth/arbor/store"
	"github.com/arbor-auth/arbor/store/storetest"
)

// TestMain stops the Cluster and Sentinel set that the conformance tests share.
func TestMain(m *testing.M) { testredis.Main(m) }

// openURL opens a store with a key space of its own on the topology at url.
func openURL(t testing.TB, url string) *Store {
	t.Helper()
	s, err := Open(url, WithPrefix(uniquePrefix()))
	if err != nil {
		t.Fatalf("Open %s: %v", url, err)
	}
	return s
}

func TestConformanceCluster(t *testing.T) {
	c := testredis.SharedCluster(t)
	storetest.Run(t, func(t *testing.T) store.Store { return openURL(t, c.URL()) })
}

func TestConformanceSentinel(t *testing.T) {
	ss := testredis.SharedSentinel(t)
	storetest.Run(t, func(t *testing.T) store.Store { return openURL(t, ss.URL()) })
}

// TestBatchInOrderByTopology: a single server and Sentinel apply a pipeline in order, a
// Cluster does not promise it (each node gets its share at once), so the engine sends a
// session's writes before the flow's end there (store.BatchesInOrder).
func TestBatchInOrderByTopology(t *testing.T) {
	for _, tc := range []struct {
		name string
		url  func() string
		want bool
	}{
		{"single", func() string { return testredis.Start(t).URL() }, true},
		{"sentinel", func() string { return testredis.SharedSentinel(t).URL() }, true},
		{"cluster", func() string { return testredis.SharedCluster(t).URL() }, false},
	} {
		s := openURL(t, tc.url())
		if got := store.BatchesInOrder(s); got != tc.want {
			t.Errorf("%s: BatchesInOrder = %v, want %v", tc.name, got, tc.want)
		}
		s.Close()
	}
}

// TestPushDeletesOwnedKeysByTopology: a push onto a list that owns its members' keys
// deletes a dropped member's key in its script on a single server and Sentinel, and on
// a Cluster, where the script cannot reach another slot, leaves it and says so, for the
// caller to delete (store.Op.KeysDeleted).
func TestPushDeletesOwnedKeysByTopology(t *testing.T) {
	for _, tc := range []struct {
		name string
		url  func() string
		want bool
	}{
		{"single", func() string { return testredis.Start(t).URL() }, true},
		{"sentinel", func() string { return testredis.SharedSentinel(t).URL() }, true},
		{"cluster", func() string { return testredis.SharedCluster(t).URL() }, false},
	} {
		s := openURL(t, tc.url())
		if got := storetest.PushDeletesOwnedKeys(t, s); got != tc.want {
			t.Errorf("%s: KeysDeleted = %v, want %v", tc.name, got, tc.want)
		}
		s.Close()
	}
}

// TestClusterKeysSpreadOverMasters checks that the conformance run above really
// exercises the Cluster: flow keys with distinct hash tags land on every master, and
// one flow's value and counter keys share a slot.
func TestClusterKeysSpreadOverMasters(t *testing.T) {
	c := testredis.SharedCluster(t)
	s := openURL(t, c.URL())
	defer s.Close()
	seen := map[*testredis.Server]bool{}
	for i := range 30 {
		key := fmt.Sprintf("flow:{%d}", i)
		if _, err := s.Set(ctx, key, []byte("v"), time.Minute); err != nil {
			t.Fatalf("Set %s: %v", key, err)
		}
		if _, err := s.Incr(ctx, key, 1, time.Minute); err != nil {
			t.Fatalf("Incr %s: %v", key, err)
		}
		m := c.MasterOf(t, s.valueKey(key))
		if c.MasterOf(t, s.counterKey(key)) != m {
			t.Fatalf("value and counter of %s are on different masters", key)
		}
		seen[m] = true
	}
	if len(seen) != 3 {
		t.Fatalf("30 flows landed on %d masters, want 3", len(seen))
	}
}

// flowsUnderFailover is the failover contract at the store level. Each of n flows is
// a key advanced by steps (a Get, then a CAS at the revision read), as the engine does.
// Every flow takes one step, then kill takes a master down; the flows then keep
// stepping through the stores in turn (several instances) while waitPromoted waits for
// the replica to take over. Until then a step may only fail with ErrUnavailable (a 503),
// never with another error or a wrong value; after the promotion every flow must
// finish its second step within a few seconds, and no step may be applied twice.
//
// Then comeBack, if not nil, restarts the dead server, and every flow must take a third
// step within a few seconds: a client must not keep writing to a returning node that
// is now a replica.
func flowsUnderFailover(t *testing.T, stores []*Store, kill, waitPromoted, comeBack func()) {
	const n = 60
	const settle = 5 * time.Second // how soon after promotion every flow must be done
	key := func(i int) string { return fmt.Sprintf("flow:{f%d}", i) }
	for i := range n {
		if _, err := stores[i%len(stores)].CAS(ctx, key(i), []byte("step0"), 0, 10*time.Minute); err != nil {
			t.Fatalf("create flow %d: %v", i, err)
		}
	}
	step := func(s *Store, i int, want, next string) error {
		item, err := s.Get(ctx, key(i))
		if err != nil {
			return err
		}
		if string(item.Value) != want {
			return fmt.Errorf("flow %d holds %q at rev %d, want %q", i, item.Value, item.Rev, want)
		}
		_, err = s.CAS(ctx, key(i), []byte(next), item.Rev, 10*time.Minute)
		return err
	}
	for i := range n {
		if err := step(stores[(i+1)%len(stores)], i, "step0", "step1"); err != nil {
			t.Fatalf("first step of flow %d: %v", i, err)
		}
	}
	// Replication is asynchronous: kill waits until the replica has every first step,
	// so that this test checks availability, not what a failover may lose (the README's
	// topic).

	// stepAll takes every flow from want to next, retrying unavailable steps, each
	// through another instance than the step before, for up to 45 seconds.
	stepAll := func(want, next string, shift int) (done []time.Time, unavailable int) {
		done = make([]time.Time, n)
		deadline := time.Now().Add(45 * time.Second)
		for left := n; left > 0 && time.Now().Before(deadline); {
			for i := range n {
				if !done[i].IsZero() {
					continue
				}
				err := step(stores[(i+shift)%len(stores)], i, want, next)
				switch {
				case err == nil:
					done[i] = time.Now()
					left--
				case errors.Is(err, store.ErrUnavailable):
					unavailable++
				default:
					t.Errorf("flow %d, %s to %s: %v (want success or ErrUnavailable)", i, want, next, err)
					return done, unavailable
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		return done, unavailable
	}
	// lastDone checks that every flow finished, and returns when the last one did.
	lastDone := func(done []time.Time, what string) (last time.Time) {
		for i, d := range done {
			if d.IsZero() {
				t.Errorf("flow %d never finished its step %s", i, what)
			}
			if d.After(last) {
				last = d
			}
		}
		return last
	}

	kill()
	var done []time.Time
	var unavailable int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the instances keep serving steps while the test waits for the promotion
		defer wg.Done()
		done, unavailable = stepAll("step1", "step2", 2)
	}()
	waitPromoted()
	promotedAt := time.Now()
	wg.Wait()
	if t.Failed() {
		return
	}
	last := lastDone(done, "during the failover")
	after := last.Sub(promotedAt)
	t.Logf("%d flows, %d unavailable answers during the failover; the last flow finished %v after promotion",
		n, unavailable, after.Round(time.Millisecond))
	if after > settle {
		t.Errorf("the last flow finished %v after the promotion, want within %v", after.Round(time.Millisecond), settle)
	}
	if unavailable == 0 {
		t.Errorf("no step failed while a master was down: the failover was not exercised")
	}
	for i := range n {
		item, err := stores[0].Get(ctx, key(i))
		if err != nil || string(item.Value) != "step2" || item.Rev != 3 {
			t.Errorf("flow %d ends at %q rev %d, %v; want step2 at rev 3 (each step applied once)", i, item.Value, item.Rev, err)
		}
	}
	if comeBack == nil || t.Failed() {
		return
	}
	comeBack()
	back := time.Now()
	done, unavailable = stepAll("step2", "step3", 1)
	after = lastDone(done, "after the old master came back").Sub(back)
	t.Logf("with the old master back as a replica, %d unavailable answers; the last flow finished %v later",
		unavailable, after.Round(time.Millisecond))
	if after > settle {
		t.Errorf("the last flow finished %v after the old master came back, want within %v", after.Round(time.Millisecond), settle)
	}
}

// TestClusterFailover kills the master owning a flow's slot in the middle of 60 flows
// served by three store instances.
func TestClusterFailover(t *testing.T) {
	c := testredis.StartCluster(t)
	prefix := uniquePrefix()
	var stores []*Store
	for range 3 {
		s, err := Open(c.URL(), WithPrefix(prefix))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	var victim *testredis.Server
	flowsUnderFailover(t, stores, func() {
		victim = c.MasterOf(t, stores[0].valueKey("flow:{f0}"))
		victim.WaitReplicated(t)
		victim.Kill()
	}, func() { c.WaitHealthy(t) }, func() {
		victim.Restart()
		c.WaitHealthy(t)
	})
}

// TestSentinelFailover kills the Sentinel set's master in the middle of 60 flows served
// by three store instances.
func TestSentinelFailover(t *testing.T) {
	ss := testredis.StartSentinel(t)
	prefix := uniquePrefix()
	var stores []*Store
	for range 3 {
		s, err := Open(ss.URL(), WithPrefix(prefix))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	var old *testredis.Server
	flowsUnderFailover(t, stores, func() {
		old = ss.Master(t)
		old.WaitReplicated(t)
		old.Kill()
	}, func() { ss.WaitPromoted(t, old) }, nil)
}
