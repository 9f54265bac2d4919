package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat times;
// 100 on every Linux that Go runs on.
const clockTicks = 100

// treeCPU returns the CPU time (user and system) used so far by process
// root and its descendants that are alive, and by the children they have
// waited for. It reads /proc/PID/stat, so it counts every PostgreSQL
// backend (each in its own session) as well as a single-process server.
func treeCPU(root int) time.Duration { return treeCPUs([]int{root})[0] }

// treeCPUs is treeCPU for each of roots, from one reading of /proc. A
// process under two of the roots counts for the nearer.
func treeCPUs(roots []int) []time.Duration {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	parent := map[int]int{}
	ticks := map[int]int64{}
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// The command name, in parentheses, may hold spaces: fields
		// count from after its closing parenthesis.
		s := string(b)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 1 || closing < 0 {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(s[:open]))
		if err != nil {
			continue
		}
		// After ")": state(0) ppid(1) … utime(11) stime(12) cutime(13)
		// cstime(14).
		fields := strings.Fields(s[closing+1:])
		if len(fields) < 15 {
			continue
		}
		parent[pid], _ = strconv.Atoi(fields[1])
		for _, k := range []int{11, 12, 13, 14} {
			v, _ := strconv.ParseInt(fields[k], 10, 64)
			ticks[pid] += v
		}
	}
	index := map[int]int{}
	for i, r := range roots {
		index[r] = i
	}
	totals := make([]int64, len(roots))
	for pid, t := range ticks {
		for p := pid; p > 1; p = parent[p] {
			if i, ok := index[p]; ok {
				totals[i] += t
				break
			}
		}
	}
	out := make([]time.Duration, len(roots))
	for i, t := range totals {
		out[i] = time.Duration(t) * time.Second / clockTicks
	}
	return out
}

// selfCPU returns the CPU time this process (the load generator) has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
