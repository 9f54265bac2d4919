package main

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/trucedb/truce/internal/loadgen"
)

// postgresPart is the name of PostgreSQL's share of a truce-on-PostgreSQL
// server's CPU.
const postgresPart = "PostgreSQL"

// cpuSplit returns the CPU per operation, in microseconds, of r's truce
// processes (every node's, summed; each node's) and of its PostgreSQL
// processes. ok is false for a figure the system does not have: no
// PostgreSQL on Pebble, no truce in the hand-written pattern.
func cpuSplit(r *result) (truceCPU float64, nodes []float64, pgCPU float64, truceOK, pgOK bool) {
	switch {
	case r.System == "truce":
		return r.ServerCPUMicros, nil, 0, true, false
	case r.System == "postgres":
		return 0, nil, r.ServerCPUMicros, false, true
	}
	for _, p := range r.ServerParts {
		if p.Name == postgresPart {
			pgCPU, pgOK = p.Micros, true
			continue
		}
		nodes = append(nodes, p.Micros)
		truceCPU += p.Micros
		truceOK = true
	}
	return truceCPU, nodes, pgCPU, truceOK, pgOK
}

// trucePostgresMarkdown renders issue 18's comparison: truce on PostgreSQL
// with 1 to 3 nodes beside the hand-written PostgreSQL pattern and truce on
// Pebble, with each run's CPU split between the nodes and PostgreSQL, and
// the estimate of where throughput stops growing with nodes that the split
// gives. It is empty when no truce-on-PostgreSQL system ran.
func trucePostgresMarkdown(label map[string]string, results []result, findRun func(system, workload string) *result) string {
	var pgSystems []string
	for _, n := range trucePostgresNodes {
		if _, ok := label[trucePostgresName(n)]; ok {
			pgSystems = append(pgSystems, trucePostgresName(n))
		}
	}
	if len(pgSystems) == 0 {
		return ""
	}
	var columns []string
	for _, s := range []string{"postgres", "truce"} {
		if _, ok := label[s]; ok {
			columns = append(columns, s)
		}
	}
	columns = append(columns, pgSystems...)
	var b strings.Builder
	fmt.Fprintf(&b, "\n## truce on PostgreSQL, 1 to %d nodes (issue 18)\n\n", len(pgSystems))
	fmt.Fprintf(&b, "`truce serve --store postgres://…` with 1, 2 and 3 nodes on one PostgreSQL (started as for the hand-written\n")
	fmt.Fprintf(&b, "pattern: a fresh cluster, fsync and synchronous_commit on), beside that pattern and truce on Pebble, from\n")
	fmt.Fprintf(&b, "the same run. There is no load balancer: the load generator spreads its clients over the nodes\n")
	fmt.Fprintf(&b, "round-robin, client i always to node i mod n, which a balancer in front of the nodes would do too. The\n")
	fmt.Fprintf(&b, "nodes, PostgreSQL and the load generator all share this machine's %d cores, so more nodes cannot add\n", runtime.NumCPU())
	fmt.Fprintf(&b, "CPU here: the measured rates show what nodes cost, not what they gain. The CPU rows split the server's\n")
	fmt.Fprintf(&b, "CPU per operation between the truce nodes (all of them, then each node's CPU divided by all the\n")
	fmt.Fprintf(&b, "operations, so the nodes' figures add up) and PostgreSQL (the postmaster and every backend); the\n")
	fmt.Fprintf(&b, "estimate below rests on them.\n\n")

	fmt.Fprintf(&b, "| workload | figure |")
	for _, s := range columns {
		fmt.Fprintf(&b, " %s |", label[s])
	}
	var ratios []string
	if _, ok := label["postgres"]; ok {
		ratios = pgSystems
		for _, s := range ratios {
			fmt.Fprintf(&b, " %s ÷ PostgreSQL |", strings.TrimPrefix(label[s], "truce on PostgreSQL, "))
		}
	}
	fmt.Fprintf(&b, "\n|---|---|%s%s\n", strings.Repeat("---:|", len(columns)), strings.Repeat("---:|", len(ratios)))
	type row struct {
		name  string
		cell  func(*result) string
		value func(*result) (float64, bool) // for the ratios
	}
	num := func(f func(*result) float64, format func(float64) string) (func(*result) string, func(*result) (float64, bool)) {
		return func(r *result) string { return format(f(r)) }, func(r *result) (float64, bool) { return f(r), true }
	}
	opsCell, opsValue := num(func(r *result) float64 { return r.Report.Throughput }, loadgen.Group)
	p99Cell, p99Value := num(func(r *result) float64 { return r.Report.Latency.P99 }, msCell)
	conflictsCell, _ := num(func(r *result) float64 {
		if r.Report.Seconds == 0 {
			return 0
		}
		return float64(r.Report.Conflicts) / r.Report.Seconds
	}, loadgen.Group)
	serverCell, serverValue := num(func(r *result) float64 { return r.ServerCPUMicros }, loadgen.Group)
	clientCell, clientValue := num(func(r *result) float64 { return r.ClientCPUMicros }, loadgen.Group)
	boundCell, boundValue := num(cpuBound, loadgen.Group)
	truceValue := func(r *result) (float64, bool) { t, _, _, ok, _ := cpuSplit(r); return t, ok }
	pgValue := func(r *result) (float64, bool) { _, _, p, _, ok := cpuSplit(r); return p, ok }
	orDash := func(v func(*result) (float64, bool)) func(*result) string {
		return func(r *result) string {
			if x, ok := v(r); ok {
				return loadgen.Group(x)
			}
			return "—"
		}
	}
	rows := []row{
		{"ops/s", opsCell, opsValue},
		{"p99 ms", p99Cell, p99Value},
		{"conflicts/s", conflictsCell, nil},
		{"server CPU µs/op", serverCell, serverValue},
		{"truce CPU µs/op", orDash(truceValue), truceValue},
		{"each node's CPU µs/op", func(r *result) string {
			_, nodes, _, _, _ := cpuSplit(r)
			if len(nodes) == 0 {
				return "—"
			}
			var s []string
			for _, n := range nodes {
				s = append(s, loadgen.Group(n))
			}
			return strings.Join(s, " + ")
		}, nil},
		{"PostgreSQL CPU µs/op", orDash(pgValue), pgValue},
		{"client CPU µs/op", clientCell, clientValue},
		{"CPU-bound ops/s", boundCell, boundValue},
	}
	var workloads []string
	for _, w := range workloadsIn(results) {
		for _, s := range pgSystems {
			if findRun(s, w) != nil && !slices.Contains(workloads, w) {
				workloads = append(workloads, w)
			}
		}
	}
	for _, w := range workloads {
		for _, rw := range rows {
			if rw.name == "conflicts/s" && w == "read" {
				continue
			}
			fmt.Fprintf(&b, "| %s | %s |", w, rw.name)
			for _, s := range columns {
				if r := findRun(s, w); r != nil {
					fmt.Fprintf(&b, " %s |", rw.cell(r))
				} else {
					fmt.Fprintf(&b, " n/a |")
				}
			}
			for _, s := range ratios {
				t, p := findRun(s, w), findRun("postgres", w)
				if t == nil || p == nil || rw.value == nil {
					fmt.Fprintf(&b, " |")
					continue
				}
				tv, tok := rw.value(t)
				pv, pok := rw.value(p)
				if !tok || !pok || pv == 0 {
					fmt.Fprintf(&b, " |")
					continue
				}
				fmt.Fprintf(&b, " %.2f× |", tv/pv)
			}
			fmt.Fprintf(&b, "\n")
		}
	}
	fmt.Fprintf(&b, "\n`n/a`: the workload does not apply (merge-hot needs truce's merge policy). `—`: the system has no such\n")
	fmt.Fprintf(&b, "process. For latency and CPU rows a ratio below 1 means truce needs less.")
	if lo, hi, ok := loadRange(results, columns); ok {
		fmt.Fprintf(&b, " The 1-minute load average went from\n%s to %s during these runs, on %d cores: trust the CPU rows over the rates.", lo, hi, runtime.NumCPU())
	}
	fmt.Fprintf(&b, "\n")
	// An operation begun in the warm-up and ended in the measured time
	// spends CPU that is measured but is not counted as an operation: about
	// half an operation a client, which matters when each client finishes
	// few.
	var few []string
	for _, w := range workloads {
		for _, s := range columns {
			r := findRun(s, w)
			if r == nil || r.Report.Ops <= 0 {
				continue
			}
			if over := float64(r.Report.Clients) / 2 / float64(r.Report.Ops); over > 0.1 {
				few = append(few, fmt.Sprintf("%s on %s (%s operations: up to %.0f%%)", w, label[s], loadgen.Group(float64(r.Report.Ops)), over*100))
			}
		}
	}
	if len(few) > 0 {
		fmt.Fprintf(&b, "\nThe CPU per operation is overstated where each client finished few operations, since operations\n")
		fmt.Fprintf(&b, "begun in the warm-up and ended in the measured time count in the CPU but not in the operations (about\n")
		fmt.Fprintf(&b, "half an operation a client): %s. A longer run (-duration) measures these better.\n", strings.Join(few, ", "))
	}
	fmt.Fprintf(&b, "\n")
	b.WriteString(scalingEstimate(findRun, pgSystems))
	return b.String()
}

