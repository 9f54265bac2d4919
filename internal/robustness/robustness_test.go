package robustness

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/trucedb/truce/internal/pgtest"
	"github.com/trucedb/truce/internal/testserver"
)

// The knobs of the long mode (make verify); every one has a short default
// for go test:
//
//	TRUCE_ROBUSTNESS_RUNS      runs of TestLinearizable (default: one per fault)
//	TRUCE_ROBUSTNESS_DURATION  length of each run (default 2s)
//	TRUCE_ROBUSTNESS_FAULTS    faults to pick from (default: each run one kind)
//	TRUCE_ROBUSTNESS_EVERY     mean time between faults (default: one per run)
//	TRUCE_ROBUSTNESS_CLIENTS   concurrent clients (default 6)
//	TRUCE_ROBUSTNESS_SEED      seed of the first run (default random, logged)
//	TRUCE_ROBUSTNESS_OUT       where a violation's history and HTML go
//	TRUCE_CRASH_CYCLES         kill -9 cycles of TestCrashSafety (default 2)
//	TRUCE_CLUSTER_RUNS         runs of each TestCluster… test (default: one
//	                           per fault, kill and kill-postgres first)
//	TRUCE_CLUSTER_NODES        nodes of the TestCluster… tests (default 3)

func TestMain(m *testing.M) {
	code := m.Run()
	testserver.Cleanup()
	os.Exit(code)
}

// The TestCluster… tests run the workloads against several `truce serve
// --store postgres://…` nodes over one PostgreSQL server of their own,
// each request going to a node at random, with the faults of several
// nodes: kill -9 of a node (and its restart), kill -9 of PostgreSQL (and
// its restart: every acknowledged write must survive it), a paused node,
// client timeouts. By default TestClusterLinearizable runs twice, with
// kill and with kill-postgres, and the others once each, which keeps them
// to seconds in make test; TRUCE_CLUSTER_RUNS runs each more
// times, through every fault.

// TestClusterLinearizable: versioned documents over several nodes.
func TestClusterLinearizable(t *testing.T) {
	runCluster(t, "cluster-documents", 2, Kill, func() Workload { return NewDocuments("clin", 4) })
}

// TestClusterBankTransfers: a bank of atomic batches over several nodes.
func TestClusterBankTransfers(t *testing.T) {
	runCluster(t, "cluster-bank", 1, Pause, func() Workload { return NewBank("cbank", 4, 100) })
}

// TestClusterInteractiveTransfers: a bank of interactive transactions
// whose begin, reads, writes and commit each go to a node at random.
func TestClusterInteractiveTransfers(t *testing.T) {
	runCluster(t, "cluster-interactive", 1, KillStore, func() Workload { return NewInteractive("cibank", 4, 100) })
}

// TestClusterLockFencing: locks taken, used and released through random
// nodes, requests waiting on one node for a holder on another.
func TestClusterLockFencing(t *testing.T) {
	runCluster(t, "cluster-locks", 1, Kill, func() Workload {
		w := NewLocks("clocks", 2*time.Second)
		w.Wait, w.QueueRefusals = 300*time.Millisecond, true
		return w
	})
}

// runCluster runs a workload on several nodes runs times (unless
// TRUCE_CLUSTER_RUNS says otherwise), with one fault each, in turn from
// first (unless TRUCE_ROBUSTNESS_FAULTS names the faults).
func runCluster(t *testing.T, name string, runs int, first Fault, workload func() Workload) {
	runs = envInt(t, "TRUCE_CLUSTER_RUNS", runs)
	nodes := envInt(t, "TRUCE_CLUSTER_NODES", 3)
	dur := envDuration(t, "TRUCE_ROBUSTNESS_DURATION", 2*time.Second)
	every := envDuration(t, "TRUCE_ROBUSTNESS_EVERY", 0)
	seed := uint64(envInt(t, "TRUCE_ROBUSTNESS_SEED", int(rand.Uint32())))
	faults, err := ParseFaults(os.Getenv("TRUCE_ROBUSTNESS_FAULTS"))
	if err != nil {
		t.Fatal(err)
	}
	order := []Fault{Kill, KillStore, Pause, Timeouts}
	for order[0] != first {
		order = append(order[1:], order[0])
	}
	pg := pgtest.NewServer(t) // one for every run: starting one takes seconds
	var total Report
	for i := range runs {
		fs := faults
		if fs == nil {
			fs = []Fault{order[i%len(order)]}
		}
		total.add(Run(t, Config{Name: name + "-" + strconv.Itoa(i), Workload: workload(), Nodes: nodes, Postgres: pg,
			Duration: dur, Faults: fs, FaultEvery: every, Seed: seed + uint64(i)}))
		if t.Failed() {
			break
		}
	}
	t.Logf("TOTAL %s: %d runs on %d nodes, %d operations checked (%d unknown), faults %s, %d acknowledged operations read back, %d lost",
		name, total.runs, nodes, total.Ops, total.Unknown, faultCounts(total.Faults), total.AcksChecked, len(total.AcksLost))
}

