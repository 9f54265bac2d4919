// Command peerbench measures truce side by side with its peers, in one run
// on one machine: truce on Pebble, etcd, PostgreSQL with the hand-written
// version-column pattern, truce on PostgreSQL with 1, 2 and 3 nodes, and a
// no-op net/http handler as the ceiling of the HTTP path. Each server starts in a temporary directory on loopback
// with durable settings and is stopped afterwards, also when the run fails
// or is interrupted. The same load generator (truce's internal/loadgen),
// the same workloads, concurrency and document size run against each, and
// the results are written as docs/benchmarks.md with SVG charts.
//
// Run it through bench/run.sh, which installs the peers and builds truce.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/trucedb/truce/internal/loadgen"
)

// options are peerbench's flags.
type options struct {
	truceBin, etcdBin, pgBin string
	systems, workloads       string
	clients, docSize, docs   int
	duration, warmup, pause  time.Duration
	workDir, outDir          string
	truceArgs                string
	rounds                   int
	command                  string
}

// result is one workload on one system.
type result struct {
	System   string `json:"system"`
	Label    string `json:"label"`
	Workload string `json:"workload"`
	Round    int    `json:"round"`
	// CPU time per measured operation, in microseconds: the server's
	// processes and the load generator's. Unlike throughput, these hardly
	// depend on what else the machine is doing.
	ServerCPUMicros float64 `json:"serverCpuMicrosPerOp"`
	ClientCPUMicros float64 `json:"clientCpuMicrosPerOp"`
	// ServerParts splits ServerCPUMicros by process, for a server of
	// several (truce nodes and PostgreSQL).
	ServerParts []partCPU       `json:"serverCpuParts,omitempty"`
	LoadBefore  string          `json:"loadBefore"`
	Report      *loadgen.Report `json:"report"`
}

// partCPU is the CPU time per measured operation of one process of a
// server, with its descendants, in microseconds.
type partCPU struct {
	Name   string  `json:"name"`
	Micros float64 `json:"cpuMicrosPerOp"`
}

