package engine

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/arbor-auth/arbor/internal/testredis"
	"github.com/arbor-auth/arbor/journeys"
	"github.com/arbor-auth/arbor/nodes"
	"github.com/arbor-auth/arbor/store/redisstore"
)

// parkedFlow is a flow shaped like a push-mfa login waiting for the phone: user,
// verified factors, the push's message id, device and number, and the callbacks sent.
func parkedFlow(i int) *Flow {
	now := time.Now()
	return &Flow{
		Journey: "push-mfa", Version: 3, Realm: "/", Node: "push_wait", Steps: 5,
		Started: now.UnixMilli(), Expires: now.Add(5 * time.Minute).UnixMilli(),
		Shared: nodes.State{
			nodes.KeyRealm:    "/",
			nodes.KeyUsername: fmt.Sprintf("user%07d@example.com", i),
			nodes.KeyFactors:  []any{"pwd"},
			"push.message":    "AUTHENTICATE:c0afe7a2-d384-40af-8b26-c4106d3eef05" + strconv.Itoa(1e9+i),
			"push.device":     "4f1c2b9e-8d7a-4c3b-9e2f-1a2b3c4d5e6f",
			"push.number":     42,
			"push.sent":       now.UnixMilli(),
			"login.layout":    []any{1, 1},
		},
		Pending: []Pending{
			{Type: "PollingWaitCallback"},
			{Type: "HiddenValueCallback", Inputs: []string{""}},
			{Type: "ConfirmationCallback", Inputs: []string{""}},
		},
	}
}

// BenchmarkFlowsInFlight fills a real redis-server with 10³, 10⁵ and 10⁶ flows in
// flight (pipelined writes in redisstore's layout, each with its TTL), and at each size
// measures the latency of an engine step (load, run, conditional write of a flow) and
// Redis's memory per flow. Run it on its own; the 10⁶ fill takes about half a minute
// and 1 GiB of memory:
//
//	go test ./engine -run '^$' -bench FlowsInFlight -benchtime 20000x
//
// It reports ns/op (mean step), p50-µs and p99-µs (step latency percentiles) and
// B/flow (Redis used_memory growth divided by the flows added, for values of
// value-B bytes).
func BenchmarkFlowsInFlight(b *testing.B) {
	srv := testredis.Start(b)
	st, err := redisstore.Open(srv.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second})
	defer rc.Close()
	ctx := context.Background()

	deps := &nodes.Deps{Store: st, Log: slog.New(slog.DiscardHandler)}
	repo := journeys.NewRepo(st, journeys.CompileOptions{Registry: testRegistry(), Deps: deps})
	eng := New(Config{}, st, repo, deps, nil)
	if _, err := repo.Save(ctx, []byte(simple), "bench"); err != nil {
		b.Fatal(err)
	}

	usedMemory := func() int64 {
		info, err := rc.Info(ctx, "memory").Result()
		if err != nil {
			b.Fatal(err)
		}
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
		b.Fatal("INFO memory has no used_memory")
		return 0
	}

	filled := 0
	for _, size := range []int{1_000, 100_000, 1_000_000} {
		before := usedMemory()
		added := size - filled
		const batch = 1000
		for start := filled; start < size; start += batch {
			pipe := rc.Pipeline()
			for i := start; i < min(start+batch, size); i++ {
				// redisstore's layout: prefix, "v:", the key; the value is "<rev>:<bytes>".
				f := parkedFlow(i)
				pipe.Set(ctx, "arbor:v:"+flowKey(fmt.Sprintf("fill%07d", i)), append([]byte("1:"), f.marshal()...), 5*time.Minute)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				b.Fatalf("fill: %v", err)
			}
		}
		filled = size
		perFlow := float64(usedMemory()-before) / float64(added)
		// The filler must be what the engine reads: decode one back through the store.
		it, err := st.Get(ctx, flowKey("fill0000000"))
		if err != nil {
			b.Fatal(err)
		}
		var f Flow
		if err := unmarshalFlow(it.Value, &f); err != nil || f.Node != "push_wait" {
			b.Fatalf("filled flow does not decode: %v %+v", err, f)
		}

		b.Run(fmt.Sprintf("flows=%d", size), func(b *testing.B) {
			ids := make([]string, b.N)
			for i := range ids {
				res, err := eng.Start(ctx, StartRequest{Journey: "simple", Realm: "/"})
				if err != nil {
					b.Fatal(err)
				}
				ids[i] = res.FlowID
			}
			took := make([]time.Duration, b.N)
			b.ResetTimer()
			for i, id := range ids {
				t0 := time.Now()
				r, err := eng.Continue(ctx, id, "/", answer("ok"), nodes.Request{})
				took[i] = time.Since(t0)
				if err != nil || r.Status != Succeeded {
					b.Fatalf("step: %v %v", r, err)
				}
			}
			b.StopTimer()
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Nanoseconds())/1e3, "p50-µs")
			b.ReportMetric(float64(took[len(took)*99/100].Nanoseconds())/1e3, "p99-µs")
			b.ReportMetric(perFlow, "B/flow")
			b.ReportMetric(float64(len(parkedFlow(0).marshal())), "value-B")
		})
	}
}
