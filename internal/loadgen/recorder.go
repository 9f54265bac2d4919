package loadgen

import (
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds, from 1 µs to a minute, with three
// significant digits: the HDR histogram's usual setting for latency.
const (
	lowestMicros  = 1
	highestMicros = 60_000_000
	sigFigs       = 3
)

// maxShards bounds the recorder's memory: clients beyond it share shards.
const maxShards = 64

// newHistogram returns an empty latency histogram.
func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(lowestMicros, highestMicros, sigFigs)
}

// recordMicros records a latency, clamped to the histogram's range so that
// no sample is dropped.
func recordMicros(h *hdrhistogram.Histogram, d time.Duration) {
	us := min(max(d.Microseconds(), lowestMicros), highestMicros)
	_ = h.RecordValue(us) // in range by construction
}

// counts are the outcome counters of a set of operations.
type counts struct {
	ops, reads, writes, conflicts, retries, merged int64
}

func (c *counts) add(r Result) {
	c.ops++
	c.reads += int64(r.Reads)
	c.writes += int64(r.Writes)
	c.conflicts += int64(r.Conflicts)
	c.retries += int64(r.Retries)
	c.merged += int64(r.Merged)
}

func (c *counts) merge(o counts) {
	c.ops += o.ops
	c.reads += o.reads
	c.writes += o.writes
	c.conflicts += o.conflicts
	c.retries += o.retries
	c.merged += o.merged
}

// shard is one slice of the recorder. Each client records into one shard,
// so clients rarely share a lock; the collector takes each shard's lock
// once per interval.
type shard struct {
	mu     sync.Mutex
	hist   *hdrhistogram.Histogram
	counts counts
}

// recorder collects latencies and counts from every client and cuts them
// into intervals.
type recorder struct {
	shards []*shard

	mu        sync.Mutex // guards what follows; held by the collector
	total     *hdrhistogram.Histogram
	sum       counts
	intervals []Interval
	scratch   *hdrhistogram.Histogram
}

func newRecorder(clients int) *recorder {
	n := min(max(clients, 1), maxShards)
	r := &recorder{total: newHistogram(), scratch: newHistogram()}
	for range n {
		r.shards = append(r.shards, &shard{hist: newHistogram()})
	}
	return r
}

// record adds one operation of client.
func (r *recorder) record(client int, d time.Duration, res Result) {
	s := r.shards[client%len(r.shards)]
	s.mu.Lock()
	recordMicros(s.hist, d)
	s.counts.add(res)
	s.mu.Unlock()
}

// drain moves every shard's samples into the scratch histogram and
// returns their counts. The caller holds r.mu.
func (r *recorder) drain() counts {
	r.scratch.Reset()
	var c counts
	for _, s := range r.shards {
		s.mu.Lock()
		r.scratch.Merge(s.hist)
		s.hist.Reset()
		c.merge(s.counts)
		s.counts = counts{}
		s.mu.Unlock()
	}
	return c
}

// cut closes the interval that ends at elapsed (time since the measured
// run began) and returns it.
func (r *recorder) cut(elapsed, length time.Duration) Interval {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.drain()
	r.total.Merge(r.scratch)
	r.sum.merge(c)
	iv := Interval{
		EndSeconds: elapsed.Seconds(),
		Ops:        c.ops,
		Writes:     c.writes,
		Conflicts:  c.conflicts,
	}
	if secs := length.Seconds(); secs > 0 {
		iv.OpsPerSec = float64(c.ops) / secs
	}
	if c.ops > 0 {
		iv.P50Ms = ms(r.scratch.ValueAtPercentile(50))
		iv.P99Ms = ms(r.scratch.ValueAtPercentile(99))
		iv.MaxMs = ms(r.scratch.Max())
	}
	r.intervals = append(r.intervals, iv)
	return iv
}

// ms converts microseconds to milliseconds.
func ms(us int64) float64 { return float64(us) / 1000 }
