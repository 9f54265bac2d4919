package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestMallocArenaLimit runs this test binary again under different
// environments and reads the arena limit it set when it was loaded: the
// binary's own where the C library has the setting (glibc, with cgo), none
// where the environment chooses.
func TestMallocArenaLimit(t *testing.T) {
	if os.Getenv("TRUCE_PRINT_ARENA_LIMIT") == "1" {
		fmt.Printf("arena-limit=%d\n", mallocArenaLimit())
		return
	}
	if !haveArenaMax() {
		t.Skip("no M_ARENA_MAX here: built without cgo, or the C library is not glibc")
	}
	want := mallocArenas
	for _, tc := range []struct {
		env  string
		want int
	}{
		{"", want},
		{"MALLOC_ARENA_MAX=8", 0},
		{"GLIBC_TUNABLES=glibc.malloc.arena_max=4", 0},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMallocArenaLimit$")
		cmd.Env = []string{"TRUCE_PRINT_ARENA_LIMIT=1"}
		if tc.env != "" {
			cmd.Env = append(cmd.Env, tc.env)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", tc.env, err, out)
		}
		_, after, ok := strings.Cut(string(out), "arena-limit=")
		if !ok {
			t.Fatalf("%s: no arena-limit= in the output:\n%s", tc.env, out)
		}
		got, err := strconv.Atoi(strings.Fields(after)[0])
		if err != nil || got != tc.want {
			t.Errorf("with environment %q the arena limit is %q, want %d", tc.env, after, tc.want)
		}
	}
}
