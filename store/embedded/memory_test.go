package embedded

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/arbor-auth/arbor/sessions"
)

// flowValue is an engine flow of a push-mfa login waiting for the phone, as the engine
// encodes it (473 bytes; the same shape as engine.BenchmarkFlowsInFlight's).
const flowValue = `{"j":"push-mfa","v":3,"r":"/","n":"push_wait","s":{"arbor.factors":["pwd"],"login.layout":[1,1],"push.device":"4f1c2b9e-8d7a-4c3b-9e2f-1a2b3c4d5e6f","push.message":"AUTHENTICATE:c0afe7a2-d384-40af-8b26-c4106d3eef051000000000","push.number":42,"push.sent":1796029667497,"realm":"/","username":"user0000000@example.com"},"p":[{"t":"PollingWaitCallback"},{"t":"HiddenValueCallback","i":[""]},{"t":"ConfirmationCallback","i":[""]}],"c":5,"t0":1796029667497,"exp":1796029967497}`

// heapAfterGC returns the live heap after a full collection.
func heapAfterGC() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkMemoryPerKey measures the live heap each session and each flow costs in
// the embedded store: 100 000 real sessions (sessions.Manager.Create) or flows, heap
// after a full GC before and after, divided by the count. The Go runtime's resident
// memory is about twice the live heap with the default GOGC=100.
//
//	go test ./store/embedded -run '^$' -bench MemoryPerKey -benchtime 1x
func BenchmarkMemoryPerKey(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	for _, kind := range []string{"session", "flow"} {
		b.Run(kind, func(b *testing.B) {
			for b.Loop() {
				s, err := Open(Options{Dir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				mgr := sessions.New(s, sessions.Config{})
				before := heapAfterGC()
				for i := range n {
					if kind == "session" {
						if _, _, err := mgr.Create(ctx, fmt.Sprintf("user%07d@example.com", i), "/", "login", nil); err != nil {
							b.Fatal(err)
						}
						continue
					}
					if _, err := s.CAS(ctx, fmt.Sprintf("flow:{%022d}", i), []byte(flowValue), 0, 5*time.Minute); err != nil {
						b.Fatal(err)
					}
				}
				after := heapAfterGC()
				b.ReportMetric(float64(after-before)/n, "B/"+kind)
				runtime.KeepAlive(s)
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
				// The same keys loaded from the data file at Open.
				before = heapAfterGC()
				s, err = Open(Options{Dir: s.dir})
				if err != nil {
					b.Fatal(err)
				}
				after = heapAfterGC()
				b.ReportMetric(float64(after-before)/n, "B/"+kind+"-reopened")
				runtime.KeepAlive(s)
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
