package main

import (
	"io/fs"
	"os"
	"path"
	"runtime"
	"strconv"
	"strings"
)

// A spare processor. Go runs goroutines on GOMAXPROCS processors (Ps),
// by default one per core. On a small machine under many clients of
// If-Match updates (truce bench on the same cores), one P more than there
// are cores lowered p99 update latency and raised throughput, while reads
// did not change beyond the noise; a second spare P added nothing, and a
// no-op net/http handler gains nothing from one. The paired runs are in
// docs/benchmarks.md ("Figures behind the code's choices").
//
// Two effects make that up. With the load generator given a spare P too,
// so that both processes run as many threads, the server's spare P still
// lowered p99, for a little less throughput: the time inside truce's
// handlers stays the same, and what shrinks is the wait around them for a
// P, likely because the store's own goroutines hold one while they work
// (the WAL's fsync until the runtime takes the P back, a flush or
// compaction until the next preemption). The rest, the throughput, is the
// kernel giving a process with more runnable threads a larger share of
// cores it shares with others (here the load generator), as PostgreSQL's
// process per connection gets. So serve runs with a spare P, unless GOMAXPROCS is set in the environment or the process runs under
// a CPU quota (a container's limit): a P above a quota would only get the
// process throttled. Go's own default cannot tell a quota of one core on a
// 2-core machine from none (it never goes below 2), so cpuQuota reads the
// cgroup files itself.

// serveProcs is the GOMAXPROCS serve runs with: current (Go's default)
// plus one if that default is every core, the environment does not set
// GOMAXPROCS and no CPU quota applies; otherwise current.
func serveProcs(envSet, quota bool, current, cores int) int {
	if envSet || quota || current != cores {
		return current
	}
	return cores + 1
}

// useSpareProc sets GOMAXPROCS to serveProcs, and returns the function
// that gives the runtime its default back.
func useSpareProc() (undo func()) {
	_, envSet := os.LookupEnv("GOMAXPROCS")
	current := runtime.GOMAXPROCS(0)
	n := serveProcs(envSet, cpuQuota(os.DirFS("/")), current, runtime.NumCPU())
	if n == current {
		return func() {}
	}
	runtime.GOMAXPROCS(n)
	return runtime.SetDefaultGOMAXPROCS
}

// cpuQuota reports whether a cgroup CPU quota applies to this process, as
// far as the usual places in the file system root show: cgroup v2's
// cpu.max and cgroup v1's cpu.cfs_quota_us, at the root of their mounts
// (where a container sees its own cgroup) and under this process's cgroup
// path and its ancestors. Files that are missing say nothing.
func cpuQuota(root fs.FS) bool {
	var dirs []string
	if own, err := fs.ReadFile(root, "proc/self/cgroup"); err == nil {
		for line := range strings.Lines(string(own)) {
			// hierarchy-id:controllers:path
			parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
			if len(parts) != 3 {
				continue
			}
			for p := parts[2]; ; p = path.Dir(p) {
				dirs = append(dirs, strings.Trim(p, "/"))
				if p == "/" || p == "." || p == "" {
					break
				}
			}
		}
	}
	dirs = append(dirs, "")
	for _, d := range dirs {
		if b, err := fs.ReadFile(root, path.Join("sys/fs/cgroup", d, "cpu.max")); err == nil {
			if f := strings.Fields(string(b)); len(f) > 0 && f[0] != "max" {
				return true
			}
		}
		for _, mount := range []string{"cpu", "cpu,cpuacct", "cpuacct,cpu"} {
			if b, err := fs.ReadFile(root, path.Join("sys/fs/cgroup", mount, d, "cpu.cfs_quota_us")); err == nil {
				if q, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && q > 0 {
					return true
				}
			}
		}
	}
	return false
}
