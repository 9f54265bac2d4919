package main

import (
	"os"
	"runtime"
)

// A spare processor. With every core busy serving requests, the goroutine
// that fsyncs the write-ahead log, and the commits waiting on it, queue for
// a processor (a P, of which Go runs GOMAXPROCS) behind the request
// handlers each time they wake. On a 2-core machine under 64 clients of
// If-Match updates (truce bench on the same cores), one P more than there
// are cores lowered p99 update latency in 19 of 20 paired runs (by 3 to
// 10 ms, from 24-35 ms; the other pair tied) and raised throughput by a
// median 6%, while the read workload stayed within the runs' noise. Four
// Ps were no better than three. So serve runs with one spare P, unless GOMAXPROCS is
// set in the environment or a CPU limit (a container's quota) makes Go's
// default lower than the number of cores: a spare P above a quota would
// only get the process throttled.

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
