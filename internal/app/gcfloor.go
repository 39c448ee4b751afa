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

// gcPercentFor returns the GOGC that lets a heap with live bytes live grow by at least
// floor bytes before the next collection, never below Go's default of 100.
func gcPercentFor(live, floor uint64) int {
	live = max(live, 1<<20)
	return max(100, int((floor*100+live-1)/live))
}

// gcFloor adjusts GOGC to the live heap until stopped.
type gcFloor struct {
	floor uint64
	live  func() uint64         // the live heap, in bytes
	set   func(percent int) int // debug.SetGCPercent
	last  int
}

// StartGCFloor keeps the garbage collector from running before the heap has grown by
// floorBytes since the last collection (see the comment above gcPercentFor), by
// re-setting GOGC each second from the live heap. It does nothing when floorBytes is
// 0 or the GOGC environment variable is set, since the operator then chose. The
// returned function stops it and restores the GOGC in force before.
func StartGCFloor(floorBytes uint64, log *slog.Logger) (stop func()) {
	if floorBytes == 0 {
		return func() {}
	}
	if v, ok := os.LookupEnv("GOGC"); ok {
		log.Info("GOGC is set: gc_heap_floor_mib is ignored", "GOGC", v)
		return func() {}
	}
	g := &gcFloor{floor: floorBytes, live: liveHeap, set: debug.SetGCPercent}
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

// adjust sets GOGC for the current live heap, if it changed by more than a tenth, and
// returns the GOGC in force before its first call.
func (g *gcFloor) adjust() (previous int) {
	p := gcPercentFor(g.live(), g.floor)
	if g.last != 0 && p*10 > g.last*9 && p*10 < g.last*11 {
		return g.last
	}
	previous = g.set(p)
	g.last = p
	return previous
}

// liveHeap reads the bytes of heap the last collection found live.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
