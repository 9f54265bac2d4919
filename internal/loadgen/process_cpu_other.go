//go:build !unix

package loadgen

import "time"

// processCPU is unknown here: zero.
func processCPU() time.Duration { return 0 }
