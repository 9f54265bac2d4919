package robustness

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// Session is the clients' way to the server under test: an HTTP client
// without retries, the current base URL (it changes when the nemesis
// restarts the server on a new port), and the per-request timeouts that the
// client-timeout fault shortens. It is safe for concurrent use.
type Session struct {
	hc      *http.Client
	base    atomic.Pointer[string]
	timeout time.Duration
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

// SetBase points the session at a (restarted) server.
func (s *Session) SetBase(base string) { s.base.Store(&base) }

// Base returns the current base URL.
func (s *Session) Base() string { return *s.base.Load() }

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
	req, err := http.NewRequestWithContext(ctx, method, s.Base()+path, rd)
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
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, OK
}
