//go:build !cgo || !linux

package main

// mallocArenas is the arena limit the binary would set with cgo on Linux
// (malloc_cgo.go).
const mallocArenas = 2

// mallocArenaLimit reports 0: without cgo, or off Linux, no arena limit is
// set.
func mallocArenaLimit() int { return 0 }

// haveArenaMax reports false: the arena limit is only set with cgo on
// Linux.
func haveArenaMax() bool { return false }

// mallocHeaps reports -1: it is only counted with cgo on Linux.
func mallocHeaps() int { return -1 }

// mallocTouch does nothing.
func mallocTouch() {}