func TestLinearizable(t *testing.T) {
	runs := envInt(t, "TRUCE_ROBUSTNESS_RUNS", len(AllFaults))
	dur := envDuration(t, "TRUCE_ROBUSTNESS_DURATION", 2*time.Second)
	every := envDuration(t, "TRUCE_ROBUSTNESS_EVERY", 0)
	clients := envInt(t, "TRUCE_ROBUSTNESS_CLIENTS", 6)
	seed := uint64(envInt(t, "TRUCE_ROBUSTNESS_SEED", int(rand.Uint32())))
	var faults []Fault
	if s := os.Getenv("TRUCE_ROBUSTNESS_FAULTS"); s != "" {
		var err error
		if faults, err = ParseFaults(s); err != nil {
			t.Fatal(err)
		}
	}
	var total Report
	for i := range runs {
		fs := faults
		if fs == nil {
			fs = []Fault{AllFaults[i%len(AllFaults)]}
		}
		rep := Run(t, Config{
			Name:       "documents-" + strconv.Itoa(i),
			Workload:   NewDocuments("lin", 4),
			Clients:    clients,
			Duration:   dur,
			Faults:     fs,
			FaultEvery: every,
			Seed:       seed + uint64(i),
		})
		total.add(rep)
		if t.Failed() {
			break
		}
	}
	t.Logf("TOTAL linearizability: %d runs, %d operations checked (%d unknown), faults %s, %d acknowledged writes read back, %d lost, %d inconclusive checks",
		total.runs, total.Ops, total.Unknown, faultCounts(total.Faults), total.AcksChecked, len(total.AcksLost), total.inconclusive)
}

// TestCrashSafety kills the server with SIGKILL again and again under
// load; after each restart every write acknowledged so far must be in the
// history with what it wrote, and the whole history must be linearizable.
func TestCrashSafety(t *testing.T) {
	cycles := envInt(t, "TRUCE_CRASH_CYCLES", 2)
	seed := uint64(envInt(t, "TRUCE_ROBUSTNESS_SEED", int(rand.Uint32())))
	rep := Run(t, Config{
		Name:       "crash",
		Workload:   NewDocuments("crash", 8),
		Clients:    8,
		Faults:     []Fault{Kill},
		FaultCount: cycles,
		FaultEvery: 700 * time.Millisecond,
		Seed:       seed,
	})
	if len(rep.Faults) != cycles {
		t.Errorf("%d kill cycles, want %d", len(rep.Faults), cycles)
	}
	t.Logf("TOTAL crash safety: %d kill -9 cycles, %d operations checked, %d acknowledged writes read back, %d lost",
		len(rep.Faults), rep.Ops, rep.AcksChecked, len(rep.AcksLost))
}

// TestBankTransfers moves money between accounts with atomic batches
// under every fault; it skips on a server without /v1/tx.
func TestBankTransfers(t *testing.T) {
	runFeature(t, "bank", func() Workload { return NewBank("bank", 4, 100) })
}

// TestInteractiveTransfers moves money between accounts with interactive
// transactions (begin, read both, stage both, commit) under every fault;
// it skips on a server without /v1/transactions.
func TestInteractiveTransfers(t *testing.T) {
	runFeature(t, "interactive", func() Workload { return NewInteractive("ibank", 4, 100) })
}

// TestLockFencing takes, uses and releases the lock of one document under
// every fault; it skips on a server without locks.
func TestLockFencing(t *testing.T) {
	runFeature(t, "locks", func() Workload {
		w := NewLocks("locks", 2*time.Second)
		w.QueueRefusals = os.Getenv("TRUCE_LOCKS_QUEUE_REFUSALS") != ""
		return w
	})
}

// runFeature runs a workload once per fault (TRUCE_ROBUSTNESS_RUNS times
// in the long mode, with TRUCE_ROBUSTNESS_FAULTS).
func runFeature(t *testing.T, name string, workload func() Workload) {
	runs := envInt(t, "TRUCE_ROBUSTNESS_RUNS", len(AllFaults))
	dur := envDuration(t, "TRUCE_ROBUSTNESS_DURATION", 2*time.Second)
	every := envDuration(t, "TRUCE_ROBUSTNESS_EVERY", 0)
	seed := uint64(envInt(t, "TRUCE_ROBUSTNESS_SEED", int(rand.Uint32())))
	faults, err := ParseFaults(os.Getenv("TRUCE_ROBUSTNESS_FAULTS"))
	if err != nil {
		t.Fatal(err)
	}
	var total Report
	for i := range runs {
		fs := faults
		if fs == nil {
			fs = []Fault{AllFaults[i%len(AllFaults)]}
		}
		total.add(Run(t, Config{Name: name + "-" + strconv.Itoa(i), Workload: workload(), Duration: dur,
			Faults: fs, FaultEvery: every, Seed: seed + uint64(i)}))
		if t.Failed() {
			break
		}
	}
	t.Logf("TOTAL %s: %d runs, %d operations checked (%d unknown), faults %s, %d acknowledged operations read back, %d lost or half visible",
		name, total.runs, total.Ops, total.Unknown, faultCounts(total.Faults), total.AcksChecked, len(total.AcksLost))
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a non-negative integer", name, s)
	}
	return n
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, s, err)
	}
	return d
}
