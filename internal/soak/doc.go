// Package soak runs a real `truce serve` under a mixed load for a long time
// (make soak; SOAK=10m by default) and fails on any violation, unexpected
// error, or growth of its resources: the test in this package sends
// updates with If-Match, merge patches, lock–write–unlock cycles, atomic
// batches and change-feed subscribers at once, checks that no acknowledged
// update is lost, that locked writes never interleave, and that every
// subscriber sees seqs in order, and samples the server's resident memory,
// goroutines, open files and disk use every TRUCE_SOAK_SAMPLE (10 s).
package soak