// loadRange returns the lowest and highest 1-minute load average seen
// before or after the runs of systems.
func loadRange(results []result, systems []string) (lo, hi string, ok bool) {
	var loads []float64
	for _, r := range results {
		if !slices.Contains(systems, r.System) {
			continue
		}
		for _, l := range []string{r.LoadBefore, r.Report.Load} {
			if f := strings.Fields(l); len(f) > 0 {
				if v, err := strconv.ParseFloat(f[0], 64); err == nil {
					loads = append(loads, v)
				}
			}
		}
	}
	if len(loads) == 0 {
		return "", "", false
	}
	return strconv.FormatFloat(slices.Min(loads), 'f', 1, 64), strconv.FormatFloat(slices.Max(loads), 'f', 1, 64), true
}

// scalingEstimate estimates, from the CPU split of the truce-on-PostgreSQL
// runs, where throughput would stop growing with nodes on a machine where
// each node and PostgreSQL had cores of their own.
func scalingEstimate(findRun func(system, workload string) *result, pgSystems []string) string {
	one := findRun(pgSystems[0], "read")
	upd := findRun(pgSystems[0], "update")
	var b strings.Builder
	fmt.Fprintf(&b, "### Where throughput stops growing with nodes: an estimate\n\n")
	if one == nil || upd == nil {
		fmt.Fprintf(&b, "The estimate needs the read and update workloads on %s; this run had not both.\n", pgSystems[0])
		return b.String()
	}
	tRead, _, pRead, _, _ := cpuSplit(one)
	tUpd, _, pUpd, _, _ := cpuSplit(upd)
	trend := func(w string, pick func(*result) float64) string {
		var s []string
		for _, sys := range pgSystems {
			if r := findRun(sys, w); r != nil {
				s = append(s, loadgen.Group(pick(r)))
			}
		}
		return strings.Join(s, ", ")
	}
	truceOf := func(r *result) float64 { t, _, _, _, _ := cpuSplit(r); return t }
	pgOf := func(r *result) float64 { _, _, p, _, _ := cpuSplit(r); return p }
	fmt.Fprintf(&b, "Not measured: worked out from the CPU split above, for a machine on which the truce nodes, PostgreSQL\n")
	fmt.Fprintf(&b, "and the load generator each have cores of their own. With one node, the node spent %s µs of CPU per\n", loadgen.Group(tRead))
	fmt.Fprintf(&b, "read and %s µs per update, PostgreSQL %s and %s µs (with 1 to %d nodes, the nodes' CPU per\n",
		loadgen.Group(tUpd), loadgen.Group(pRead), loadgen.Group(pUpd), len(pgSystems))
	fmt.Fprintf(&b, "update was %s µs in all, PostgreSQL's %s µs). They were measured on saturated cores\n",
		trend("update", truceOf), trend("update", pgOf))
	fmt.Fprintf(&b, "and include what contention costs; with cores to spare they would be somewhat lower.\n\n")
	if pRead > 0 && tRead > 0 {
		fmt.Fprintf(&b, "- **Reads** take no lock, so they grow with the nodes' cores, %s reads/s for each (1,000,000 ÷ %s),\n",
			loadgen.Group(1e6/tRead), loadgen.Group(tRead))
		fmt.Fprintf(&b, "  until PostgreSQL's cores are busy, at %s reads/s for each of them (1,000,000 ÷ %s). Reads stop\n",
			loadgen.Group(1e6/pRead), loadgen.Group(pRead))
		fmt.Fprintf(&b, "  growing once the nodes have about %.1f cores, in all, for each core of PostgreSQL's (%s ÷ %s); past\n",
			tRead/pRead, loadgen.Group(tRead), loadgen.Group(pRead))
		fmt.Fprintf(&b, "  that only a bigger PostgreSQL adds reads.\n")
	}
	fmt.Fprintf(&b, "- **Writes** (update, update-hot, merge-hot) run one at a time across all nodes: each holds the\n")
	fmt.Fprintf(&b, "  store's seq lock (the meta row; see `postgres/store.go`) from its reads through its COMMIT, but not\n")
	fmt.Fprintf(&b, "  through the WAL flush; the writes that queue on one node share one transaction and its COMMIT (group\n")
	fmt.Fprintf(&b, "  commit, `postgres/group.go`). PostgreSQL's work for the conditional PUT, taken as its CPU per update less\n")
	fmt.Fprintf(&b, "  its CPU per read, is done under the lock: ")
	if under := pUpd - pRead; under > 0 && tUpd > 0 {
		fmt.Fprintf(&b, "%s − %s ≈ %s µs, so writes cannot\n", loadgen.Group(pUpd), loadgen.Group(pRead), loadgen.Group(under))
		fmt.Fprintf(&b, "  exceed about 1,000,000 ÷ %s ≈ %s/s whatever the number of nodes or cores. That is rough: the two\n",
			loadgen.Group(under), loadgen.Group(1e6/under))
		fmt.Fprintf(&b, "  round trips and the node's own work under the lock bring the ceiling lower, the WAL flush (in\n")
		fmt.Fprintf(&b, "  PostgreSQL's CPU, but outside the lock) higher. The nodes reach it once they have about %.1f cores\n", tUpd/under)
		fmt.Fprintf(&b, "  in all (%s µs of truce CPU per update ÷ %s µs under the lock): more nodes, or more cores, add no\n",
			loadgen.Group(tUpd), loadgen.Group(under))
		fmt.Fprintf(&b, "  writes past that, and PostgreSQL needs about %.1f cores to keep up (%s ÷ %s). The section \"The\n",
			pUpd/under, loadgen.Group(pUpd), loadgen.Group(under))
		fmt.Fprintf(&b, "  PostgreSQL store\" below estimates the same ceiling another way, from single-client runs: roughly\n")
		fmt.Fprintf(&b, "  1,000 to 2,000 updates/s.\n")
	} else {
		fmt.Fprintf(&b, "this run's figures do not separate it (PostgreSQL's CPU per update is not above its CPU per read).\n")
	}
	return b.String()
}
