package truce

import (
	"context"
	"runtime"
)

// queryGate admits query pages to the CPU a few at a time, in the order
// they came. A page is a fraction of a millisecond of CPU that never
// blocks (the store's reads hit its caches), so with more pages running
// than there are processors Go's scheduler time-slices them in 10 ms
// quanta and some wait for tens of milliseconds behind the others; in a
// queue the wait is the work ahead of them, the same for all. See
// docs/benchmarks.md, "Queries and secondary indexes".
type queryGate chan struct{}

// newQueryGate returns a gate that admits as many pages at once as there
// are cores for Go to run them on: GOMAXPROCS, or fewer when it is set
// above the cores (truce serve keeps a spare processor, procs.go).
func newQueryGate() queryGate {
	return make(queryGate, max(1, min(runtime.GOMAXPROCS(0), runtime.NumCPU())))
}

// enter waits for a turn, or for ctx to end. Channel senders are woken in
// the order they blocked, which makes the queue first come, first served.
func (g queryGate) enter(ctx context.Context) error {
	select {
	case g <- struct{}{}:
		return nil
	default:
	}
	select {
	case g <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// leave gives the turn to the next page waiting.
func (g queryGate) leave() { <-g }
