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
	ok, hist, err := closedLoop(ctx, t, reqs, o.Clients, o.Step)
	if err != nil {
		return nil, fmt.Errorf("capacity: %w", err)
	}
	rep := &OverloadReport{Clients: o.Clients, Conns: o.Conns, Arrivals: "poisson",
		CapacityPerSec: float64(ok) / o.Step.Seconds(),
		CapacityP50Ms:  float64(hist.ValueAtQuantile(50)) / 1000,
		CapacityP99Ms:  float64(hist.ValueAtQuantile(99)) / 1000}
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
		rss := sampleRSS(ctx, o.Base, o.Token)
		st, err := s.step(ctx, rate, o.Step, o.Uniform, o.Docs, uint64(i))
		peak := rss()
		if err != nil {
			return nil, err
		}
		secs := o.Step.Seconds()
		step := OverloadStep{Multiple: m, OfferedPerSec: rate, RSSPeakMiB: peak,
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

// sampleRSS reads the server's resident memory from its /metrics
// (process_resident_memory_bytes) every 200 ms until the function it
// returns is called, which returns the peak in MiB: 0 if /metrics could
// not be read (a token that may not read it, a server without it).
func sampleRSS(ctx context.Context, base, token string) func() float64 {
	ctx, cancel := context.WithCancel(ctx)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: NewTransport(1)}
	var peak float64
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			v, ok := readRSS(ctx, hc, base, token)
			if !ok {
				return
			}
			peak = max(peak, v)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() float64 {
		cancel()
		<-done
		hc.CloseIdleConnections()
		return peak / (1 << 20)
	}
}

// readRSS reads process_resident_memory_bytes from base's /metrics.
func readRSS(ctx context.Context, hc *http.Client, base, token string) (float64, bool) {
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(base, "/")+"/metrics", nil)
	if err != nil {
		return 0, false
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, false
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("process_resident_memory_bytes ")); ok {
			f, err := strconv.ParseFloat(string(bytes.TrimSpace(v)), 64)
			return f, err == nil
		}
	}
	return 0, false
}

// WriteTable prints r for people.
func (r *OverloadReport) WriteTable(w io.Writer) error {
	if _, err := fmt.Fprintf(w, "capacity (%d closed-loop clients): %s writes/s, p50 %s, p99 %s\nopen loop: %s arrivals over %d connections; latency from the intended send time\n\n",
		r.Clients, Group(r.CapacityPerSec), Millis(r.CapacityP50Ms), Millis(r.CapacityP99Ms), r.Arrivals, r.Conns); err != nil {
		return err
	}
	fmt.Fprintf(w, "%-5s %10s %10s %10s %10s %7s %7s %9s %9s %9s %9s %8s\n",
		"load", "offered/s", "sent/s", "goodput/s", "shed/s", "errors", "late", "p50", "p99", "503 p99", "send lag", "RSS MiB")
	for _, s := range r.Steps {
		if _, err := fmt.Fprintf(w, "%-5s %10s %10s %10s %10s %7d %7d %9s %9s %9s %9s %8.0f\n", fmt.Sprintf("%g×", s.Multiple),
			Group(s.OfferedPerSec), Group(s.SentPerSec), Group(s.GoodputPerSec), Group(s.ShedPerSec), s.Errors, s.Late,
			Millis(s.P50Ms), Millis(s.P99Ms), Millis(s.ShedP99Ms), Millis(s.SendLagMs), s.RSSPeakMiB); err != nil {
			return err
		}
	}
	return nil
}
