//go:build cgo && linux

package main

// Malloc arenas. Built with cgo, Pebble keeps its block cache and its
// memtables in memory from C's malloc, off the Go heap. glibc gives a
// thread that finds the arenas busy an arena of its own, up to eight per
// core, and memory freed in one arena is not reused by another, so with Go
// moving its goroutines between threads the process held on to much more
// than the store uses. With 100,000 documents of 1 KiB (an update
// workload at 64 clients, then a read workload) peak RSS was about 240 MB
// with glibc's default, 210 MB with 4 arenas, 190 MB with 2 and 173 MB
// with 1, with no difference in throughput beyond the runs' noise.
//
// So the truce binary asks glibc for 2 arenas (mallopt's M_ARENA_MAX),
// unless the environment chooses (MALLOC_ARENA_MAX, or GLIBC_TUNABLES). It
// must do so before the Go runtime starts its threads, which create
// arenas of their own as they start (six by the time main runs, on 2
// cores), hence a C constructor, which runs when the program is loaded.
// With another C library (musl) or without cgo there is nothing to do.

/*
#include <malloc.h>
#include <stdlib.h>

#define TRUCE_MALLOC_ARENAS 2

static int truce_malloc_arenas;

__attribute__((constructor)) static void truce_limit_malloc_arenas(void) {
#ifdef M_ARENA_MAX
	if (getenv("MALLOC_ARENA_MAX") != NULL || getenv("GLIBC_TUNABLES") != NULL) {
		return;
	}
	if (mallopt(M_ARENA_MAX, TRUCE_MALLOC_ARENAS) == 1) {
		truce_malloc_arenas = TRUCE_MALLOC_ARENAS;
	}
#endif
}

static int truce_malloc_arena_limit(void) { return truce_malloc_arenas; }

static int truce_have_arena_max(void) {
#ifdef M_ARENA_MAX
	return 1;
#else
	return 0;
#endif
}
*/
import "C"

// mallocArenas is the arena limit the binary sets.
const mallocArenas = C.TRUCE_MALLOC_ARENAS

// mallocArenaLimit is the arena limit the binary set when it was loaded,
// or 0 if it set none.
func mallocArenaLimit() int { return int(C.truce_malloc_arena_limit()) }

// haveArenaMax reports whether the C library has M_ARENA_MAX (glibc).
func haveArenaMax() bool { return C.truce_have_arena_max() == 1 }
