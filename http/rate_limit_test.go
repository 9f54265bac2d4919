package http

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLimitersBucket: a caller gets its burst at once, then its rate; a
// refused request says how long to wait; callers do not share buckets; a
// changed limit applies at once.
func TestLimitersBucket(t *testing.T) {
	l := newLimiters()
	now := time.Unix(1000, 0)
	for i := range 5 {
		v := l.take("ann", 2, 5, now)
		if !v.allowed || v.remaining != 4-i {
			t.Fatalf("request %d: %+v", i, v)
		}
	}
	v := l.take("ann", 2, 5, now)
	if v.allowed || v.wait != 500*time.Millisecond {
		t.Fatalf("over the burst: %+v, want refused with a 500ms wait", v)
	}
	h := http.Header{}
	v.setHeaders(h)
	if h.Get("Retry-After") != "1" || h.Get("RateLimit-Policy") != `"caller";q=5;w=3` || h.Get("RateLimit") != `"caller";r=0;t=3` {
		t.Fatalf("headers %v", h)
	}
	if v := l.take("bob", 2, 5, now); !v.allowed {
		t.Fatal("bob was limited by ann's requests")
	}
	if v := l.take("ann", 2, 5, now.Add(500*time.Millisecond)); !v.allowed {
		t.Fatal("no request allowed after the rate refilled one")
	}
	l.take("ann", 1000, 5, now.Add(501*time.Millisecond)) // raises the rate from here on
	if v := l.take("ann", 1000, 5, now.Add(503*time.Millisecond)); !v.allowed || v.limit != 1000 {
		t.Fatalf("a raised limit did not apply at once: %+v", v)
	}
}

// TestLimitersForget: callers whose bucket refilled are forgotten, so the
// map holds only recent callers; a caller still short of tokens is kept.
func TestLimitersForget(t *testing.T) {
	l := newLimiters()
	now := time.Unix(1000, 0)
	for i := range 1000 {
		l.take(fmt.Sprint("10.0.0.", i), 10, 10, now)
	}
	for range 10 {
		l.take("busy", 0.1, 10, now)
	}
	later := now.Add(limiterSweepEvery)
	l.take("new", 10, 10, later) // sweeps
	if n := l.len(); n != 2 {
		t.Fatalf("%d callers remembered after the sweep, want busy and new", n)
	}
	if v := l.take("busy", 0.1, 10, later); !v.allowed || v.remaining != 0 {
		t.Fatalf("busy lost its state: %+v", v)
	}
}

// TestLimitersConcurrent: under concurrent requests one caller gets exactly
// its burst at one instant, never more.
func TestLimitersConcurrent(t *testing.T) {
	l := newLimiters()
	now := time.Unix(1000, 0)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if l.take("ann", 1, 500, now).allowed {
					allowed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if allowed.Load() != 500 {
		t.Fatalf("%d requests allowed, want the burst of 500", allowed.Load())
	}
}

// TestLimitersBounded: a flood of new callers, none of whose buckets has
// refilled, never makes the limiters remember more than maxCallers.
func TestLimitersBounded(t *testing.T) {
	l := newLimiters()
	now := time.Unix(1000, 0)
	for i := range maxCallers + 5000 {
		l.take(fmt.Sprint("a", i), 1e-6, 1, now)
		if n := l.len(); n > maxCallers {
			t.Fatalf("%d callers remembered after %d, want at most %d", n, i+1, maxCallers)
		}
	}
}

// TestAddrBucket: an IPv6 client is limited by its /64, which one host
// usually has whole; IPv4 clients by their address.
func TestAddrBucket(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1":        "addr:127.0.0.1",
		"2001:db8::1":      "addr:2001:db8::/64",
		"2001:db8::ffff:1": "addr:2001:db8::/64",
		"2001:db8:0:1::1":  "addr:2001:db8:0:1::/64",
		"::ffff:10.0.0.1":  "addr:::ffff:10.0.0.1",
		"not an address":   "addr:not an address",
	} {
		if got := addrBucket(in); got != want {
			t.Errorf("addrBucket(%q) = %q, want %q", in, got, want)
		}
	}
}
