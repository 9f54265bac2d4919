//go:build cgo && linux

package main

// Malloc arenas. Built with cgo, Pebble keeps its block cache and its
// memtables in memory from C's malloc, off the Go heap. glibc gives each
// new thread an arena of its own at its first call, until there are eight
// per core, and memory freed in one arena is not reused by another, so
// with Go moving its goroutines between threads the process held on to
// much more than the store uses. Fewer arenas lowered peak RSS with large
// stores, with no difference in throughput beyond the runs' noise, and 2
// kept the server within issue 2's memory limit with the largest store
// measured (figures in docs/benchmarks.md, "Figures behind the code's
// choices").
//
// So the truce binary asks glibc for 2 arenas (mallopt's M_ARENA_MAX),
// unless the environment chooses: MALLOC_ARENA_MAX, or a GLIBC_TUNABLES
// that sets glibc.malloc.arena_max. It must do so before the Go runtime
// starts its threads, which take arenas as they start (several by the
// time main runs), hence a C constructor, which runs when the program is
// loaded. With another C library (musl) there is nothing to do.

/*
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRUCE_MALLOC_ARENAS 2

static int truce_malloc_arenas;

__attribute__((constructor)) static void truce_limit_malloc_arenas(void) {
#ifdef M_ARENA_MAX
	const char *tunables = getenv("GLIBC_TUNABLES");
	if (getenv("MALLOC_ARENA_MAX") != NULL ||
	    (tunables != NULL && strstr(tunables, "glibc.malloc.arena_max") != NULL)) {
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

// truce_malloc_heaps counts the arenas malloc_info reports, or returns -1.
static int truce_malloc_heaps(void) {
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (f == NULL) {
		return -1;
	}
	int ok = malloc_info(0, f) == 0;
	fclose(f);
	int n = 0;
	for (char *p = buf; ok && (p = strstr(p, "<heap nr=")) != NULL; p++) {
		n++;
	}
	free(buf);
	return ok ? n : -1;
}

// truce_malloc_touch allocates and frees, which gives the calling thread
// an arena if it has none.
static void truce_malloc_touch(void) {
	void *p = malloc(64);
	free(p);
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

// mallocHeaps is the number of arenas C's malloc has, -1 if it cannot
// tell. For the tests.
func mallocHeaps() int { return int(C.truce_malloc_heaps()) }

// mallocTouch calls C's malloc on the calling thread. For the tests.
func mallocTouch() { C.truce_malloc_touch() }
