package http

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiterSweepEvery is how often, at most, the limiters forget callers
// whose bucket has filled up again; maxCallers bounds the callers they
// remember at once.
const (
	limiterSweepEvery = 10 * time.Second
	maxCallers        = 100_000
)

// limiters keeps a token bucket per caller. A caller whose bucket is full
// again is forgotten at the next sweep: a new bucket starts full, so
// forgetting it gives nobody more than they had. The map holds only the
// callers that made requests in the last few seconds, and never more than
// maxCallers: past that, a sweep runs at once, and if every caller is
// still short of tokens, arbitrary ones are forgotten (each then gets a
// full bucket again: a flood of new callers costs the limits' precision,
// not the server's memory).
type limiters struct {
	mu        sync.Mutex
	callers   map[string]*rate.Limiter // guarded by mu
	lastSweep time.Time                // guarded by mu
}

func newLimiters() *limiters {
	return &limiters{callers: map[string]*rate.Limiter{}}
}

// rateVerdict is what the limiter says of one request.
type rateVerdict struct {
	allowed bool
	limit   rate.Limit
	burst   int
	// remaining is the requests left at once after this one.
	remaining int
	// wait is how long until a request would be allowed (when refused).
	wait time.Duration
}

// take spends one request of caller's bucket, which refills at limit up to
// burst. A change of the caller's limit (a reloaded auth file) applies at
// once.
func (l *limiters) take(caller string, limit rate.Limit, burst int, now time.Time) rateVerdict {
	l.mu.Lock()
	lim, ok := l.callers[caller]
	if !ok {
		if now.Sub(l.lastSweep) >= limiterSweepEvery || len(l.callers) >= maxCallers {
			l.sweepLocked(now)
		}
		lim = rate.NewLimiter(limit, burst)
		l.callers[caller] = lim
	}
	l.mu.Unlock()
	if lim.Limit() != limit || lim.Burst() != burst {
		lim.SetLimitAt(now, limit)
		lim.SetBurstAt(now, burst)
	}
	v := rateVerdict{limit: limit, burst: burst}
	v.allowed = lim.AllowN(now, 1)
	tokens := lim.TokensAt(now)
	if v.allowed {
		v.remaining = max(0, int(tokens))
	} else {
		v.wait = time.Duration((1 - tokens) / float64(limit) * float64(time.Second))
	}
	return v
}

// sweepLocked forgets the callers whose bucket is full, and then, while
// they are too many, arbitrary ones down to nine tenths of maxCallers.
func (l *limiters) sweepLocked(now time.Time) {
	l.lastSweep = now
	for name, lim := range l.callers {
		if lim.TokensAt(now) >= float64(lim.Burst()) {
			delete(l.callers, name)
		}
	}
	for name := range l.callers { // map order is random
		if len(l.callers) < maxCallers*9/10 {
			break
		}
		delete(l.callers, name)
	}
}

// len returns how many callers the limiters remember.
func (l *limiters) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.callers)
}

// setHeaders writes the IETF draft's RateLimit-Policy and RateLimit fields
// (draft-ietf-httpapi-ratelimit-headers): the policy is the bucket, a quota
// of burst requests over the seconds it takes to fill; RateLimit says what
// is left now and in how many seconds the bucket is full again. A refused
// request also gets Retry-After.
//
// Every answer carries them, so they are written without canonicalizing
// their names again, and the policy, the same for every caller of one
// limit, is made once.
func (v *rateVerdict) setHeaders(h http.Header) {
	refill := int64(math.Ceil(float64(v.burst-v.remaining) / float64(v.limit)))
	b := make([]byte, 0, 32)
	b = append(b, `"caller";r=`...)
	b = strconv.AppendInt(b, int64(v.remaining), 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, refill, 10)
	h["Ratelimit-Policy"] = policyValue(v.limit, v.burst)
	h["Ratelimit"] = []string{string(b)}
	if !v.allowed {
		h.Set("Retry-After", strconv.FormatInt(max(1, int64(math.Ceil(v.wait.Seconds()))), 10))
	}
}

// policies caches the RateLimit-Policy value of each limit and burst.
var policies sync.Map // policyKey → []string

type policyKey struct {
	limit rate.Limit
	burst int
}

// policyValue returns the RateLimit-Policy value of a bucket: a quota of
// burst requests over the seconds it takes to fill. Callers must not
// change the slice, which answers share.
func policyValue(limit rate.Limit, burst int) []string {
	k := policyKey{limit, burst}
	if v, ok := policies.Load(k); ok {
		return v.([]string)
	}
	window := max(int64(math.Ceil(float64(burst)/float64(limit))), 1)
	v := []string{`"caller";q=` + strconv.Itoa(burst) + `;w=` + strconv.FormatInt(window, 10)}
	policies.Store(k, v)
	return v
}
