package main

import (
	"strings"
	"testing"
	"time"

	"github.com/trucedb/truce/internal/loadgen"
)

func fake(system, workload string, round int, throughput, p99 float64) result {
	return result{System: system, Label: system, Workload: workload, Round: round,
		Report: &loadgen.Report{Workload: workload, Throughput: throughput, Goodput: throughput, Seconds: 10,
			Latency: loadgen.Latency{P50: p99 / 2, P99: p99}}}
}

func TestMediansPickTheMiddleRun(t *testing.T) {
	all := []result{
		fake("truce", "update", 1, 300, 1), fake("etcd", "update", 1, 50, 1),
		fake("truce", "update", 2, 100, 2), fake("etcd", "update", 2, 60, 1),
		fake("truce", "update", 3, 200, 3),
	}
	got := medians(all)
	if len(got) != 2 || got[0].Round != 3 || got[1].Report.Throughput != 50 {
		t.Errorf("medians: %+v", got)
	}
}

func TestMarkdownRatiosAndTargets(t *testing.T) {
	o := options{clients: 64, docSize: 1024, docs: 1000, duration: 10 * time.Second, warmup: 3 * time.Second, rounds: 1, command: "bench/run.sh"}
	results := []result{
		fake("truce", "read", 1, 7000, 5), fake("truce", "update", 1, 6000, 20),
		fake("truce", "update-hot", 1, 100, 500), fake("truce", "merge-hot", 1, 1000, 50),
		fake("etcd", "update", 1, 3000, 30), fake("postgres", "update", 1, 4000, 30),
		fake("noop", "read", 1, 10000, 4),
	}
	infos := []systemInfo{{Name: "truce", Label: "truce"}, {Name: "etcd", Label: "etcd"}, {Name: "postgres", Label: "postgres"}, {Name: "noop", Label: "noop"}}
	results[1].ServerCPUMicros, results[1].ClientCPUMicros = 100, 100 // truce update
	results[4].ServerCPUMicros, results[4].ClientCPUMicros = 300, 100 // etcd update
	md := markdown(o, t.TempDir(), infos, results, results)
	for _, want := range []string{
		"| update | ops/s | 6,000 | 3,000 | 4,000 | n/a | 2.00× | 1.50× |",
		"| durable conditional updates ≥ 1.5× etcd | 2.00× | yes | 2.00× | yes |",
		"| durable conditional updates ≥ 2× the PostgreSQL pattern | 1.50× | no |",
		"| reads ≥ 70% of the no-op handler | 70% | yes |",
		"| merge-hot goodput ≥ 5× update-hot | 10.0× | yes |",
		"| update p99 < 25 ms at 64 clients (issue 2) | 20.0 ms | yes |",
		"![merge-hot](benchmarks-merge-hot.svg)",
		"\n## Figures behind the code's choices\n",
		"bench/run.sh",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q:\n%s", want, md)
		}
	}
}

func TestMarkdownTruceOnPostgres(t *testing.T) {
	o := options{clients: 64, docSize: 1024, docs: 1000, duration: 10 * time.Second, warmup: 3 * time.Second, rounds: 1, command: "bench/run.sh"}
	pg1, pg2 := fake("truce-pg1", "update", 1, 800, 100), fake("truce-pg2", "update", 1, 600, 150)
	pg1.ServerCPUMicros, pg1.ServerParts = 2000, []partCPU{{"node 1", 900}, {"PostgreSQL", 1100}}
	pg2.ServerCPUMicros, pg2.ServerParts = 2200, []partCPU{{"node 1", 500}, {"node 2", 480}, {"PostgreSQL", 1220}}
	pg2.Report.Clients, pg2.Report.Ops = 64, 100
	read1 := fake("truce-pg1", "read", 1, 6000, 20)
	read1.ServerCPUMicros, read1.ServerParts = 160, []partCPU{{"node 1", 60}, {"PostgreSQL", 100}}
	pattern, pebble := fake("postgres", "update", 1, 1000, 50), fake("truce", "update", 1, 2000, 20)
	pattern.ServerCPUMicros, pebble.ServerCPUMicros = 400, 90
	results := []result{pebble, pattern, read1, pg1, pg2}
	infos := []systemInfo{{Name: "truce", Label: "truce (Pebble)"}, {Name: "postgres", Label: "PostgreSQL"},
		{Name: "truce-pg1", Label: "truce on PostgreSQL, 1 node"}, {Name: "truce-pg2", Label: "truce on PostgreSQL, 2 nodes"}}
	md := markdown(o, t.TempDir(), infos, results, results)
	for _, want := range []string{
		"\n\n## truce on PostgreSQL, 1 to 2 nodes (issue 18)\n\n",
		"| truce on PostgreSQL, 1 node: updates ≥ 80% of the PostgreSQL pattern (issue 18) | 80% | yes | 20% | no |",
		"| workload | figure | PostgreSQL | truce (Pebble) | truce on PostgreSQL, 1 node | truce on PostgreSQL, 2 nodes | 1 node ÷ PostgreSQL | 2 nodes ÷ PostgreSQL |",
		"| update | ops/s | 1,000 | 2,000 | 800 | 600 | 0.80× | 0.60× |",
		"| update | truce CPU µs/op | — | 90 | 900 | 980 | | |",
		"| update | each node's CPU µs/op | — | — | 900 | 500 + 480 | | |",
		"| update | PostgreSQL CPU µs/op | 400 | — | 1,100 | 1,220 | 2.75× | 3.05× |",
		"| read | ops/s | n/a | n/a | 6,000 | n/a | | |",
		// 1,100 − 100 µs of PostgreSQL's under the lock: 1,000 writes/s.
		"1,100 − 100 ≈ 1,000 µs, so writes cannot\n  exceed about 1,000,000 ÷ 1,000 ≈ 1,000/s",
		"half an operation a client): update on truce on PostgreSQL, 2 nodes (100 operations: up to 32%).",
		"once the nodes have about 0.6 cores, in all, for each core of PostgreSQL's (60 ÷ 100)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q:\n%s", want, md)
		}
	}
	// The main table keeps to truce on Pebble and its peers.
	if strings.Contains(md, "| update | ops/s | 2,000 | 1,000 | 800 |") {
		t.Errorf("the main table has truce on PostgreSQL in it")
	}
}

func TestRatiosOverRounds(t *testing.T) {
	all := []result{
		fake("truce", "update", 1, 300, 1), fake("etcd", "update", 1, 100, 1),
		fake("truce", "update", 2, 200, 1), fake("etcd", "update", 2, 100, 1),
		fake("truce", "update", 3, 500, 1), fake("etcd", "update", 3, 250, 1),
	}
	tp := func(r *result) float64 { return r.Report.Throughput }
	rs := roundRatios(all, "truce", "etcd", "update", tp)
	if len(rs) != 3 || rs[0] != 3 || rs[1] != 2 || rs[2] != 2 {
		t.Fatalf("round ratios %v, want [3 2 2]", rs)
	}
	if got := ratioCell(rs, 99); got != "2.00× (2.00–3.00)" {
		t.Errorf("ratio cell %q", got)
	}
	if got := ratioCell(rs[:1], 1.5); got != "1.50×" {
		t.Errorf("one round's cell %q", got)
	}
}
