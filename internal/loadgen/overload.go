package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// OverloadOptions shapes an overload run (Overload).
type OverloadOptions struct {
	// Base is the server's URL (http://); Token, if not empty, is sent as
	// a bearer token; Collection is where the documents are written.
	Base, Token, Collection string
	// Docs and DocSize are the documents written: Docs of DocSize bytes.
	Docs, DocSize int
	// Clients is how many closed-loop clients measure the capacity.
	Clients int
	// Warmup is how long the closed-loop clients run before the capacity
	// is measured (discarded).
	Warmup time.Duration
	// Step is how long the capacity and each multiple of it are measured.
	Step time.Duration
	// Multiples are the offered loads, as multiples of the capacity. One
	// below 1 (say 0.5) measures the latency of an unloaded server.
	Multiples []float64
	// Conns is how many connections the open-loop sender keeps open: a
	// request due while all of them wait for answers is sent late (and
	// counted as such). Zero means 512, below truce serve's default
	// --max-conns-per-ip.
	Conns int
	// Capacity, when above zero, is the capacity the Multiples multiply,
	// in writes a second, instead of one measured closed-loop: runs that
	// compare two servers side by side then offer both the same rates.
	// The warm-up still runs.
	Capacity float64
	// Uniform spaces the open-loop requests evenly instead of at
	// exponential gaps (Poisson arrivals, as independent users make).
	Uniform bool
}

// OverloadStep is what one offered load got.
type OverloadStep struct {
	Multiple      float64 `json:"multiple"`
	OfferedPerSec float64 `json:"offeredPerSec"`
	SentPerSec    float64 `json:"sentPerSec"`    // requests written during the step's window, a second
	GoodputPerSec float64 `json:"goodputPerSec"` // writes acknowledged (2xx) a second
	ShedPerSec    float64 `json:"shedPerSec"`    // 503 overloaded a second
	Sent          int64   `json:"sent"`
	OK            int64   `json:"ok"`
	Shed          int64   `json:"shed"`
	Errors        int64   `json:"errors"` // any other answer, or no answer
	// Late counts the requests due while every connection waited for an
	// answer: sent later than intended, their wait counted in their
	// latency. Many of them mean the generator, not the server, set the
	// pace.
	Late int64 `json:"late"`
	// Dropped counts the requests due but never sent (given up at the
	// step's end); they are also counted as errors.
	Dropped    int64   `json:"dropped"`
	P50Ms      float64 `json:"p50Ms"` // of the acknowledged writes, from the intended send time
	P99Ms      float64 `json:"p99Ms"`
	ShedP99Ms  float64 `json:"shedP99Ms"`  // how long a 503 took
	SendLagMs  float64 `json:"sendLagMs"`  // p99 of how late requests were written
	RSSPeakMiB float64 `json:"rssPeakMiB"` // the server's, from its /metrics (0: not readable)
	// ServerCPU and GeneratorCPU are the CPU the server (from its
	// /metrics) and this process used during the step, in percent of one
	// core: near 100 × the cores they may use, that one set the pace.
	ServerCPU    float64 `json:"serverCpuPercent"`
	GeneratorCPU float64 `json:"generatorCpuPercent"`
}

// OverloadReport is an overload run: the capacity measured closed-loop,
// then each offered load, open-loop.
type OverloadReport struct {
	CapacityPerSec float64        `json:"capacityPerSec"`
	CapacityP50Ms  float64        `json:"capacityP50Ms"`
	CapacityP99Ms  float64        `json:"capacityP99Ms"`
	Clients        int            `json:"clients"`
	Conns          int            `json:"conns"`
	Arrivals       string         `json:"arrivals"` // poisson or uniform
	Steps          []OverloadStep `json:"steps"`
}

