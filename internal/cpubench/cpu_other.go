//go:build !unix

package cpubench

import "time"

// processCPU is not measured here: Start's report reads 0 cpu-ns/op.
func processCPU() time.Duration { return 0 }
