//go:build !unix

package api_test

import "time"

// processCPU is not measured here: BenchmarkLoginHandler reports 0 cpu-ns/op.
func processCPU() time.Duration { return 0 }
