package pgtest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Kill kills the server the way kill -9 does: SIGKILL to the postmaster
// and to each of its processes at once, so that none of them writes,
// flushes or says goodbye to anything; it returns once they have all
// exited. What was committed is in the WAL, which the next start
// (Restart) replays. Unlike Crash, which asks the postmaster to stop at
// once, nothing of the server takes part.
func (s *Server) Kill() {
	s.tb.Helper()
	if s.r == nil {
		return
	}
	pid := s.r.proc.Pid
	procs := append(children(pid), pid)
	for _, p := range procs {
		syscall.Kill(p, syscall.SIGKILL)
	}
	select {
	case <-s.r.done:
	case <-time.After(30 * time.Second):
		s.tb.Fatalf("pgtest: the postmaster did not exit within 30 s of SIGKILL")
	}
	// The children were the postmaster's; whoever adopted them reaps them.
	deadline := time.Now().Add(30 * time.Second)
	for _, p := range procs {
		for alive(p) {
			if time.Now().After(deadline) {
				s.tb.Fatalf("pgtest: process %d of the server did not exit within 30 s of SIGKILL", p)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	s.r = nil
}

// children returns the pids of the processes whose parent is pid.
func children(pid int) []int {
	var out []int
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:])
		if len(fields) < 2 || fields[1] != strconv.Itoa(pid) {
			continue
		}
		if p, err := strconv.Atoi(filepath.Base(filepath.Dir(f))); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// alive reports whether process p exists and is not a zombie.
func alive(p int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && len(s) > i+2 && s[i+2] != 'Z'
}
