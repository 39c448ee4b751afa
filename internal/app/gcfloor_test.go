package app

import (
	"log/slog"
	"runtime/debug"
	"testing"
)

func TestGCPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name        string
		base, floor uint64
		want        int
	}{
		{"small heap: grow by the floor", 8 * mib, 32 * mib, 400},
		{"rounded up", 6 * mib, 32 * mib, 534},
		{"less than Go's smallest goal counts as 4 MiB", 1 * mib, 32 * mib, 800},
		{"nothing measured yet counts as 4 MiB", 0, 128 * mib, 3200},
		{"heap as large as the floor: Go's default", 32 * mib, 32 * mib, 100},
		{"large heap: never below Go's default", 512 * mib, 32 * mib, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := gcPercentFor(tc.base, tc.floor); got != tc.want {
				t.Errorf("gcPercentFor(%d, %d) = %d, want %d", tc.base, tc.floor, got, tc.want)
			}
		})
	}
}

// TestGCFloorAdjust follows the base (live heap, stacks, globals), skipping changes of
// less than a tenth.
func TestGCFloorAdjust(t *testing.T) {
	const mib = 1 << 20
	live := uint64(4 * mib)
	var sets []int
	g := &gcFloor{floor: 32 * mib, base: func() uint64 { return live }, set: func(p int) int { sets = append(sets, p); return 100 }}
	if prev := g.adjust(); prev != 100 {
		t.Fatalf("first adjust returns %d, want the GOGC before (100)", prev)
	}
	live = 4*mib + mib/4 // 753 %, within a tenth of 800: left alone
	g.adjust()
	live = 64 * mib
	g.adjust()
	if want := []int{800, 100}; len(sets) != len(want) || sets[0] != want[0] || sets[1] != want[1] {
		t.Errorf("GOGC set to %v, want %v", sets, want)
	}
}

// TestStartGCFloor raises GOGC for this test process's small heap and restores it on
// stop; with GOGC set in the environment it leaves GOGC alone.
func TestStartGCFloor(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)

	stop := StartGCFloor(1<<30, slog.New(slog.DiscardHandler))
	if got := debug.SetGCPercent(100); got <= 100 {
		t.Errorf("GOGC with a 1 GiB floor is %d, want more than 100", got)
	}
	stop()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC after stop is %d, want 100 restored", got)
	}

	t.Setenv("GOGC", "100")
	StartGCFloor(1<<30, slog.New(slog.DiscardHandler))()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC with GOGC set in the environment is %d, want it untouched (100)", got)
	}
}
