package robustness

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/trucedb/truce/internal/pgtest"
	"github.com/trucedb/truce/internal/testserver"
)

// Config is one run. The zero value of each field but Workload has a
// documented default.
type Config struct {
	// Name names the run in logs and artifact files; default the
	// workload's name.
	Name string
	// Workload is the traffic and its model. Required.
	Workload Workload
	// Clients is the number of concurrent clients; default 6.
	Clients int
	// Duration is how long the clients run; default 3 s.
	Duration time.Duration
	// Faults are the faults the nemesis picks from, at random; none means
	// a run without faults.
	Faults []Fault
	// FaultEvery is the mean time between faults; default half of
	// Duration, which makes one fault in the middle of the run.
	FaultEvery time.Duration
	// FaultCount, when positive, makes the run last until the nemesis has
	// injected that many faults (and FaultEvery more), whatever Duration
	// says: the crash-safety runs count kill cycles, not seconds.
	FaultCount int
	// Seed seeds every random choice of the clients and the nemesis (the
	// server's timing is not replayed).
	Seed uint64
	// OpTimeout is a request's timeout; default 1 s. A pause lasts
	// longer, so requests time out during it.
	OpTimeout time.Duration
	// CheckTimeout bounds the porcupine check; default 2 min. A check that
	// runs out of time is inconclusive, not a violation; Report says so.
	CheckTimeout time.Duration
	// ServerArgs are extra flags for `truce serve`.
	ServerArgs []string
	// Nodes, when positive, runs that many `truce serve --store
	// postgres://…` over one PostgreSQL server of the run's own, and sends
	// each request to one of them at random; 0 runs one `truce serve` on
	// a Pebble data directory. Kill and Pause then hit one node at random,
	// and KillStore kills PostgreSQL itself.
	Nodes int
	// Postgres is the server the nodes use, in a new database of the
	// run's; nil starts one for the run. Runs in a row may share one, as
	// starting one takes seconds.
	Postgres *pgtest.Server
}

// FaultRecord is one fault the nemesis injected.
type FaultRecord struct {
	Fault Fault `json:"fault"`
	// Node is the node it hit, with several nodes; -1 for none.
	Node int           `json:"node"`
	AtNs int64         `json:"atNs"` // since the run began
	Took time.Duration `json:"took"`
}

// Report is what a run did and found.
type Report struct {
	Name    string
	Ops     int // operations in the checked history
	Unknown int // of them, with an unknown outcome
	// Resolved counts unknown operations a Resolver showed never took
	// effect, left out of the check.
	Resolved int
	NotSent  int // requests refused before they reached a server (left out)
	Faults   []FaultRecord
	// AcksChecked counts acknowledged writes read back after restarts;
	// AcksLost lists those that were not there.
	AcksChecked int
	AcksLost    []string
	// Result is porcupine's verdict: Ok, Illegal or Unknown (the check ran
	// out of time).
	Result porcupine.CheckResult
	// History and Visualization are the files written for a violation.
	History, Visualization string

	inconclusive int // runs whose check ran out of time, in a sum
	runs         int // runs in a sum
}

// add sums r into a total.
func (t *Report) add(r *Report) {
	t.runs++
	t.Ops += r.Ops
	t.Unknown += r.Unknown
	t.Resolved += r.Resolved
	t.NotSent += r.NotSent
	t.Faults = append(t.Faults, r.Faults...)
	t.AcksChecked += r.AcksChecked
	t.AcksLost = append(t.AcksLost, r.AcksLost...)
	if r.Result == porcupine.Unknown {
		t.inconclusive++
	}
}

// ErrNotServed is what Workload.Setup returns (wrapped, with the reason)
// when the server does not serve the feature the workload exercises; Run
// then skips the test with that reason.
var ErrNotServed = errors.New("not served by this truce")

