package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestMallocArenaLimit runs this test binary again under different
// environments. Each run calls C's malloc from mallocThreads threads at
// once, each of which takes an arena of its own while the limit allows,
// and reports the limit the binary set when it was loaded and the arenas
// malloc has then: at most mallocArenas where the binary sets the limit,
// more where the environment chooses.
func TestMallocArenaLimit(t *testing.T) {
	if os.Getenv("TRUCE_PRINT_ARENAS") == "1" {
		printArenas()
		return
	}
	if !haveArenaMax() {
		t.Skip("no M_ARENA_MAX here: built without cgo, or the C library is not glibc")
	}
	for _, tc := range []struct {
		env   string
		limit int // the limit the binary sets
		most  int // the most arenas allowed, 0 for no bound
		least int // the fewest arenas expected
	}{
		{"", mallocArenas, mallocArenas, 1},
		{"GLIBC_TUNABLES=glibc.pthread.rseq=0", mallocArenas, mallocArenas, 1},
		{"MALLOC_ARENA_MAX=8", 0, 8, mallocArenas + 1},
		{"GLIBC_TUNABLES=glibc.malloc.arena_max=4", 0, 4, mallocArenas + 1},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMallocArenaLimit$")
		cmd.Env = []string{"TRUCE_PRINT_ARENAS=1"}
		if tc.env != "" {
			cmd.Env = append(cmd.Env, tc.env)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", tc.env, err, out)
		}
		limit, heaps := field(t, out, "arena-limit="), field(t, out, "arenas=")
		if limit != tc.limit {
			t.Errorf("with environment %q the binary set an arena limit of %d, want %d", tc.env, limit, tc.limit)
		}
		if heaps < tc.least || tc.most > 0 && heaps > tc.most {
			t.Errorf("with environment %q malloc has %d arenas, want %d to %d", tc.env, heaps, tc.least, tc.most)
		}
	}
}

// mallocThreads is how many threads call malloc at once in printArenas.
const mallocThreads = 8

// printArenas calls C's malloc from mallocThreads threads, all alive at
// once, then prints the arena limit and the arenas malloc has.
func printArenas() {
	var started, done sync.WaitGroup
	started.Add(mallocThreads)
	done.Add(mallocThreads)
	release := make(chan struct{})
	for range mallocThreads {
		go func() {
			defer done.Done()
			runtime.LockOSThread() // a thread of its own until release
			defer runtime.UnlockOSThread()
			mallocTouch()
			started.Done()
			<-release
		}()
	}
	started.Wait()
	heaps := mallocHeaps()
	close(release)
	done.Wait()
	fmt.Printf("arena-limit=%d arenas=%d\n", mallocArenaLimit(), heaps)
}

// field reads the number after name in a child's output.
func field(t *testing.T, out []byte, name string) int {
	t.Helper()
	_, after, ok := strings.Cut(string(out), name)
	if !ok {
		t.Fatalf("no %s in the output:\n%s", name, out)
	}
	n, err := strconv.Atoi(strings.Fields(after)[0])
	if err != nil {
		t.Fatalf("%s%q: %v", name, after, err)
	}
	return n
}
