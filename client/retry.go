package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RetryPolicy bounds the retries of one call. The zero value of each field
// means its default, so RetryPolicy{} is the default policy: up to 5
// attempts within 30 s, waiting a random time between 0 and 100 ms, 200 ms,
// 400 ms, … (at most 5 s) between them.
//
// What is retried does not depend on the policy: transport errors on
// requests that are safe to repeat (all of the Client's requests are: reads,
// PUT and DELETE are idempotent, and every write carries an
// Idempotency-Key), and answers that the server marks retryable other than
// conflicts (409, 412), after at least their Retry-After.
type RetryPolicy struct {
	// MaxAttempts is the most attempts a call makes, the first included.
	// 0 means 5; 1 turns retries off.
	MaxAttempts int
	// MaxElapsed is the most time a call spends, from its first attempt,
	// before it gives up: a retry whose wait would end later is not made.
	// 0 means 30 s; a negative value means no limit but the context's.
	MaxElapsed time.Duration
	// BaseDelay is the ceiling of the first wait: the wait before retry n
	// is a uniformly random duration ("full jitter") between 0 and
	// BaseDelay·2^(n-1), capped by MaxDelay. 0 means 100 ms.
	BaseDelay time.Duration
	// MaxDelay caps the backoff. A Retry-After from the server is honoured
	// even when it is longer, as long as MaxElapsed allows. 0 means 5 s.
	MaxDelay time.Duration
}

// The defaults of RetryPolicy's zero fields.
const (
	DefaultMaxAttempts = 5
	DefaultMaxElapsed  = 30 * time.Second
	DefaultBaseDelay   = 100 * time.Millisecond
	DefaultMaxDelay    = 5 * time.Second
)

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.MaxElapsed == 0 {
		p.MaxElapsed = DefaultMaxElapsed
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = DefaultBaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = DefaultMaxDelay
	}
	return p
}

// RetryError reports a call that failed with an error worth retrying when
// the retry policy or the context allowed no further attempt. It wraps the
// last attempt's error, so errors.As finds an *Error through it, and, when
// the context ended, the context's error.
type RetryError struct {
	// Attempts is the number of attempts made.
	Attempts int
	// Elapsed is the time from the first attempt to giving up.
	Elapsed time.Duration
	// Reason says why no further attempt was made.
	Reason string
	// Err is the last attempt's error.
	Err error

	ctxErr error
}

// Error returns the last attempt's error, followed by the number of
// attempts, the time they took and the reason for giving up.
func (e *RetryError) Error() string {
	return fmt.Sprintf("%v (gave up after %d attempt%s in %s: %s)", e.Err, e.Attempts, plural(e.Attempts),
		e.Elapsed.Round(time.Millisecond), e.Reason)
}

// Unwrap returns the last attempt's error and, when the context ended
// while the call waited to retry, the context's error.
func (e *RetryError) Unwrap() []error {
	if e.ctxErr != nil {
		return []error{e.Err, e.ctxErr}
	}
	return []error{e.Err}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// retryable decides whether the call may make another attempt after err,
// the outcome of attempt number attempt, and how long it must wait first.
func (c *Client) retryable(r *request, err error, attempt int, p RetryPolicy) (time.Duration, bool) {
	backoff := c.backoff(attempt, p)
	var e *Error
	if errors.As(err, &e) {
		if !e.retryWorthy() || slices.Contains(r.final, e.Code) {
			return 0, false
		}
		if e.RetryAfter > 0 {
			// Jitter on top, so that clients told the same Retry-After
			// do not all come back at the same instant.
			return e.RetryAfter + c.jitter(min(p.BaseDelay, e.RetryAfter)), true
		}
		return backoff, true
	}
	if !isTransportError(err) || !retrySafe(r) {
		return 0, false
	}
	return backoff, true
}

// retryWorthy reports whether sending the same request again can succeed.
// Conflicts (409, 412) are not, though the server marks them retryable:
// they are retryable after re-reading, which Update does, but the same
// stale precondition fails again. A key still in flight is worth waiting
// for.
func (e *Error) retryWorthy() bool {
	if e.Code == CodeIdempotencyKeyInUse {
		return true
	}
	if e.Status == http.StatusConflict || e.Status == http.StatusPreconditionFailed {
		return false
	}
	return e.Retryable
}

// retrySafe reports whether r may be sent again after a transport error,
// which leaves unknown whether the server applied it: reads, PUT and
// DELETE, which are idempotent by definition (RFC 9110 9.2.2), and
// anything that carries an Idempotency-Key.
func retrySafe(r *request) bool {
	switch r.method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return r.header.Get("Idempotency-Key") != ""
}

// backoff returns the wait before the retry that follows attempt: full
// jitter over an exponentially growing, capped ceiling.
func (c *Client) backoff(attempt int, p RetryPolicy) time.Duration {
	ceiling := p.MaxDelay
	if shift := attempt - 1; shift < 32 {
		if d := p.BaseDelay << shift; d > 0 && d < ceiling {
			ceiling = d
		}
	}
	return c.jitter(ceiling)
}

// randDuration returns a uniformly random duration in [0, d].
func randDuration(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d + 1)
}

// sleepCtx waits for d or until ctx is done, and then returns ctx.Err().
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an
// HTTP-date (RFC 9110 10.2.3). It returns 0 when there is none or it is
// malformed.
func parseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if n, err := strconv.ParseInt(h, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, 24*3600)) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
