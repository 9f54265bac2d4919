// Package admit owns the admission of requests: how many may be served at
// once. A Limiter holds a hard cap (truce serve's --max-inflight) and,
// when adaptive, a lower limit that follows how congested the server is:
// it falls while the server's CPU cannot keep up and climbs back when it
// can, so that the CPU left after refusing the excess serves the admitted
// requests promptly instead of every request waiting, unread, in the
// kernel's socket buffers.
package admit

import (
	"context"
	"sync/atomic"
	"time"
)

// A Signal measures congestion: how long work that is ready to run waits
// for a CPU. Each call covers the time since the previous one; Sched is
// the one a server uses, tests inject their own.
type Signal func() time.Duration

// Options shape a Limiter.
type Options struct {
	// Max is the hard cap on requests admitted at once; never exceeded.
	// Zero or less means no cap (and no adaptation).
	Max int64
	// Adaptive, when true, lowers the limit below Max while the Signal
	// says the server is congested, and raises it back when it is not.
	Adaptive bool
	// Min is the lowest the adaptive limit goes: 4 (or Max, if lower)
	// when zero.
	Min int64
	// Target is the congestion above which the limit falls: 5 ms when
	// zero. An unloaded server's scheduler latency (Sched) stays near 1 ms
	// with rare spikes; one whose CPU cannot keep up sees 10 ms and more.
	Target time.Duration
	// Interval is how often Run reads the Signal and adjusts the limit:
	// 100 ms when zero.
	Interval time.Duration
	// Signal measures congestion; Sched when nil.
	Signal Signal
	// OnChange, when not nil, is called with each new limit, from Run or
	// Adjust's goroutine.
	OnChange func(limit int64)
}

// Limiter admits requests up to its limit. Enter and Leave are safe for
// concurrent use, and cost an atomic add or two.
type Limiter struct {
	o Options
	// inflight counts the requests admitted and not yet left; limit is
	// the current limit (Max when not adaptive); refused counts the
	// requests refused since the last Adjust.
	inflight, limit, refused atomic.Int64
}

// New returns a Limiter shaped by o.
func New(o Options) *Limiter {
	if o.Min <= 0 {
		o.Min = 4
	}
	o.Min = min(o.Min, max(o.Max, 1))
	if o.Target <= 0 {
		o.Target = 5 * time.Millisecond
	}
	if o.Interval <= 0 {
		o.Interval = 100 * time.Millisecond
	}
	if o.Signal == nil {
		o.Signal = Sched()
	}
	l := &Limiter{o: o}
	l.limit.Store(o.Max)
	return l
}

// Enter takes a place among the requests in flight if one is free below
// the limit, and reports whether it did; a caller that entered calls
// Leave when its request ends.
func (l *Limiter) Enter() bool {
	if l.o.Max <= 0 {
		return true
	}
	if l.inflight.Add(1) > l.limit.Load() {
		l.inflight.Add(-1)
		l.refused.Add(1)
		return false
	}
	return true
}

// Leave gives back the place Enter took.
func (l *Limiter) Leave() {
	if l.o.Max > 0 {
		l.inflight.Add(-1)
	}
}

// Limit is how many requests may be in flight now: Max, or below it
// while the adaptive limit is lowered.
func (l *Limiter) Limit() int64 { return l.limit.Load() }

// Max is the hard cap.
func (l *Limiter) Max() int64 { return l.o.Max }

// Adjust moves the adaptive limit by one step, given the congestion
// measured over the last interval. Above Target the limit falls by a
// quarter (to Min at the lowest): the server is not keeping up, and each
// admitted request takes CPU that the refusals need. At or below it the
// limit climbs: by an eighth while requests are being refused (probing
// for room), back to Max at once when none were (the limit did not bind,
// so the load has fallen). It returns the new limit.
func (l *Limiter) Adjust(congestion time.Duration) int64 {
	refused := l.refused.Swap(0)
	old := l.limit.Load()
	if !l.o.Adaptive || l.o.Max <= 0 {
		return old
	}
	next := old
	switch {
	case congestion > l.o.Target:
		next = max(l.o.Min, old-max(1, old/4))
	case refused == 0:
		next = l.o.Max
	default:
		next = min(l.o.Max, old+max(1, old/8))
	}
	if next != old {
		l.limit.Store(next)
		if l.o.OnChange != nil {
			l.o.OnChange(next)
		}
	}
	return next
}

// Run adjusts the limit every Interval, from the Signal, until ctx ends.
// It does nothing when the Limiter is not adaptive.
func (l *Limiter) Run(ctx context.Context) {
	if !l.o.Adaptive || l.o.Max <= 0 {
		return
	}
	t := time.NewTicker(l.o.Interval)
	defer t.Stop()
	l.o.Signal() // start the first interval now
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.Adjust(l.o.Signal())
		}
	}
}
