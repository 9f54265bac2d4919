package main

import (
	"os"
	"runtime"
	"testing"
)

func TestServeProcs(t *testing.T) {
	for _, c := range []struct {
		envSet         bool
		current, cores int
		want           int
	}{
		{false, 2, 2, 3}, // no limit: a spare P
		{false, 16, 16, 17},
		{true, 2, 2, 2}, // GOMAXPROCS in the environment decides
		{true, 8, 2, 8},
		{false, 1, 4, 1},  // a CPU quota of one core: stay within it
		{false, 3, 16, 3}, // a quota of 2.5 cores (Go rounds up)
	} {
		if got := serveProcs(c.envSet, c.current, c.cores); got != c.want {
			t.Errorf("serveProcs(env set %v, current %d, cores %d) = %d, want %d", c.envSet, c.current, c.cores, got, c.want)
		}
	}
}

// TestUseSpareProc: without GOMAXPROCS in the environment serve runs one P
// more than Go's default (when that default is every core), and undo gives
// the default back; with GOMAXPROCS set it changes nothing.
func TestUseSpareProc(t *testing.T) {
	t.Setenv("GOMAXPROCS", "") // restored after the test
	os.Unsetenv("GOMAXPROCS")
	runtime.SetDefaultGOMAXPROCS()
	defer runtime.SetDefaultGOMAXPROCS()
	def := runtime.GOMAXPROCS(0)
	if def != runtime.NumCPU() {
		t.Skipf("Go's default GOMAXPROCS here is %d, below the %d cores (a CPU limit), so serve keeps it", def, runtime.NumCPU())
	}
	undo := useSpareProc()
	if got := runtime.GOMAXPROCS(0); got != def+1 {
		t.Errorf("GOMAXPROCS = %d with a spare P, want %d", got, def+1)
	}
	undo()
	if got := runtime.GOMAXPROCS(0); got != def {
		t.Errorf("after undo GOMAXPROCS = %d, want the default %d", got, def)
	}

	os.Setenv("GOMAXPROCS", "1")
	runtime.GOMAXPROCS(1)
	useSpareProc()()
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("with GOMAXPROCS=1 in the environment serve set GOMAXPROCS to %d", got)
	}
}
