// Package cpubench reports, in an in-process benchmark, the CPU time the process spent
// per operation (cpu-ns/op): the figure arbor bench reads from a server's /metrics
// (process_cpu_seconds_total), measured where a test can run it interleaved with
// another build.
package cpubench

import "testing"

// Start begins measuring; the function it returns reports cpu-ns/op on b: the
// process's user and system CPU time since Start, every thread's (the garbage
// collector's too), divided by b.N. Call Start after the benchmark's setup (and
// b.ResetTimer), and the function once its timed work is done, usually deferred:
//
//	defer cpubench.Start(b)()
//
// Where the process's CPU time cannot be read, it reports 0.
func Start(b *testing.B) (report func()) {
	cpu0 := processCPU()
	return func() {
		b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