// Overload measures how a server sheds load: first its capacity, the
// acknowledged blind PUTs a second of o.Clients closed-loop clients; then,
// for each of o.Multiples, PUTs sent open-loop (at their own times,
// whether or not earlier ones were answered, as independent users send
// them) at that multiple of the capacity. A server that sheds keeps its
// goodput near the capacity and the p99 of what it admits near the
// unloaded one; one that queues sees both degrade.
func Overload(ctx context.Context, o OverloadOptions) (*OverloadReport, error) {
	if o.Conns <= 0 {
		o.Conns = 512
	}
	o.Clients = max(o.Clients, 1)
	o.Docs = max(o.Docs, 1)
	t, err := newRawTarget(o.Base)
	if err != nil {
		return nil, err
	}
	if err := checkFDs(o.Conns + o.Clients); err != nil {
		return nil, err
	}
	body := []byte(`{"pad":"` + strings.Repeat("x", max(o.DocSize-10, 1)) + `"}`)
	reqs := make([][]byte, o.Docs)
	for i := range reqs {
		reqs[i] = t.putRequest(fmt.Sprintf("/v1/collections/%s/docs/d%d", o.Collection, i), o.Token, body)
	}
	if err := seedRaw(t, reqs, o.Clients); err != nil {
		return nil, err
	}

	// The capacity, closed-loop.
	if o.Warmup > 0 {
		if _, _, err := closedLoop(ctx, t, reqs, o.Clients, o.Warmup); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	rep := &OverloadReport{Clients: o.Clients, Conns: o.Conns, Arrivals: "poisson", CapacityPerSec: o.Capacity}
	if o.Capacity <= 0 {
		ok, hist, err := closedLoop(ctx, t, reqs, o.Clients, o.Step)
		if err != nil {
			return nil, fmt.Errorf("capacity: %w", err)
		}
		rep.CapacityPerSec = float64(ok) / o.Step.Seconds()
		rep.CapacityP50Ms = float64(hist.ValueAtQuantile(50)) / 1000
		rep.CapacityP99Ms = float64(hist.ValueAtQuantile(99)) / 1000
	}
	if o.Uniform {
		rep.Arrivals = "uniform"
	}
	if rep.CapacityPerSec <= 0 {
		return nil, fmt.Errorf("no write succeeded in %s: no capacity to multiply", o.Step)
	}

	s, err := newSender(t, reqs, o.Conns)
	if err != nil {
		return nil, err
	}
	defer s.close()
	for i, m := range o.Multiples {
		rate := rep.CapacityPerSec * m
		server := sampleServer(ctx, o.Base, o.Token)
		cpu0, t0 := processCPU(), time.Now()
		st, err := s.step(ctx, rate, o.Step, o.Uniform, o.Docs, uint64(i))
		genCPU := 100 * (processCPU() - cpu0).Seconds() / time.Since(t0).Seconds()
		peak, serverCPU := server.stop()
		if err != nil {
			return nil, err
		}
		secs := o.Step.Seconds()
		step := OverloadStep{Multiple: m, OfferedPerSec: rate, RSSPeakMiB: peak, ServerCPU: serverCPU, GeneratorCPU: genCPU,
			Sent: st.sent.Load(), OK: st.ok.Load(), Shed: st.shed.Load(), Errors: st.errs.Load(), Late: st.late.Load(), Dropped: st.dropped.Load(),
			SentPerSec: float64(st.sentInWindow.Load()) / secs}
		step.GoodputPerSec, step.ShedPerSec = float64(step.OK)/secs, float64(step.Shed)/secs
		step.P50Ms = float64(st.admit.ValueAtQuantile(50)) / 1000
		step.P99Ms = float64(st.admit.ValueAtQuantile(99)) / 1000
		step.ShedP99Ms = float64(st.shedLat.ValueAtQuantile(99)) / 1000
		step.SendLagMs = float64(st.lag.ValueAtQuantile(99)) / 1000
		rep.Steps = append(rep.Steps, step)
	}
	return rep, nil
}

// seedRaw writes every document once, over clients connections.
func seedRaw(t rawTarget, reqs [][]byte, clients int) error {
	var wg sync.WaitGroup
	errs := make([]error, clients)
	for c := range clients {
		wg.Go(func() {
			rc, err := dialRaw(t)
			if err != nil {
				errs[c] = err
				return
			}
			defer func() { _ = rc.c.Close() }()
			for i := c; i < len(reqs); i += clients {
				status, closing, err := rc.roundTrip(reqs[i])
				if err != nil || status >= 300 {
					errs[c] = fmt.Errorf("seed document d%d: %d %v", i, status, err)
					return
				}
				if closing {
					_ = rc.c.Close()
					if rc, err = dialRaw(t); err != nil {
						errs[c] = err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// serverSampler reads the server's process figures from its /metrics
// every 200 ms, until stop is called.
type serverSampler struct {
	cancel context.CancelFunc
	done   chan struct{}
	hc     *http.Client
	// Guarded by done: written by the sampling goroutine, read after it ends.
	ok               bool
	peakRSS          float64 // bytes
	cpuFirst, cpuEnd float64 // process_cpu_seconds_total
	tFirst, tEnd     time.Time
}

// sampleServer starts sampling base's /metrics (process_resident_memory_bytes
// and process_cpu_seconds_total).
func sampleServer(ctx context.Context, base, token string) *serverSampler {
	ctx, cancel := context.WithCancel(ctx)
	s := &serverSampler{cancel: cancel, done: make(chan struct{}), hc: &http.Client{Timeout: 5 * time.Second, Transport: NewTransport(1)}}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			rss, cpu, ok := readProcess(ctx, s.hc, base, token)
			if !ok {
				return
			}
			now := time.Now()
			if !s.ok {
				s.ok, s.cpuFirst, s.tFirst = true, cpu, now
			}
			s.peakRSS, s.cpuEnd, s.tEnd = max(s.peakRSS, rss), cpu, now
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// stop ends the sampling and returns the peak RSS in MiB and the share of
// a core the server used between the first and the last sample, in
// percent: zeros if /metrics could not be read (a token that may not read
// it, a server without it).
func (s *serverSampler) stop() (rssMiB, cpuPercent float64) {
	s.cancel()
	<-s.done
	s.hc.CloseIdleConnections()
	if !s.ok {
		return 0, 0
	}
	if d := s.tEnd.Sub(s.tFirst).Seconds(); d > 0 {
		cpuPercent = 100 * (s.cpuEnd - s.cpuFirst) / d
	}
	return s.peakRSS / (1 << 20), cpuPercent
}

// readProcess reads process_resident_memory_bytes and
// process_cpu_seconds_total from base's /metrics.
func readProcess(ctx context.Context, hc *http.Client, base, token string) (rss, cpu float64, ok bool) {
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(base, "/")+"/metrics", nil)
	if err != nil {
		return 0, 0, false
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, 0, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, false
	}
	var haveRSS, haveCPU bool
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() && !(haveRSS && haveCPU) {
		if v, found := bytes.CutPrefix(sc.Bytes(), []byte("process_resident_memory_bytes ")); found {
			rss, err = strconv.ParseFloat(string(bytes.TrimSpace(v)), 64)
			haveRSS = err == nil
		} else if v, found := bytes.CutPrefix(sc.Bytes(), []byte("process_cpu_seconds_total ")); found {
			cpu, err = strconv.ParseFloat(string(bytes.TrimSpace(v)), 64)
			haveCPU = err == nil
		}
	}
	return rss, cpu, haveRSS && haveCPU
}

// WriteTable prints r for people.
func (r *OverloadReport) WriteTable(w io.Writer) error {
	if _, err := fmt.Fprintf(w, "capacity (%d closed-loop clients): %s writes/s, p50 %s, p99 %s\nopen loop: %s arrivals over %d connections; latency from the intended send time\n\n",
		r.Clients, Group(r.CapacityPerSec), Millis(r.CapacityP50Ms), Millis(r.CapacityP99Ms), r.Arrivals, r.Conns); err != nil {
		return err
	}
	fmt.Fprintf(w, "%-5s %10s %10s %10s %10s %7s %7s %9s %9s %9s %9s %8s %7s %7s\n",
		"load", "offered/s", "sent/s", "goodput/s", "shed/s", "errors", "late", "p50", "p99", "503 p99", "send lag", "RSS MiB", "srv CPU", "gen CPU")
	for _, s := range r.Steps {
		if _, err := fmt.Fprintf(w, "%-5s %10s %10s %10s %10s %7d %7d %9s %9s %9s %9s %8.0f %6.0f%% %6.0f%%\n", fmt.Sprintf("%g×", s.Multiple),
			Group(s.OfferedPerSec), Group(s.SentPerSec), Group(s.GoodputPerSec), Group(s.ShedPerSec), s.Errors, s.Late,
			Millis(s.P50Ms), Millis(s.P99Ms), Millis(s.ShedP99Ms), Millis(s.SendLagMs), s.RSSPeakMiB, s.ServerCPU, s.GeneratorCPU); err != nil {
			return err
		}
	}
	return nil
}
