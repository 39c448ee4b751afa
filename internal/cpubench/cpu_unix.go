//go:build unix

package cpubench

import (
	"syscall"
	"time"
)

// processCPU is the CPU time the process has used so far, every thread counted (the
// garbage collector's too), as process_cpu_seconds_total counts it.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