// Run runs cfg against a new `truce serve` process in a temporary data
// directory, checks the history, and fails t on a violation, a lost
// acknowledged write or a server that does not exit cleanly at the end. It
// must be called from the test's goroutine.
//
// The server is the truce binary built from this module (with -race when
// the test is), or $TRUCE_ROBUSTNESS_BIN when set.
func Run(t testing.TB, cfg Config) *Report {
	t.Helper()
	cfg.defaults()
	rep := &Report{Name: cfg.Name}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7275636e))

	bin := os.Getenv("TRUCE_ROBUSTNESS_BIN")
	if bin == "" {
		bin = testserver.Build(t)
	}
	cl := startCluster(t, cfg, bin)
	sess := cl.sess
	defer sess.Close()
	ctx := context.Background()
	if err := cfg.Workload.Setup(ctx, sess); errors.Is(err, ErrNotServed) {
		t.Skipf("%s: %v", cfg.Name, err)
	} else if err != nil {
		t.Fatalf("%s: setup: %v", cfg.Name, err)
	}

	start := time.Now()
	now := func() int64 { return time.Since(start).Nanoseconds() }
	var stop atomic.Bool
	histories := make([][]porcupine.Operation, cfg.Clients)
	notSent := make([]int, cfg.Clients)
	var wg sync.WaitGroup
	for i := range cfg.Clients {
		cl := cfg.Workload.NewClient(i)
		crng := rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))
		wg.Go(func() {
			for !stop.Load() {
				call := now()
				res := cl.Op(ctx, sess, crng)
				ret := now()
				switch res.Outcome {
				case NotSent:
					notSent[i]++
					time.Sleep(5 * time.Millisecond) // the server is down: don't spin
					continue
				case Unknown:
					ret = -1 // set to "after everything" below
				}
				histories[i] = append(histories[i], porcupine.Operation{
					ClientId: i, Input: res.Input, Call: call, Output: res.Output, Return: ret})
			}
		})
	}

	// The nemesis runs here, in the test's goroutine, which testserver
	// requires for starting servers.
	next := start.Add(jitter(rng, cfg.FaultEvery))
	end := start.Add(cfg.Duration)
	defer cl.resumeAll()
	more := func() bool {
		if cfg.FaultCount > 0 {
			return len(rep.Faults) < cfg.FaultCount
		}
		return next.Before(end)
	}
	for len(cfg.Faults) > 0 && more() {
		time.Sleep(time.Until(next))
		f := pick(rng, cfg.Faults)
		rec := FaultRecord{Fault: f, AtNs: now(), Node: -1}
		switch f {
		case Kill:
			rec.Node = cl.killNode(rng)
			checkAcks(t, ctx, cfg, sess, rep, false)
		case KillStore:
			cl.killStore(rng)
			checkAcks(t, ctx, cfg, sess, rep, false)
		case Pause:
			rec.Node = cl.pick(rng)
			cl.signal(rec.Node, syscall.SIGSTOP)
			time.Sleep(cfg.OpTimeout + randDur(rng, cfg.OpTimeout))
			cl.signal(rec.Node, syscall.SIGCONT)
		case Timeouts:
			sess.Starve(20 * time.Millisecond)
			time.Sleep(cfg.OpTimeout/2 + randDur(rng, cfg.OpTimeout))
			sess.Starve(0)
		}
		rec.Took = time.Since(start.Add(time.Duration(rec.AtNs)))
		rep.Faults = append(rep.Faults, rec)
		next = time.Now().Add(jitter(rng, cfg.FaultEvery))
	}
	if cfg.FaultCount > 0 {
		end = next
	}
	time.Sleep(time.Until(end))
	stop.Store(true)
	wg.Wait()
	checkAcks(t, ctx, cfg, sess, rep, true)
	if st, ok := cfg.Workload.(Settler); ok {
		if err := st.Settle(ctx, sess); err != nil {
			t.Errorf("%s: reading the final state: %v", cfg.Name, err)
		}
	}
	cl.stop()

	var history []porcupine.Operation
	maxRet := int64(0)
	for i, h := range histories {
		rep.NotSent += notSent[i]
		for _, op := range h {
			maxRet = max(maxRet, op.Call, op.Return)
		}
		history = append(history, h...)
	}
	resolver, _ := cfg.Workload.(Resolver)
	kept := history[:0]
	for _, op := range history {
		if op.Return < 0 {
			op.Return = maxRet + 1 // porcupine's infinity: after every call and return
			rep.Unknown++
			if resolver != nil {
				var keep bool
				if op, keep = resolver.Resolve(op); !keep {
					rep.Resolved++
					continue
				}
			}
		}
		kept = append(kept, op)
	}
	history = kept
	rep.Ops = len(history)

	model := cfg.Workload.Model()
	checkStart := time.Now()
	res, info := porcupine.CheckOperationsVerbose(model, history, cfg.CheckTimeout)
	rep.Result = res
	checkTook := time.Since(checkStart)
	if res == porcupine.Illegal {
		hist, html, err := writeArtifacts(cfg.Name, model, history, info, rep.Faults)
		rep.History, rep.Visualization = hist, html
		t.Errorf("%s: the history of %d operations is not linearizable (seed %d)\n  history: %s\n  visualization: %s (open in a browser)\n  artifact error: %v",
			cfg.Name, len(history), cfg.Seed, hist, html, err)
	}
	if res == porcupine.Unknown {
		t.Logf("%s: the linearizability check ran out of time (%v): inconclusive", cfg.Name, cfg.CheckTimeout)
	}
	if hc, ok := cfg.Workload.(HistoryChecker); ok {
		if err := hc.CheckHistory(history); err != nil {
			t.Errorf("%s: %v (seed %d)", cfg.Name, err, cfg.Seed)
		}
	}
	t.Logf("%s: seed %d, %d clients, %s, %v: %d ops checked (%d unknown, %d of them left out as reads or as never applied; %d refused), faults %v, %d acknowledged writes read back, %d lost, porcupine: %s in %v",
		cfg.Name, cfg.Seed, cfg.Clients, cl.describe(), cfg.Duration, rep.Ops, rep.Unknown, rep.Resolved, rep.NotSent, faultCounts(rep.Faults),
		rep.AcksChecked, len(rep.AcksLost), res, checkTook.Round(time.Millisecond))
	return rep
}

