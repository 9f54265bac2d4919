package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// RunOptions says how long and how wide a run is.
type RunOptions struct {
	// Clients is the number of concurrent clients (at least 1).
	Clients int
	// Duration is how long the measured part runs; ignored when Count is
	// set.
	Duration time.Duration
	// Count, when positive, is the number of operations measured in all.
	Count int64
	// Warmup is how long the clients run before measuring starts; what
	// they do meanwhile is discarded.
	Warmup time.Duration
	// Interval is the length of the intervals of the time series and of
	// the progress reports; zero means one second.
	Interval time.Duration
	// Progress, if not nil, is called after each interval, from one
	// goroutine.
	Progress func(Progress)
	// Measuring, if not nil, is called when the measured part begins (at
	// the end of the warm-up), e.g. to sample CPU counters.
	Measuring func()
}

// Progress is a report on a run in flight.
type Progress struct {
	Warmup    bool          // still warming up
	Elapsed   time.Duration // of the warm-up, or of the measured part
	Duration  time.Duration // planned length of that part (0 when counting)
	Count     int64         // planned operations (0 when timed)
	Ops       int64         // operations measured so far
	Writes    int64
	Conflicts int64
	Last      Interval // the interval just ended
}

// Stats is what a run measured.
type Stats struct {
	Elapsed   time.Duration
	Ops       int64
	Reads     int64
	Writes    int64
	Conflicts int64
	Retries   int64
	Merged    int64
	// Latency holds every measured operation's latency in microseconds.
	Latency *hdrhistogram.Histogram
	// Intervals is the time series, one entry per interval; a final
	// sliver shorter than half an interval is left out of it (not out of
	// the totals).
	Intervals []Interval
}

// Interval is one slice of the time series.
type Interval struct {
	EndSeconds float64 `json:"endSeconds"`
	Ops        int64   `json:"ops"`
	Writes     int64   `json:"writes"`
	Conflicts  int64   `json:"conflicts"`
	OpsPerSec  float64 `json:"opsPerSec"`
	P50Ms      float64 `json:"p50Ms"`
	P99Ms      float64 `json:"p99Ms"`
	MaxMs      float64 `json:"maxMs"`
}

// Run repeats op from o.Clients concurrent clients, first for o.Warmup and
// then for o.Duration or o.Count operations, and returns what the measured
// part did. It stops early, with what it measured so far, when ctx ends
// (operations in flight finish), and at the first error op returns, which
// it returns too.
func Run(ctx context.Context, op Op, o RunOptions) (*Stats, error) {
	if o.Clients < 1 {
		return nil, fmt.Errorf("loadgen: %d clients; need at least 1", o.Clients)
	}
	if o.Count <= 0 && o.Duration <= 0 {
		return nil, errors.New("loadgen: need a duration or a count")
	}
	interval := o.Interval
	if interval <= 0 {
		interval = time.Second
	}
	rec := newRecorder(o.Clients)
	opCtx := context.WithoutCancel(ctx) // a stop lets operations in flight finish

	var (
		stop      atomic.Bool
		measuring atomic.Bool
		next      atomic.Int64 // operations claimed while counting
		errOnce   sync.Once
		firstErr  error
		wg        sync.WaitGroup
		done      = make(chan struct{})
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err })
		stop.Store(true)
	}
	warming := o.Warmup > 0
	if !warming && o.Measuring != nil {
		o.Measuring()
	}
	measuring.Store(!warming)
	for id := range o.Clients {
		wg.Go(func() {
			c := &Client{ID: id, Rand: rand.New(rand.NewPCG(uint64(id)+1, uint64(time.Now().UnixNano())))}
			cctx := withClient(opCtx, c)
			for !stop.Load() {
				// Operations that start in the warm-up are not recorded.
				measured := measuring.Load()
				if o.Count > 0 && measured && next.Add(1) > o.Count {
					return
				}
				t0 := time.Now()
				res, err := op(cctx, c)
				d := time.Since(t0)
				c.Seq++
				if err != nil {
					fail(fmt.Errorf("client %d: %w", id, err))
					return
				}
				if measured {
					rec.record(id, d, res)
				}
			}
		})
	}
	go func() { wg.Wait(); close(done) }()

	tick := time.NewTicker(interval)
	defer tick.Stop()
	phaseStart := time.Now()
	lastCut := phaseStart
	var progress Progress
	report := func(iv Interval) {
		if o.Progress == nil {
			return
		}
		p := progress
		p.Warmup = warming
		p.Elapsed = time.Since(phaseStart)
		p.Last = iv
		if warming {
			p.Duration = o.Warmup
		} else if o.Count > 0 {
			p.Count = o.Count
		} else {
			p.Duration = o.Duration
		}
		o.Progress(p)
	}
loop:
	for {
		var timer <-chan time.Time
		switch {
		case warming:
			timer = time.After(time.Until(phaseStart.Add(o.Warmup)))
		case o.Count <= 0:
			timer = time.After(time.Until(phaseStart.Add(o.Duration)))
		}
		select {
		case <-done:
			break loop
		case <-ctx.Done():
			stop.Store(true)
			<-done
			break loop
		case <-timer:
			if warming {
				warming = false
				if o.Measuring != nil {
					o.Measuring()
				}
				phaseStart, lastCut = time.Now(), time.Now()
				tick.Reset(interval) // intervals count from here
				measuring.Store(true)
				continue
			}
			stop.Store(true)
			<-done
			break loop
		case now := <-tick.C:
			if warming {
				report(Interval{})
				continue
			}
			iv := rec.cut(now.Sub(phaseStart), now.Sub(lastCut))
			lastCut = now
			progress.Ops += iv.Ops
			progress.Writes += iv.Writes
			progress.Conflicts += iv.Conflicts
			report(iv)
		}
	}
	end := time.Now()
	if warming { // stopped before measuring began
		phaseStart = end
	}
	rec.cut(end.Sub(phaseStart), end.Sub(lastCut))
	rec.mu.Lock()
	defer rec.mu.Unlock()
	s := &Stats{
		Elapsed:   end.Sub(phaseStart),
		Ops:       rec.sum.ops,
		Reads:     rec.sum.reads,
		Writes:    rec.sum.writes,
		Conflicts: rec.sum.conflicts,
		Retries:   rec.sum.retries,
		Merged:    rec.sum.merged,
		Latency:   rec.total,
		Intervals: rec.intervals,
	}
	// The last interval is often a sliver, whose few operations make a
	// misleading point: its operations count in the totals, but it is
	// dropped from the series when it is shorter than half an interval.
	if n := len(s.Intervals); n > 1 && end.Sub(lastCut) < interval/2 {
		s.Intervals = s.Intervals[:n-1]
	}
	return s, firstErr
}
