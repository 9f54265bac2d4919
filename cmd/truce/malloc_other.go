//go:build !cgo || !linux

package main

// mallocArenas is the arena limit the binary would set with cgo on Linux
// (malloc_cgo.go).
const mallocArenas = 2

// mallocArenaLimit reports 0: without cgo, Pebble allocates on the Go
// heap and no arena limit is set.
func mallocArenaLimit() int { return 0 }

// haveArenaMax reports false: there is no C library to ask.
func haveArenaMax() bool { return false }
