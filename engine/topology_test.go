package engine

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/arbor-auth/arbor/internal/testredis"
	"github.com/arbor-auth/arbor/store/redisstore"
)

// TestMain stops the Redis Cluster and Sentinel set the topology tests share.
func TestMain(m *testing.M) { testredis.Main(m) }

var prefixes atomic.Int64

// TestExactlyOnceOnRedis runs the exactly-once tests on a single Redis server, a Redis
// Cluster and a Sentinel set: a step must be applied once, and one session survive, on
// every topology Arbor supports, not only on the embedded store, for a stored step and
// for a sealed first step alike.
func TestExactlyOnceOnRedis(t *testing.T) {
	topologies := []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"single", func(t *testing.T) string { return testredis.Start(t).URL() }},
		{"cluster", func(t *testing.T) string { return testredis.SharedCluster(t).URL() }},
		{"sentinel", func(t *testing.T) string { return testredis.SharedSentinel(t).URL() }},
	}
	tests := []struct {
		name string
		fn   func(*testing.T, *harness)
	}{
		{"ConcurrentSubmissionsApplyOnce", testConcurrentSubmissionsApplyOnce},
		{"SuccessHookUndoneWhenRaceLost", testSuccessHookUndoneWhenRaceLost},
		{"SealedConcurrentSubmissionsApplyOnce", testSealedConcurrentSubmissionsApplyOnce},
		{"SealedSuccessHookUndoneWhenRaceLost", testSealedSuccessHookUndoneWhenRaceLost},
		{"WriteBehindOncePerStep", testWriteBehindOncePerStep},
	}
	for _, top := range topologies {
		t.Run(top.name, func(t *testing.T) {
			url := top.url(t)
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					st, err := redisstore.Open(url, redisstore.WithPrefix(fmt.Sprintf("engine%d:", prefixes.Add(1))))
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { st.Close() })
					tc.fn(t, newHarnessOn(t, st, simple))
				})
			}
		})
	}
}
