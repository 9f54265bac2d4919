//go:build unix

package loadgen

import (
	"fmt"
	"syscall"
)

// checkFDs fails when this process may not open need more file
// descriptors (RLIMIT_NOFILE, what ulimit -n shows), raising the soft
// limit toward the hard one first.
func checkFDs(need int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil // unknown: let the connections say
	}
	want := uint64(need) + 64 // stdio, the writers' idle connections, slack
	if lim.Cur >= want {
		return nil
	}
	if lim.Max >= want {
		raised := lim
		raised.Cur = want
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%d connections need about %d file descriptors, but this process may open %d (ulimit -n; hard limit %d): raise the limit or use fewer --subscribers", need, want, lim.Cur, lim.Max)
}
