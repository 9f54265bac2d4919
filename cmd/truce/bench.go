package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/trucedb/truce/internal/loadgen"
)

// benchOptions holds the flags of `truce bench`.
type benchOptions struct {
	server     string
	token      string
	workload   string
	clients    int
	duration   time.Duration
	count      int64
	docSize    int
	docs       int
	ratio      string
	warmup     time.Duration
	collection string
	indexes    []string
	h2c        bool
	json       bool
	chart      string
	subs       int
	cpuProfile string
	overload   bool
	capacity   float64
	loads      []float64
	conns      int
	rounds     int
}

func newBenchCmd() *cobra.Command {
	o := &benchOptions{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run a load generator against a truce server and report its figures",
		Long: `Run a load generator against a truce server: --clients concurrent clients
repeat a workload for --duration (or --count operations in all) after a
--warmup, with a progress line on a terminal. At the end it prints
throughput (operations/s), goodput (successful writes/s), conflicts and
retries, the server's own count of requests and conflicts by code over the
run (from its /metrics, when the token may read them: admin), and latency
percentiles from an HDR histogram; --json prints the
same as JSON, with the time series and the percentile curve, and --chart
writes them as an SVG image.

An operation is what a client repeats: one read, or one write with the
reads and retries it took to succeed; its latency covers all of them.

Workloads:
` + workloadHelp() + `
The documents live in --collection (default "bench"; merge-hot,
tx-transfer, lock-cycle and watch-fanout use "<collection>-merge", "-tx",
"-lock" and "-watch"), whose conflict policy the bench sets: do not point
it at a collection you care about. watch-fanout also reports how many
events reached its --subscribers and the delay from a write being sent
to its event being received. Durations are measured on this machine:
run it where the server runs only if you mean to measure both together.`,
		Example: `  truce bench --workload update --clients 64 --duration 10s
  truce bench --workload read --clients 64 --json > read.json
  truce bench --workload mixed --ratio 9:1 --chart mixed.svg
  truce bench --workload merge-hot --clients 64 --count 20000
  truce bench --workload tx-transfer --clients 16 --docs 100
  truce bench --workload lock-cycle --docs 1
  truce bench --workload watch-fanout --subscribers 1000 --clients 4
  truce bench --overload --clients 16 --duration 10s --rounds 3 --chart overload.svg`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", "", "`URL` of the truce server (default $TRUCE_URL, else "+defaultServer+")")
	f.StringVar(&o.token, "token", "", "bearer `TOKEN` for the server (default $TRUCE_TOKEN)")
	f.StringVarP(&o.workload, "workload", "w", "update", "`name` of the workload (see above)")
	f.IntVarP(&o.clients, "clients", "c", 64, "concurrent clients, each with its own connection")
	f.DurationVarP(&o.duration, "duration", "d", 10*time.Second, "how long to measure, after the warm-up")
	f.Int64VarP(&o.count, "count", "n", 0, "measure this many operations in all instead of a --duration")
	f.IntVar(&o.docSize, "doc-size", 1024, "document body size in `bytes`")
	f.IntVar(&o.docs, "docs", 1000, "documents that read, update, mixed and lock-cycle spread over; tx-transfer's accounts (default 100 there)")
	f.IntVar(&o.subs, "subscribers", loadgen.DefaultSubscribers, "watch-fanout: feed subscribers, each with its own connection")
	f.StringVar(&o.ratio, "ratio", "0.9", "mixed: the share of reads, as a fraction (0.9) or reads:writes (9:1)")
	f.DurationVar(&o.warmup, "warmup", 2*time.Second, "how long to run before measuring (discarded)")
	f.StringVar(&o.collection, "collection", "bench", "collection the workloads write into")
	f.StringArrayVar(&o.indexes, "index", nil, "declare a secondary index of the collection, its dotted `paths` comma-separated (repeat for several): what indexes cost a write; the documents' counter is n, and _version and _updatedAt change on every write too")
	f.BoolVar(&o.h2c, "h2c", false, "send over HTTP/2 without TLS (h2c), all clients' requests on one connection, instead of HTTP/1.1 with a connection each")
	f.BoolVar(&o.json, "json", false, "print the report as JSON for scripts")
	f.StringVar(&o.chart, "chart", "", "also write latency over time and the percentile curve to this SVG `file`")
	f.BoolVar(&o.overload, "overload", false, "measure load shedding instead of a workload: the capacity of --clients closed-loop writers, then blind PUTs sent open-loop (Poisson arrivals) at --loads times it, each for --duration; goodput, 503s shed and the p50 and p99 of admitted writes, from their intended send times")
	f.Float64SliceVar(&o.loads, "loads", []float64{0.5, 1, 1.5, 2, 3, 4}, "--overload: the offered loads, as `multiples` of the capacity (0.5 shows the unloaded latency)")
	f.IntVar(&o.rounds, "rounds", 1, "--overload: measure this many times in a row (--json prints a report a line; --chart draws each round)")
	f.Float64Var(&o.capacity, "capacity", 0, "--overload: multiply this capacity (`writes/s`) instead of measuring it, so that runs compared side by side offer the same rates; 0 measures it")
	f.IntVar(&o.conns, "conns", 512, "--overload: connections the open-loop sender keeps open; a request due while all wait for answers is sent late, and counted")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the load generator's measured run to `file` (for go tool pprof)")
	return cmd
}

// txAccounts is tx-transfer's --docs when the flag is not given: fewer
// accounts than read's documents, so that transfers meet.
const txAccounts = 100

// workloadHelp lists the workloads for --help.
func workloadHelp() string {
	var b strings.Builder
	for _, s := range loadgen.Specs() {
		fmt.Fprintf(&b, "  %-13s %s\n", s.Name, s.Summary)
	}
	return b.String()
}

// parseRatio reads --ratio: a fraction of reads, or reads:writes.
func parseRatio(s string) (float64, error) {
	if r, w, ok := strings.Cut(s, ":"); ok {
		reads, err1 := strconv.ParseFloat(r, 64)
		writes, err2 := strconv.ParseFloat(w, 64)
		if err1 != nil || err2 != nil || reads < 0 || writes < 0 || reads+writes == 0 {
			return 0, fmt.Errorf("--ratio %q: want reads:writes with numbers not both zero, like 9:1", s)
		}
		return reads / (reads + writes), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1 {
		return 0, fmt.Errorf("--ratio %q: want a fraction of reads from 0 to 1 (0.9) or reads:writes (9:1)", s)
	}
	return f, nil
}

// check validates the flags; every error is bad usage.
func (o *benchOptions) check(cmd *cobra.Command) (loadgen.Spec, float64, error) {
	spec, ok := loadgen.Lookup(o.workload)
	if !ok {
		var names []string
		for _, s := range loadgen.Specs() {
			names = append(names, s.Name)
		}
		return spec, 0, usageErrorf("--workload %q: no such workload; choose one of %s", o.workload, strings.Join(names, ", "))
	}
	switch {
	case o.clients < 1:
		return spec, 0, usageErrorf("--clients must be at least 1, not %d", o.clients)
	case cmd.Flags().Changed("duration") && cmd.Flags().Changed("count"):
		return spec, 0, usageErrorf("give --duration or --count, not both")
	case o.count < 0:
		return spec, 0, usageErrorf("--count must be positive, not %d", o.count)
	case o.count == 0 && o.duration <= 0:
		return spec, 0, usageErrorf("--duration must be positive, not %s", o.duration)
	case o.warmup < 0:
		return spec, 0, usageErrorf("--warmup must not be negative, not %s", o.warmup)
	case o.docSize < 1:
		return spec, 0, usageErrorf("--doc-size must be at least 1 byte, not %d", o.docSize)
	case o.docs < 1:
		return spec, 0, usageErrorf("--docs must be at least 1, not %d", o.docs)
	case o.subs < 1:
		return spec, 0, usageErrorf("--subscribers must be at least 1, not %d", o.subs)
	case o.collection == "":
		return spec, 0, usageErrorf("--collection must name a collection")
	case o.conns < 1:
		return spec, 0, usageErrorf("--conns must be at least 1, not %d", o.conns)
	case o.rounds < 1:
		return spec, 0, usageErrorf("--rounds must be at least 1, not %d", o.rounds)
	case len(o.loads) == 0:
		return spec, 0, usageErrorf("--loads must name at least one multiple of the capacity")
	}
	for _, m := range o.loads {
		if !(m > 0 && m <= 1000) {
			return spec, 0, usageErrorf("--loads: %g is not a multiple of the capacity between 0 and 1000", m)
		}
	}
	ratio, err := parseRatio(o.ratio)
	if err != nil {
		return spec, 0, &usageError{err: err}
	}
	return spec, ratio, nil
}

// run checks the flags, prepares the workload, runs it and reports.
func (o *benchOptions) run(cmd *cobra.Command) error {
	spec, ratio, err := o.check(cmd)
	if err != nil {
		return err
	}
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	server, token := o.server, o.token
	if server == "" {
		server = os.Getenv("TRUCE_URL")
	}
	if server == "" {
		server = defaultServer
	}
	if token == "" {
		token = os.Getenv("TRUCE_TOKEN")
	}
	if o.overload {
		return o.runOverload(cmd, server, token)
	}
	target, err := loadgen.NewTruce(server, o.collection, token, o.clients)
	if err != nil {
		return &usageError{err: fmt.Errorf("--server: %w", err)}
	}
	defer target.Close()
	if o.h2c {
		target.UseH2C()
	}
	for _, ix := range o.indexes {
		target.Indexes = append(target.Indexes, strings.Split(ix, ","))
	}
	workload, err := spec.New(target)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if spec.Name == "tx-transfer" && !cmd.Flags().Changed("docs") {
		o.docs = txAccounts
	}
	cfg := loadgen.Config{Clients: o.clients, Docs: o.docs, DocSize: o.docSize, ReadRatio: ratio, Subscribers: o.subs}
	op, err := workload.Prepare(ctx, cfg)
	if err != nil {
		return fmt.Errorf("prepare %s on %s: %w", spec.Name, server, err)
	}
	ro := loadgen.RunOptions{Clients: o.clients, Duration: o.duration, Count: o.count, Warmup: o.warmup}
	if o.count > 0 {
		ro.Duration = 0
	}
	fanout, _ := workload.(loadgen.Fanout)
	// The server's own counts over the measured run, from its /metrics
	// (when this token may read them).
	var before *serverCounts
	ro.Measuring = func() {
		if fanout != nil {
			fanout.Measuring()
		}
		before, _ = scrapeServer(ctx, server, token)
	}
	progress := progressWriter(stderr)
	if progress != nil {
		ro.Progress = progress
	}
	stopProfile, err := startCPUProfile(o.cpuProfile)
	if err != nil {
		return err
	}
	stats, runErr := loadgen.Run(ctx, op, ro)
	stopProfile()
	if progress != nil {
		fmt.Fprint(stderr, "\r\x1b[K")
	}
	var delivery *loadgen.Delivery
	if fanout != nil {
		var err error
		if delivery, err = fanout.Finish(context.WithoutCancel(ctx)); err != nil && runErr == nil {
			runErr = err
		}
	}
	if runErr != nil {
		return fmt.Errorf("%s on %s stopped: %w", spec.Name, server, runErr)
	}
	rep := loadgen.NewReport(stats)
	rep.Delivery = delivery
	if before != nil {
		if after, err := scrapeServer(ctx, server, token); err == nil {
			rep.Server = after.since(before)
		}
	}
	rep.Target, rep.Workload, rep.Clients, rep.DocSize = server, spec.Name, o.clients, o.docSize
	switch spec.Name {
	case "read", "update", "mixed", "tx-transfer", "lock-cycle":
		rep.Docs = o.docs
	}
	if spec.Name == "mixed" {
		rep.ReadRatio = ratio
	}
	rep.Load = loadgen.LoadAverage()
	if o.chart != "" {
		if err := writeChart(o.chart, rep); err != nil {
			return err
		}
	}
	if o.json {
		b, err := json.Marshal(rep)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	return rep.WriteTable(stdout)
}

// runOverload runs --overload --rounds times and reports each round.
func (o *benchOptions) runOverload(cmd *cobra.Command, server, token string) error {
	if o.count > 0 {
		return usageErrorf("--overload measures for --duration at each load, not --count")
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopProfile, err := startCPUProfile(o.cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	out := cmd.OutOrStdout()
	var series []loadgen.OverloadSeries
	for round := 1; round <= o.rounds; round++ {
		rep, err := loadgen.Overload(ctx, loadgen.OverloadOptions{Base: server, Token: token, Collection: o.collection,
			Docs: o.docs, DocSize: o.docSize, Clients: o.clients, Warmup: o.warmup, Step: o.duration, Multiples: o.loads, Conns: o.conns, Capacity: o.capacity})
		if err != nil {
			return fmt.Errorf("overload on %s: %w", server, err)
		}
		series = append(series, loadgen.OverloadSeries{Label: fmt.Sprintf("round %d", round), Report: rep})
		switch {
		case o.json: // one report a line
			b, err := json.Marshal(rep)
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintf(out, "%s\n", b); err != nil {
				return err
			}
		default:
			if o.rounds > 1 {
				fmt.Fprintf(out, "round %d of %d\n", round, o.rounds)
			}
			if err := rep.WriteTable(out); err != nil {
				return err
			}
			if round < o.rounds {
				fmt.Fprintln(out)
			}
		}
	}
	if o.chart == "" {
		return nil
	}
	f, err := os.Create(o.chart)
	if err != nil {
		return fmt.Errorf("--chart: %w", err)
	}
	err = loadgen.WriteOverloadSVG(f, overloadTitle(o.docSize, o.clients), series)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("--chart %s: %w", o.chart, err)
	}
	return nil
}

// overloadTitle is the title of --overload's chart.
func overloadTitle(docSize, clients int) string {
	return fmt.Sprintf("truce bench --overload: %d-byte PUTs, open loop at multiples of %d clients' capacity", docSize, clients)
}

// writeChart writes the run's SVG chart to file.
func writeChart(file string, rep *loadgen.Report) error {
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("--chart: %w", err)
	}
	title := fmt.Sprintf("truce bench %s: %d clients, %d-byte documents", rep.Workload, rep.Clients, rep.DocSize)
	err = loadgen.WriteSVG(f, title, []loadgen.Series{{Label: rep.Workload, Report: rep}})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("--chart %s: %w", file, err)
	}
	return nil
}

// progressWriter returns a function that keeps one progress line on w,
// or nil when w is not a terminal.
func progressWriter(w io.Writer) func(loadgen.Progress) {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return func(p loadgen.Progress) {
		fmt.Fprintf(w, "\r\x1b[K%s", progressLine(p))
	}
}

// progressLine renders a progress report as one line: a bar, the time or
// count done, and the last interval's rate and p99.
func progressLine(p loadgen.Progress) string {
	const width = 24
	var done float64
	var of string
	switch {
	case p.Count > 0:
		done = float64(p.Ops) / float64(p.Count)
		of = fmt.Sprintf("%s/%s ops", loadgen.Group(float64(p.Ops)), loadgen.Group(float64(p.Count)))
	case p.Duration > 0:
		done = p.Elapsed.Seconds() / p.Duration.Seconds()
		of = fmt.Sprintf("%.0fs/%.0fs", p.Elapsed.Seconds(), p.Duration.Seconds())
	}
	done = min(max(done, 0), 1)
	bar := strings.Repeat("#", int(done*width)) + strings.Repeat("-", width-int(done*width))
	if p.Warmup {
		return fmt.Sprintf("[%s] warming up %s", bar, of)
	}
	return fmt.Sprintf("[%s] %s  %s ops/s  p99 %s  conflicts %s", bar, of,
		loadgen.Group(p.Last.OpsPerSec), loadgen.Millis(p.Last.P99Ms), loadgen.Group(float64(p.Conflicts)))
}