func (cfg *Config) defaults() {
	if cfg.Name == "" {
		cfg.Name = cfg.Workload.Name()
	}
	if cfg.Clients <= 0 {
		cfg.Clients = 6
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 3 * time.Second
	}
	if cfg.FaultEvery <= 0 {
		cfg.FaultEvery = cfg.Duration / 2
	}
	if cfg.OpTimeout <= 0 {
		cfg.OpTimeout = time.Second
	}
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = 2 * time.Minute
	}
}

// checkAcks reads back the acknowledged writes, when the workload can.
func checkAcks(t testing.TB, ctx context.Context, cfg Config, sess *Session, rep *Report, quiescent bool) {
	t.Helper()
	ac, ok := cfg.Workload.(AckChecker)
	if !ok {
		return
	}
	n, lost, err := ac.CheckAcked(ctx, sess, quiescent)
	rep.AcksChecked += n
	rep.AcksLost = append(rep.AcksLost, lost...)
	if err != nil {
		t.Errorf("%s: reading back acknowledged writes: %v", cfg.Name, err)
	}
	for _, l := range lost {
		t.Errorf("%s: acknowledged write lost: %s", cfg.Name, l)
	}
}

// jitter returns a duration uniformly in [d/2, 3d/2).
func jitter(rng *rand.Rand, d time.Duration) time.Duration {
	return d/2 + randDur(rng, d)
}

func faultCounts(fs []FaultRecord) string {
	if len(fs) == 0 {
		return "none"
	}
	n := map[Fault]int{}
	for _, f := range fs {
		n[f.Fault]++
	}
	s := ""
	for _, f := range ClusterFaults {
		if n[f] > 0 {
			if s != "" {
				s += ", "
			}
			s += fmt.Sprintf("%s×%d", f, n[f])
		}
	}
	return s
}

// randDur returns a duration uniformly in [0, d).
func randDur(rng *rand.Rand, d time.Duration) time.Duration {
	return time.Duration(rng.Int64N(int64(d)))
}
