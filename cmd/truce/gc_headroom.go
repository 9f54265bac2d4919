package main

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// GC headroom. The server's live Go heap is small (Pebble keeps its own
// caches and memtables off the Go heap when built with cgo), so with
// GOGC=100 the collector ran many times a second under a write load, for
// a noticeable share of the server's CPU (figures in docs/benchmarks.md,
// "Figures behind the code's choices"). The tuner lets the heap grow by at least gcHeadroom
// before a collection, and by the live heap (GOGC=100) once that is
// larger: a small heap collects several times less often for at most
// gcHeadroom more memory, and a large one (thousands of feed subscribers,
// or Pebble's caches without cgo) is collected exactly as before. GOGC in
// the environment turns it off.
const (
	gcHeadroom     = 32 << 20
	gcTuneInterval = time.Second
	gcMinPercent   = 100
	gcMaxPercent   = 1000
)

// gcPercent is the GOGC that gives a live heap of live bytes at least
// headroom bytes to grow: at least gcMinPercent, at most gcMaxPercent.
func gcPercent(live, headroom uint64) int {
	if live == 0 {
		return gcMaxPercent
	}
	return int(min(max(headroom*100/live, gcMinPercent), gcMaxPercent))
}

// tuneGC sets GOGC from the live heap every gcTuneInterval until ctx ends,
// then restores the GOGC it found. It does nothing when the environment
// sets GOGC.
func tuneGC(ctx context.Context) {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	found := debug.SetGCPercent(gcMinPercent)
	defer debug.SetGCPercent(found)
	current := gcMinPercent
	t := time.NewTicker(gcTuneInterval)
	defer t.Stop()
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			if p := gcPercent(sample[0].Value.Uint64(), gcHeadroom); p != current {
				debug.SetGCPercent(p)
				current = p
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
