// Package loadgen is the load generator behind `truce bench` and the
// side-by-side peer comparison in bench/: it runs a workload from many
// concurrent clients for a duration or a count of operations, records every
// operation's latency in HDR histograms (overall and per interval), and
// reports throughput, goodput, conflicts, retries and latency percentiles as
// a table, as JSON and as an SVG chart.
//
// A system under test is a Store (truce over HTTP here; etcd, PostgreSQL
// and a no-op HTTP handler in bench/). The generic workloads (read, update,
// update-hot, create, mixed) run against any Store with the same logic and
// the same retry loops, so that their figures compare; workloads that need
// truce itself (merge-hot, and later tx-transfer, lock-cycle, watch-fanout)
// take a *Truce.
package loadgen
