package radius_test

import (
	"context"
	"net/netip"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"layeh.com/radius"
)

// BenchmarkAccessRequest measures the door answering Access-Requests of the
// password-only login journey (right password, Access-Accept) with the cheapest
// password hash, packets built beforehand: requests per second and the process CPU
// per request (user + system, all goroutines). Run:
//
//	go test ./radius -run '^$' -bench AccessRequest -benchtime 20000x
func BenchmarkAccessRequest(b *testing.B) {
	e := newEnv(b, "login", "")
	raws := make([][]byte, b.N)
	for i := range raws {
		raws[i] = request(b, secret, nil) // a fresh authenticator each: no duplicates
	}
	ctx := context.Background()
	var next, bad atomic.Int64
	before := cpu()
	start := time.Now()
	b.SetParallelism(4) // 8 requests in flight on 2 CPUs, as a busy gateway sends them
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			from := netip.AddrPortFrom(gateway.Addr(), uint16(1024+i%50000))
			reply := e.app.RADIUS.Handle(ctx, raws[i], from)
			if len(reply) < 20 || radius.Code(reply[0]) != radius.CodeAccessAccept {
				bad.Add(1)
			}
		}
	})
	b.StopTimer()
	elapsed, used := time.Since(start), cpu()-before
	if bad.Load() > 0 {
		b.Fatalf("%d requests were not accepted", bad.Load())
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(used.Microseconds())/float64(b.N), "cpu-µs/op")
}

// cpu is the process's user + system CPU time so far.
func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
