package robustness

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Session is the clients' way to the server under test: an HTTP client
// without retries, the current base URLs (they change when the nemesis
// restarts a server on a new port; with several nodes each request goes to
// one of them at random), and the per-request timeouts that the
// client-timeout fault shortens. It is safe for concurrent use.
type Session struct {
	hc      *http.Client
	mu      sync.Mutex               // serializes SetNode
	bases   atomic.Pointer[[]string] // replaced, never changed
	timeout time.Duration
	// unavailableUnknown makes a 503 answer Unknown: over a database
	// server that may be down, a node answers 503 for a commit whose
	// outcome it could not learn.
	unavailableUnknown atomic.Bool
	// starve, while set, gives requests a random timeout of at most this
	// many nanoseconds: the client-timeout fault.
	starve atomic.Int64
}

// NewSession returns a session against base with the given per-request
// timeout.
func NewSession(base string, timeout time.Duration) *Session {
	s := &Session{
		// No Timeout on the client: each request carries its own deadline.
		// The transport never retries a PUT, PATCH, DELETE or POST without
		// an Idempotency-Key, so each request is sent at most once.
		hc:      &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		timeout: timeout,
	}
	s.SetBase(base)
	return s
}

// SetBase points the session at a (restarted) server, its only one.
func (s *Session) SetBase(base string) { s.SetBases([]string{base}) }

// SetBases points the session at several nodes: each request goes to one
// of them, at random.
func (s *Session) SetBases(bases []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := slices.Clone(bases)
	s.bases.Store(&b)
}

// SetNode points the session's node i at a (restarted) server.
func (s *Session) SetNode(i int, base string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := slices.Clone(*s.bases.Load())
	b[i] = base
	s.bases.Store(&b)
}

// Base returns the base URL of the first node.
func (s *Session) Base() string { return (*s.bases.Load())[0] }

// pickBase returns the base URL of a node chosen at random.
func (s *Session) pickBase(rng *rand.Rand) string {
	b := *s.bases.Load()
	if len(b) == 1 {
		return b[0]
	}
	return b[rng.IntN(len(b))]
}

// Starve makes every request started from now on time out after a random
// duration up to max (0 ends the fault).
func (s *Session) Starve(max time.Duration) { s.starve.Store(int64(max)) }

// Close closes idle connections.
func (s *Session) Close() { s.hc.CloseIdleConnections() }

// Response is a complete answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends one request (headers as "Name: value") and reads the whole
// answer. It reports NotSent when no connection could be made, Unknown when
// the request may have been sent but no complete answer came back.
func (s *Session) Do(ctx context.Context, rng *rand.Rand, method, path string, body []byte, headers ...string) (*Response, Outcome) {
	timeout := s.timeout
	if max := s.starve.Load(); max > 0 {
		timeout = time.Duration(1 + rng.Int64N(max))
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.pickBase(rng)+path, rd)
	if err != nil {
		panic(err) // the workload built a bad request: a bug in the test
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Set(name, strings.TrimSpace(value))
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return nil, NotSent
		}
		return nil, Unknown
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		// The status line came, so the server decided; but a write's
		// answer is only trusted whole.
		return nil, Unknown
	}
	if resp.StatusCode == http.StatusServiceUnavailable && s.unavailableUnknown.Load() {
		// The database is down: don't spin (each unknown operation
		// makes the check harder).
		time.Sleep(20 * time.Millisecond)
		return nil, Unknown
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, OK
}