// systemInfo is what the report says about a system.
type systemInfo struct {
	Name, Label, Version, Settings string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == noopCommand {
		if err := runNoopServer(os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "noop-server: %v\n", err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.StringVar(&o.truceBin, "truce", "", "the truce binary to run (bench/run.sh builds it)")
	flag.StringVar(&o.etcdBin, "etcd", "etcd", "the etcd binary (Debian's etcd-server)")
	flag.StringVar(&o.pgBin, "pg-bin", "/usr/lib/postgresql/15/bin", "directory of PostgreSQL's initdb and postgres")
	flag.StringVar(&o.systems, "systems", "truce,etcd,postgres,truce-pg1,truce-pg2,truce-pg3,noop",
		"systems to measure, in order: truce (on Pebble), etcd, postgres (the hand-written pattern), truce-pg1, truce-pg2 and truce-pg3 (truce on PostgreSQL with 1 to 3 nodes), noop")
	flag.StringVar(&o.workloads, "workloads", "read,update,update-tuned,update-hot,merge-hot", "workloads to run where they apply")
	flag.IntVar(&o.clients, "clients", 64, "concurrent clients")
	flag.IntVar(&o.docSize, "doc-size", 1024, "document size in bytes")
	flag.IntVar(&o.docs, "docs", 1000, "documents that read and update spread over")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured time of each run")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "warm-up before each run (discarded)")
	flag.DurationVar(&o.pause, "pause", 2*time.Second, "pause between runs, to let the machine settle")
	flag.StringVar(&o.workDir, "workdir", "", "where the servers keep their data (default: a new temporary directory)")
	flag.StringVar(&o.outDir, "out", "", "directory to write benchmarks.md, benchmarks.json and the charts into (default: print only)")
	flag.StringVar(&o.truceArgs, "truce-args", "", "extra arguments for truce serve, space-separated")
	flag.IntVar(&o.rounds, "rounds", 3, "measure every system this many times, in turn (A B C, A B C, …); the report takes each figure's median run, and each ratio's median and spread over the rounds")
	flag.StringVar(&pidFile, "pidfile", "", "append the process group id of every server started to this `file` (for a wrapper's cleanup)")
	flag.StringVar(&o.command, "command", "", "the command line to quote in the report (run.sh passes its own)")
	flag.Parse()
	if o.command == "" {
		o.command = strings.Join(os.Args, " ")
	}
	if err := run(o); err != nil {
		stopAll()
		fmt.Fprintf(os.Stderr, "peerbench: %v\n", err)
		os.Exit(1)
	}
}

func run(o options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer stopAll()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var noopBody []byte // a document as truce stores and returns it
	all := map[string]system{}
	if o.truceBin != "" {
		all["truce"] = truceSystem(o.truceBin, strings.Fields(o.truceArgs))
		for _, n := range trucePostgresNodes {
			all[trucePostgresName(n)] = trucePostgresSystem(o.truceBin, o.pgBin, n, strings.Fields(o.truceArgs))
		}
	}
	all["etcd"] = etcdSystem(o.etcdBin)
	all["postgres"] = postgresSystem(o.pgBin)
	all["noop"] = noopSystem(self, func() []byte {
		if noopBody != nil {
			return noopBody
		}
		return loadgen.Doc(o.docSize)
	})
	wanted := strings.Split(o.workloads, ",")

	root := o.workDir
	if root == "" {
		if root, err = os.MkdirTemp("", "truce-peerbench-"); err != nil {
			return err
		}
		defer os.RemoveAll(root)
	} else if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	// PostgreSQL runs as another user when this is root: let it in.
	if err := os.Chmod(root, 0o755); err != nil {
		return err
	}

	var results []result
	var infos []systemInfo
	for round := 1; round <= max(o.rounds, 1); round++ {
		for _, name := range strings.Split(o.systems, ",") {
			if err := runSystem(ctx, o, all, name, root, round, wanted, &results, &infos, &noopBody); err != nil {
				return err
			}
		}
	}
	return writeOutputs(o, root, infos, results)
}

// runSystem starts one system, runs the wanted workloads on it, and stops
// it.
func runSystem(ctx context.Context, o options, all map[string]system, name, root string, round int, wanted []string,
	results *[]result, infos *[]systemInfo, noopBody *[]byte) error {
	sys, ok := all[name]
	if !ok {
		if o.truceBin == "" && (name == "truce" || strings.HasPrefix(name, "truce-pg")) {
			return fmt.Errorf("-truce must name the truce binary")
		}
		return fmt.Errorf("unknown system %q; want truce, etcd, postgres, truce-pg1, truce-pg2, truce-pg3 or noop", name)
	}
	dir := filepath.Join(root, fmt.Sprintf("%s-%d", name, round))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "== %s (round %d): starting in %s\n", sys.label, round, dir)
	srv, err := sys.start(ctx, dir)
	if err != nil {
		return fmt.Errorf("start %s: %w", sys.label, err)
	}
	if round == 1 {
		*infos = append(*infos, systemInfo{Name: name, Label: sys.label, Version: srv.version, Settings: srv.settings})
	}
	for _, w := range sys.workloads {
		if !slices.Contains(wanted, w) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		r, err := runOne(ctx, o, sys, srv, w)
		if err != nil {
			status := srv.status()
			srv.stop()
			return fmt.Errorf("%s on %s: %w\n%s", w, sys.label, err, status)
		}
		r.Round = round
		*results = append(*results, *r)
		if name == "truce" && w == "read" && *noopBody == nil {
			*noopBody = fetchDoc(r.Report.Target)
		}
		time.Sleep(o.pause)
	}
	if err := srv.stop(); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted")
	}
	return os.RemoveAll(dir) // kept only when something failed, for its logs
}

// runOne runs workload w on a started system.
func runOne(ctx context.Context, o options, sys system, srv *server, w string) (*result, error) {
	spec, ok := loadgen.Lookup(w)
	if !ok || spec.New == nil {
		return nil, fmt.Errorf("no workload %s", w)
	}
	store, err := srv.newStore(ctx, o.clients)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	workload, err := spec.New(store)
	if err != nil {
		return nil, err
	}
	op, err := workload.Prepare(ctx, loadgen.Config{Clients: o.clients, Docs: o.docs, DocSize: o.docSize})
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	loadBefore := loadgen.LoadAverage()
	fmt.Fprintf(os.Stderr, "   %s: %d clients, %s after %s warm-up (load %s) ... ", w, o.clients, o.duration, o.warmup, loadBefore)
	var server0 []time.Duration
	var client0 time.Duration
	roots, names := srv.roots()
	fanout, _ := workload.(loadgen.Fanout) // watch-fanout: its subscribers' deliveries
	stats, err := loadgen.Run(ctx, op, loadgen.RunOptions{Clients: o.clients, Duration: o.duration, Warmup: o.warmup,
		Measuring: func() {
			server0, client0 = treeCPUs(roots), selfCPU()
			if fanout != nil {
				fanout.Measuring()
			}
		}})
	var delivery *loadgen.Delivery
	if fanout != nil {
		var ferr error
		if delivery, ferr = fanout.Finish(context.WithoutCancel(ctx)); err == nil {
			err = ferr
		}
	}
	if err != nil {
		return nil, err
	}
	server1, clientCPU := treeCPUs(roots), selfCPU()-client0
	if server0 == nil { // interrupted in the warm-up
		server0 = server1
	}
	var serverCPU time.Duration
	parts := make([]time.Duration, len(roots))
	for i := range roots {
		parts[i] = server1[i] - server0[i]
		serverCPU += parts[i]
	}
	rep := loadgen.NewReport(stats)
	rep.Delivery = delivery
	rep.Target, rep.Workload, rep.Clients, rep.DocSize = targetOf(store), w, o.clients, o.docSize
	if w == "read" || w == "update" || w == "tx-transfer" || w == "lock-cycle" {
		rep.Docs = o.docs
	}
	rep.Load = loadgen.LoadAverage()
	fmt.Fprintf(os.Stderr, "%s ops/s, %s writes/s, p99 %s, server CPU %.0f µs/op\n", loadgen.Group(rep.Throughput), loadgen.Group(rep.Goodput),
		loadgen.Millis(rep.Latency.P99), float64(serverCPU.Microseconds())/float64(max(stats.Ops, 1)))
	res := &result{System: sys.name, Label: sys.label, Workload: w, LoadBefore: loadBefore, Report: rep}
	if stats.Ops > 0 {
		res.ServerCPUMicros = float64(serverCPU.Microseconds()) / float64(stats.Ops)
		res.ClientCPUMicros = float64(clientCPU.Microseconds()) / float64(stats.Ops)
		for i, name := range names {
			res.ServerParts = append(res.ServerParts, partCPU{Name: name, Micros: float64(parts[i].Microseconds()) / float64(stats.Ops)})
		}
	}
	return res, nil
}

