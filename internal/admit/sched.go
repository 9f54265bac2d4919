package admit

import (
	"math"
	"runtime/metrics"
	"time"
)

// schedLatencies is the Go runtime's histogram of how long goroutines
// wait, ready to run, for a P: it grows when the process's threads cannot
// get the CPU, or when more goroutines are ready than the Ps run.
const schedLatencies = "/sched/latencies:seconds"

// Sched returns a Signal that reads the Go scheduler's latency: the 99th
// percentile of how long goroutines waited to run since the previous
// call (0 when none did). A server whose CPU keeps up runs a ready
// goroutine within microseconds; one that cannot keep up leaves them
// waiting milliseconds, and leaves its connections' requests unread.
func Sched() Signal {
	s := []metrics.Sample{{Name: schedLatencies}}
	var prev []uint64
	return func() time.Duration {
		metrics.Read(s)
		if s[0].Value.Kind() != metrics.KindFloat64Histogram {
			return 0
		}
		h := s[0].Value.Float64Histogram()
		d := quantile(h, prev, 0.99)
		prev = append(prev[:0], h.Counts...)
		return d
	}
}

// quantile is the q-quantile of the samples h counts beyond prev (h's
// counts at an earlier read), as the upper bound of the bucket it falls
// in.
func quantile(h *metrics.Float64Histogram, prev []uint64, q float64) time.Duration {
	var total uint64
	for i, c := range h.Counts {
		if i < len(prev) {
			c -= prev[i]
		}
		total += c
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, c := range h.Counts {
		if i < len(prev) {
			c -= prev[i]
		}
		seen += c
		if seen >= rank {
			up := h.Buckets[i+1]
			if math.IsInf(up, 1) {
				up = h.Buckets[i]
			}
			return time.Duration(up * float64(time.Second))
		}
	}
	return 0
}
