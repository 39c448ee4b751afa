package app

import (
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// GC floor: with Go's default GOGC=100 a collection starts each time the heap has grown
// by its live size since the last one. A login server's live heap is small (a few MiB
// plus what the embedded store holds), while each login allocates tens of KiB that die
// at once, so with a small live heap the collector ran every few dozen logins and cost
// as much CPU as the rest of a login (measured with GODEBUG=gctrace=1 under `arbor
// bench`). The floor lets the heap grow by at least floor bytes between collections:
// it raises GOGC while the live heap is below the floor and leaves it at 100 once the
// live heap is larger, so memory grows by at most the floor and the collector's
// frequency no longer depends on how little is live. The embedded store keeps its keys
// in pointer-free memory, so the collections that do run cost little however many
// sessions it holds.

// gcFloorInterval is how often the floor re-reads the live heap.
const gcFloorInterval = time.Second

// gcPercentFor returns the GOGC that lets the heap grow by at least floor bytes
// before the next collection, never below Go's default of 100. base is what GOGC is a
// percentage of: the live heap plus the stacks and globals the last collection
// scanned (Go's heap goal is live + base*GOGC/100). Taking the live heap alone
// overshot: after a fresh server's first collection (1 MB live), a 128 MiB floor set
// a 335 MB goal (GODEBUG=gctrace=1). A base under 4 MiB, Go's smallest heap goal,
// counts as 4 MiB.
func gcPercentFor(base, floor uint64) int {
	base = max(base, 4<<20)
	return max(100, int((floor*100+base-1)/base))
}

// gcFloor adjusts GOGC to the heap until stopped.
type gcFloor struct {
	floor uint64
	base  func() uint64         // what GOGC is a percentage of, in bytes (gcBase)
	set   func(percent int) int // debug.SetGCPercent
	last  int
}

// StartGCFloor keeps the garbage collector from running before the heap has grown by
// floorBytes since the last collection (see the comment above gcPercentFor), by
// re-setting GOGC each second from the live heap, stacks and globals. It does nothing
// when floorBytes is 0 or the GOGC environment variable is set, since the operator
// then chose. The returned function stops it and restores the GOGC in force before.
func StartGCFloor(floorBytes uint64, log *slog.Logger) (stop func()) {
	if floorBytes == 0 {
		return func() {}
	}
	if v, ok := os.LookupEnv("GOGC"); ok {
		log.Info("GOGC is set: gc_heap_floor_mib is ignored", "GOGC", v)
		return func() {}
	}
	g := &gcFloor{floor: floorBytes, base: gcBase, set: debug.SetGCPercent}
	orig := g.adjust()
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(gcFloorInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				g.adjust()
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		g.set(orig)
	}
}

// adjust sets GOGC for the current base, if it changed by more than a tenth, and
// returns the GOGC in force before its first call.
func (g *gcFloor) adjust() (previous int) {
	p := gcPercentFor(g.base(), g.floor)
	if g.last != 0 && p*10 > g.last*9 && p*10 < g.last*11 {
		return g.last
	}
	previous = g.set(p)
	g.last = p
	return previous
}

// gcBase reads what GOGC is a percentage of: the heap the last collection found live
// plus the stacks and globals it scanned.
func gcBase() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}
	metrics.Read(s)
	var sum uint64
	for _, v := range s {
		if v.Value.Kind() == metrics.KindUint64 {
			sum += v.Value.Uint64()
		}
	}
	return sum
}
