package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// OverloadOptions shapes an overload run (Overload).
type OverloadOptions struct {
	// Base is the server's URL; Token, if not empty, is sent as a bearer
	// token; Collection is where the documents are written.
	Base, Token, Collection string
	// Docs and DocSize are the documents written: Docs of DocSize bytes.
	Docs, DocSize int
	// Clients is how many closed-loop clients measure the capacity.
	Clients int
	// Step is how long the capacity and each multiple of it are measured.
	Step time.Duration
	// Multiples are the offered loads, as multiples of the capacity.
	Multiples []float64
	// MaxOutstanding bounds the requests the generator keeps in flight at
	// once, and its connections; a request due past it is counted as
	// Dropped, not sent. Zero means 256: below truce serve's default
	// --max-conns-per-ip, which would otherwise refuse connections rather
	// than shed requests.
	MaxOutstanding int
}

// OverloadStep is what one offered load got.
type OverloadStep struct {
	Multiple      float64 `json:"multiple"`
	OfferedPerSec float64 `json:"offeredPerSec"`
	GoodputPerSec float64 `json:"goodputPerSec"` // writes acknowledged (2xx) a second
	ShedPerSec    float64 `json:"shedPerSec"`    // 503 overloaded a second
	Sent          int64   `json:"sent"`
	OK            int64   `json:"ok"`
	Shed          int64   `json:"shed"`
	Errors        int64   `json:"errors"`  // any other answer, or no answer
	Dropped       int64   `json:"dropped"` // due but not sent: the generator was saturated
	P50Ms         float64 `json:"p50Ms"`   // of the acknowledged writes
	P99Ms         float64 `json:"p99Ms"`
}

// OverloadReport is an overload run: the capacity measured closed-loop,
// then each offered load, open-loop.
type OverloadReport struct {
	CapacityPerSec float64        `json:"capacityPerSec"`
	CapacityP99Ms  float64        `json:"capacityP99Ms"`
	Steps          []OverloadStep `json:"steps"`
}

// Overload measures how a server sheds load: first its capacity, the
// acknowledged blind PUTs a second of o.Clients closed-loop clients; then,
// for each of o.Multiples, PUTs sent open-loop (at a fixed rate, whether or
// not earlier ones were answered, as independent users do) at that
// multiple of the capacity. A server that sheds keeps its goodput near the
// capacity and the p99 of what it admits near the unloaded one; one that
// queues sees both degrade.
func Overload(ctx context.Context, o OverloadOptions) (*OverloadReport, error) {
	if o.MaxOutstanding <= 0 {
		o.MaxOutstanding = 256
	}
	tr := NewTransport(o.MaxOutstanding)
	tr.MaxConnsPerHost = o.MaxOutstanding
	hc := &http.Client{Transport: tr, Timeout: requestTimeout}
	defer hc.CloseIdleConnections()
	body := []byte(`{"pad":"` + strings.Repeat("x", max(o.DocSize-10, 1)) + `"}`)
	put := func(ctx context.Context, i int) (status int, err error) {
		req, err := http.NewRequestWithContext(ctx, "PUT", fmt.Sprintf("%s/v1/collections/%s/docs/d%d", o.Base, o.Collection, i), bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "application/json")
		if o.Token != "" {
			req.Header.Set("Authorization", "Bearer "+o.Token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	for i := range o.Docs {
		if st, err := put(ctx, i); err != nil || st >= 300 {
			return nil, fmt.Errorf("seed document d%d: %d %v", i, st, err)
		}
	}

	// The capacity, closed-loop.
	rep := &OverloadReport{}
	hist := newHistogram()
	var mu sync.Mutex
	var ok atomic.Int64
	cctx, cancel := context.WithTimeout(ctx, o.Step)
	var wg sync.WaitGroup
	start := time.Now()
	for c := range o.Clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 1))
			for cctx.Err() == nil {
				t0 := time.Now()
				st, err := put(cctx, rng.IntN(o.Docs))
				if err == nil && st < 300 {
					ok.Add(1)
					mu.Lock()
					recordMicros(hist, time.Since(t0))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	cancel()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rep.CapacityPerSec = float64(ok.Load()) / time.Since(start).Seconds()
	rep.CapacityP99Ms = float64(hist.ValueAtQuantile(99)) / 1000
	if rep.CapacityPerSec <= 0 {
		return nil, fmt.Errorf("no write succeeded in %s: no capacity to multiply", o.Step)
	}

	for _, m := range o.Multiples {
		step, err := openLoop(ctx, o, m, rep.CapacityPerSec*m, put)
		if err != nil {
			return nil, err
		}
		rep.Steps = append(rep.Steps, step)
	}
	return rep, nil
}

// openLoop sends PUTs at rate a second for o.Step, each on its own
// goroutine, and counts their answers.
func openLoop(ctx context.Context, o OverloadOptions, m, rate float64, put func(context.Context, int) (int, error)) (OverloadStep, error) {
	step := OverloadStep{Multiple: m, OfferedPerSec: rate}
	hist := newHistogram()
	var mu sync.Mutex
	var ok, shed, errs, outstanding atomic.Int64
	var wg sync.WaitGroup
	rng := rand.New(rand.NewPCG(uint64(rate), 2))
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	for due := 0; ; {
		now := time.Since(start)
		if now >= o.Step || ctx.Err() != nil {
			break
		}
		for ; time.Duration(due)*interval <= now; due++ {
			if outstanding.Load() >= int64(o.MaxOutstanding) {
				step.Dropped++
				continue
			}
			step.Sent++
			outstanding.Add(1)
			i := rng.IntN(o.Docs)
			wg.Go(func() {
				defer outstanding.Add(-1)
				t0 := time.Now()
				st, err := put(ctx, i)
				switch {
				case err == nil && st < 300:
					ok.Add(1)
					mu.Lock()
					recordMicros(hist, time.Since(t0))
					mu.Unlock()
				case err == nil && st == http.StatusServiceUnavailable:
					shed.Add(1)
				default:
					errs.Add(1)
				}
			})
		}
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return step, err
	}
	secs := o.Step.Seconds()
	step.OK, step.Shed, step.Errors = ok.Load(), shed.Load(), errs.Load()
	step.GoodputPerSec, step.ShedPerSec = float64(step.OK)/secs, float64(step.Shed)/secs
	step.P50Ms = float64(hist.ValueAtQuantile(50)) / 1000
	step.P99Ms = float64(hist.ValueAtQuantile(99)) / 1000
	return step, nil
}

// WriteTable prints r for people.
func (r *OverloadReport) WriteTable(w io.Writer) error {
	if _, err := fmt.Fprintf(w, "capacity (closed loop): %s writes/s, p99 %s\n\n", Group(r.CapacityPerSec), Millis(r.CapacityP99Ms)); err != nil {
		return err
	}
	fmt.Fprintf(w, "%-5s %12s %12s %12s %8s %8s %10s %10s\n", "load", "offered/s", "goodput/s", "shed/s", "errors", "dropped", "p50", "p99")
	for _, s := range r.Steps {
		if _, err := fmt.Fprintf(w, "%-5s %12s %12s %12s %8d %8d %10s %10s\n", fmt.Sprintf("%g×", s.Multiple),
			Group(s.OfferedPerSec), Group(s.GoodputPerSec), Group(s.ShedPerSec), s.Errors, s.Dropped, Millis(s.P50Ms), Millis(s.P99Ms)); err != nil {
			return err
		}
	}
	return nil
}
