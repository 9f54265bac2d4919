package admit_test

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trucedb/truce/internal/admit"
)

// congested and calm are what an injected signal says: well above the
// Target and well below it.
const (
	target    = 2 * time.Millisecond
	congested = 10 * target
	calm      = target / 10
)

// mustLimiter returns an adaptive Limiter with cap max and floor min whose
// Signal the test drives by calling Adjust itself.
func mustLimiter(t *testing.T, maxN, minN int64) *admit.Limiter {
	t.Helper()
	l := admit.New(admit.Options{Max: maxN, Min: minN, Adaptive: true, Target: target,
		Signal: func() time.Duration { t.Fatal("Run is not running: the test adjusts"); return 0 }})
	if l.Limit() != maxN {
		t.Fatalf("a new limiter's limit is %d, want the cap %d", l.Limit(), maxN)
	}
	return l
}

// fill enters n requests, failing the test if any is refused.
func fill(t *testing.T, l *admit.Limiter, n int64) {
	t.Helper()
	for i := range n {
		if !l.Enter() {
			t.Fatalf("request %d of %d refused under limit %d", i+1, n, l.Limit())
		}
	}
}

// TestLimiterAdapts: congestion lowers the limit step by step to the floor
// and no further, and requests past the lowered limit are refused; calm
// with refusals raises it step by step, and calm without any (the limit
// no longer binds: the load fell) restores the cap at once.
func TestLimiterAdapts(t *testing.T) {
	l := mustLimiter(t, 64, 2)
	prev := l.Limit()
	for range 100 {
		n := l.Adjust(congested)
		if n > prev || n < 2 {
			t.Fatalf("under congestion the limit went from %d to %d (floor 2)", prev, n)
		}
		prev = n
	}
	if prev != 2 {
		t.Fatalf("after 100 congested intervals the limit is %d, want the floor 2", prev)
	}
	fill(t, l, 2)
	if l.Enter() {
		t.Fatal("a third request was admitted under a limit of 2")
	}
	// Calm, while requests are refused: the limit climbs, not at once.
	l.Leave()
	l.Leave()
	var steps int
	for l.Limit() < 64 {
		fill(t, l, l.Limit())
		if l.Enter() {
			t.Fatalf("a request past the limit %d was admitted", l.Limit())
		}
		for range l.Limit() {
			l.Leave()
		}
		before := l.Limit()
		if n := l.Adjust(calm); n <= before {
			t.Fatalf("calm with refusals left the limit at %d (was %d)", n, before)
		}
		steps++
	}
	if steps < 5 {
		t.Fatalf("the limit climbed from 2 to 64 in %d steps; want a gradual climb", steps)
	}
	// Down again, then calm without refusals: back to the cap at once.
	for range 5 {
		l.Adjust(congested)
	}
	if l.Limit() >= 64 {
		t.Fatalf("congestion left the limit at %d", l.Limit())
	}
	if n := l.Adjust(calm); n != 64 {
		t.Fatalf("calm without refusals set the limit to %d, want the cap 64", n)
	}
}

// TestLimiterNotAdaptive: without Adaptive the limit is the cap whatever
// the signal, and without a cap everything is admitted.
func TestLimiterNotAdaptive(t *testing.T) {
	l := admit.New(admit.Options{Max: 3})
	for range 10 {
		if n := l.Adjust(congested); n != 3 {
			t.Fatalf("a fixed limiter moved to %d", n)
		}
	}
	fill(t, l, 3)
	if l.Enter() {
		t.Fatal("a fourth request was admitted under a cap of 3")
	}
	none := admit.New(admit.Options{Adaptive: true})
	fill(t, none, 10000)
	if n := none.Adjust(congested); n != 0 {
		t.Fatalf("a limiter without a cap adapted to %d", n)
	}
}

// TestLimiterConcurrent: many goroutines enter and leave while another
// moves the limit down and up with the injected signal; the requests in
// flight never pass the cap, and once the limit has been lowered and the
// ones admitted before have left, never pass the lowered limit either.
func TestLimiterConcurrent(t *testing.T) {
	const maxN, workers = 8, 16
	l := mustLimiter(t, maxN, 1)
	var inflight, peak atomic.Int64
	var admitted, refused atomic.Int64
	// low, once set, is the lowered limit the requests in flight are
	// checked against.
	var low atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if !l.Enter() {
					refused.Add(1)
					runtime.Gosched()
					continue
				}
				admitted.Add(1)
				n := inflight.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				if lim := low.Load(); lim > 0 && n > lim {
					t.Errorf("%d requests in flight under a lowered limit of %d", n, lim)
				}
				runtime.Gosched() // stays in flight a while
				inflight.Add(-1)
				l.Leave()
			}
		})
	}
	for round := range 200 {
		if round%2 == 0 {
			for range 3 {
				l.Adjust(congested)
			}
		} else {
			l.Adjust(calm)
		}
		time.Sleep(100 * time.Microsecond)
	}
	// Hold the limit at the floor of 1: once the requests admitted under
	// the higher limit leave, at most one is in flight.
	for range 20 {
		l.Adjust(congested)
	}
	time.Sleep(time.Millisecond) // lets those admitted before leave
	for inflight.Load() > 1 {
		time.Sleep(100 * time.Microsecond)
	}
	low.Store(1)
	time.Sleep(20 * time.Millisecond)
	close(stop)
	wg.Wait()
	if p := peak.Load(); p > maxN {
		t.Fatalf("%d requests were in flight at once under a cap of %d", p, maxN)
	}
	if admitted.Load() == 0 || refused.Load() == 0 {
		t.Fatalf("admitted %d, refused %d: the test did not contend", admitted.Load(), refused.Load())
	}
}