// targetOf names what a store talks to.
func targetOf(s loadgen.Store) string {
	if t, ok := s.(interface{ URL() string }); ok {
		return t.URL()
	}
	return fmt.Sprintf("%T", s)
}

// fetchDoc reads a seeded document from truce as it returns it, for the
// no-op server to answer with the same bytes.
func fetchDoc(base string) []byte {
	resp, err := http.Get(base + "/v1/collections/bench/docs/d0")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		return nil
	}
	return b
}

// writeOutputs prints the summary and, with -out, writes the report files.
func writeOutputs(o options, root string, infos []systemInfo, results []result) error {
	chosen := medians(results)
	md := markdown(o, root, infos, chosen, results)
	if o.outDir == "" {
		fmt.Print(md)
		return nil
	}
	if err := os.MkdirAll(o.outDir, 0o755); err != nil {
		return err
	}
	for _, w := range workloadsIn(results) {
		var series []loadgen.Series
		for _, r := range chosen {
			if r.Workload == w {
				series = append(series, loadgen.Series{Label: r.Label, Report: r.Report})
			}
		}
		f, err := os.Create(filepath.Join(o.outDir, chartFile(w)))
		if err != nil {
			return err
		}
		title := fmt.Sprintf("%s: %d clients, %d-byte documents", w, o.clients, o.docSize)
		err = loadgen.WriteSVG(f, title, series)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	b, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.outDir, "benchmarks.json"), b, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.outDir, "benchmarks.md"), []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s\n", filepath.Join(o.outDir, "benchmarks.md"))
	return nil
}

// medians keeps, for each system and workload, the run with the median
// throughput (the lower middle one of an even count), in the order the
// runs were made.
func medians(results []result) []result {
	type key struct{ system, workload string }
	groups := map[key][]result{}
	var order []key
	for _, r := range results {
		k := key{r.System, r.Workload}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	var out []result
	for _, k := range order {
		g := slices.Clone(groups[k])
		slices.SortFunc(g, func(a, b result) int {
			switch {
			case a.Report.Throughput < b.Report.Throughput:
				return -1
			case a.Report.Throughput > b.Report.Throughput:
				return 1
			}
			return 0
		})
		out = append(out, g[(len(g)-1)/2])
	}
	return out
}

// workloadsIn lists the workloads of results in the order they ran.
func workloadsIn(results []result) []string {
	var ws []string
	for _, r := range results {
		if !slices.Contains(ws, r.Workload) {
			ws = append(ws, r.Workload)
		}
	}
	return ws
}

func chartFile(workload string) string { return "benchmarks-" + workload + ".svg" }

func goVersion() string { return strings.TrimPrefix(runtime.Version(), "go") }

// machine describes this machine for the report.
func machine(root string) []string {
	var lines []string
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	lines = append(lines, fmt.Sprintf("CPU: %s, %d logical cores", cpu, runtime.NumCPU()))
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		l, _, _ := strings.Cut(string(b), "\n")
		lines = append(lines, "Memory: "+strings.Join(strings.Fields(strings.TrimPrefix(l, "MemTotal:")), " "))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		lines = append(lines, "Kernel: Linux "+strings.TrimSpace(string(b)))
	}
	if out, err := exec.Command("df", "-T", root).Output(); err == nil {
		ls := strings.Split(strings.TrimSpace(string(out)), "\n")
		if f := strings.Fields(ls[len(ls)-1]); len(f) > 1 {
			lines = append(lines, fmt.Sprintf("Data directories on: %s (%s)", f[0], f[1]))
		}
	}
	lines = append(lines, "Go: "+goVersion())
	return lines
}
