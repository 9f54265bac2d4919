package main

import (
	"os"
	"runtime"
)

// A spare processor. Go runs goroutines on GOMAXPROCS processors (Ps),
// by default one per core. On a 2-core machine under 64 clients of
// If-Match updates (truce bench on the same cores), one P more than there
// are cores lowered p99 update latency in 19 of 20 paired runs (by 3 to
// 10 ms, from 24-35 ms; the other pair tied) and raised throughput by a
// median 6%, while the read workload stayed within the runs' noise. Four
// Ps were no better than three, and a no-op net/http handler gains
// nothing from the spare P.
//
// Two effects make that up. With the load generator given a spare P too,
// so that both processes run as many threads, the server's spare P still
// lowered p99 in each of four pairs (by 0.7-2.3 ms: p99 went from about 3
// to 2.7 times the mean) for 2-5% less throughput: the time inside truce's
// handlers stays the same, and what shrinks is the wait around them for a
// P, likely because the store's own goroutines hold one while they work
// (the WAL's fsync until the runtime takes the P back, a flush or
// compaction for up to 10 ms between preemptions). The rest, the
// throughput, is the kernel giving a process with more runnable threads a
// larger share of cores it shares with others (here the load generator),
// as PostgreSQL's process per connection gets. So serve runs with a spare
// P, unless GOMAXPROCS is set in the environment or a CPU limit (a
// container's quota) makes Go's default lower than the number of cores: a
// P above a quota would only get the process throttled.

// serveProcs is the GOMAXPROCS serve runs with: current (Go's default)
// plus one if that default is every core and the environment does not set
// GOMAXPROCS, otherwise current.
func serveProcs(envSet bool, current, cores int) int {
	if envSet || current != cores {
		return current
	}
	return cores + 1
}

// useSpareProc sets GOMAXPROCS to serveProcs, and returns the function
// that gives the runtime its default back.
func useSpareProc() (undo func()) {
	_, envSet := os.LookupEnv("GOMAXPROCS")
	current := runtime.GOMAXPROCS(0)
	n := serveProcs(envSet, current, runtime.NumCPU())
	if n == current {
		return func() {}
	}
	runtime.GOMAXPROCS(n)
	return runtime.SetDefaultGOMAXPROCS
}
