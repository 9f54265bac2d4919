package loadgen_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"sync/atomic"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/trucedb/truce/internal/loadgen"
)

func TestDocAndStamp(t *testing.T) {
	for _, size := range []int{1, 64, 1024, 4096} {
		doc := loadgen.Doc(size)
		if size >= 64 && len(doc) != size {
			t.Errorf("Doc(%d) is %d bytes", size, len(doc))
		}
		loadgen.Stamp(doc, 1234567)
		var v struct{ N, Pad string }
		if err := json.Unmarshal(doc, &v); err != nil {
			t.Fatalf("Doc(%d) after Stamp is not JSON: %v: %s", size, err, doc)
		}
		if v.N != "000001234567" {
			t.Errorf("Doc(%d): n = %q after Stamp(1234567)", size, v.N)
		}
	}
}

// TestReportPercentiles checks the summary of a known distribution: 1..10000
// µs, each once.
func TestReportPercentiles(t *testing.T) {
	h := hdrhistogram.New(1, 60_000_000, 3)
	for us := int64(1); us <= 10_000; us++ {
		if err := h.RecordValue(us); err != nil {
			t.Fatal(err)
		}
	}
	r := loadgen.NewReport(&loadgen.Stats{Elapsed: 2 * time.Second, Ops: 10_000, Writes: 4_000, Latency: h})
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > want*0.002 {
			t.Errorf("%s = %v ms, want %v ms (±0.2%%)", name, got, want)
		}
	}
	near("p50", r.Latency.P50, 5)
	near("p90", r.Latency.P90, 9)
	near("p99", r.Latency.P99, 9.9)
	near("p999", r.Latency.P999, 9.99)
	near("max", r.Latency.Max, 10)
	near("mean", r.Latency.Mean, 5.0005)
	if r.Throughput != 5000 || r.Goodput != 2000 {
		t.Errorf("throughput %v, goodput %v; want 5000 and 2000", r.Throughput, r.Goodput)
	}
	last := 0.0
	for _, p := range r.Percentiles {
		if p.Ms < last {
			t.Errorf("percentile curve falls at %v%%: %v ms after %v ms", p.Percentile, p.Ms, last)
		}
		last = p.Ms
	}
	if n := len(r.Percentiles); n == 0 || r.Percentiles[n-1].Percentile != 100 {
		t.Errorf("percentile curve does not end at 100%%: %+v", r.Percentiles)
	}
}

func TestRunCountsExactly(t *testing.T) {
	var calls atomic.Int64
	op := func(ctx context.Context, c *loadgen.Client) (loadgen.Result, error) {
		calls.Add(1)
		if c.Seq%2 == 0 {
			return loadgen.Result{Writes: 1, Conflicts: 2, Retries: 2}, nil
		}
		return loadgen.Result{Reads: 1}, nil
	}
	var callsAtStart int64 = -1
	s, err := loadgen.Run(context.Background(), op, loadgen.RunOptions{Clients: 8, Count: 1000, Warmup: 50 * time.Millisecond,
		Measuring: func() { callsAtStart = calls.Load() }})
	if err != nil {
		t.Fatal(err)
	}
	if callsAtStart <= 0 {
		t.Errorf("Measuring was called after %d calls, want after the warm-up's", callsAtStart)
	}
	if s.Ops != 1000 || s.Latency.TotalCount() != 1000 {
		t.Errorf("measured %d ops, %d latencies; want 1000", s.Ops, s.Latency.TotalCount())
	}
	if s.Reads+s.Writes != 1000 || s.Conflicts != 2*s.Writes || s.Retries != s.Conflicts {
		t.Errorf("reads %d writes %d conflicts %d retries %d do not add up", s.Reads, s.Writes, s.Conflicts, s.Retries)
	}
	if calls.Load() <= 1000 {
		t.Errorf("%d calls in all: the warm-up's were not discarded", calls.Load())
	}
}

func TestRunStopsAtFirstError(t *testing.T) {
	boom := errors.New("boom")
	var calls atomic.Int64
	op := func(ctx context.Context, c *loadgen.Client) (loadgen.Result, error) {
		if calls.Add(1) == 50 {
			return loadgen.Result{}, boom
		}
		return loadgen.Result{Reads: 1}, nil
	}
	_, err := loadgen.Run(context.Background(), op, loadgen.RunOptions{Clients: 4, Duration: time.Hour})
	if !errors.Is(err, boom) {
		t.Fatalf("Run returned %v, want the op's error", err)
	}
}

func TestRunStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	op := func(ctx context.Context, c *loadgen.Client) (loadgen.Result, error) {
		if c.Seq == 100 && c.ID == 0 {
			cancel()
		}
		time.Sleep(100 * time.Microsecond)
		return loadgen.Result{Reads: 1}, ctx.Err() // the op's context stays alive
	}
	s, err := loadgen.Run(ctx, op, loadgen.RunOptions{Clients: 4, Duration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if s.Ops < 100 {
		t.Errorf("measured %d ops before the stop, want at least 100", s.Ops)
	}
}

func TestRunIntervals(t *testing.T) {
	op := func(ctx context.Context, c *loadgen.Client) (loadgen.Result, error) {
		time.Sleep(time.Millisecond)
		return loadgen.Result{Writes: 1}, nil
	}
	var progress []loadgen.Progress
	s, err := loadgen.Run(context.Background(), op, loadgen.RunOptions{
		Clients: 4, Duration: 600 * time.Millisecond, Interval: 100 * time.Millisecond, Warmup: 150 * time.Millisecond,
		Progress: func(p loadgen.Progress) { progress = append(progress, p) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Intervals) < 3 {
		t.Fatalf("%d intervals in 600 ms of 100 ms", len(s.Intervals))
	}
	if first := s.Intervals[0].EndSeconds; first < 0.05 {
		t.Errorf("the first interval ends %v s into the measured part: intervals must count from its start", first)
	}
	var sum int64
	last := 0.0
	for _, iv := range s.Intervals {
		sum += iv.Ops
		if iv.EndSeconds < last {
			t.Errorf("interval ends go back: %v after %v", iv.EndSeconds, last)
		}
		last = iv.EndSeconds
	}
	// Only a final sliver shorter than half an interval may be left out.
	if sum > s.Ops || sum < s.Ops*4/5 {
		t.Errorf("intervals hold %d ops, the run %d", sum, s.Ops)
	}
	if len(progress) == 0 || progress[len(progress)-1].Ops == 0 {
		t.Errorf("progress reports: %+v", progress)
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	op := func(context.Context, *loadgen.Client) (loadgen.Result, error) { return loadgen.Result{}, nil }
	for _, o := range []loadgen.RunOptions{{Clients: 0, Count: 1}, {Clients: 1}} {
		if _, err := loadgen.Run(context.Background(), op, o); err == nil {
			t.Errorf("Run(%+v) did not fail", o)
		}
	}
}
