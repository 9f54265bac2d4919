package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// drainTimeout bounds how long a step waits, after its last request was
// due, for the answers still outstanding; past it they are errors.
const drainTimeout = 10 * time.Second

// sender sends requests open-loop: one scheduler calls dispatch at each
// request's intended send time, and a connection that is free at that
// moment sends it at once. A request due while every connection waits
// for an answer joins a backlog, and the first connection to get its
// answer sends it (late). Latency is measured from the intended time, so
// a late send counts its wait: the generator's own delay is never hidden
// from the figures (no coordinated omission), and late sends are counted
// apart so that a saturated generator is seen as one.
type sender struct {
	target rawTarget
	reqs   [][]byte  // a prebuilt PUT of each document
	epoch  time.Time // times are nanoseconds since epoch, never 0

	mu      sync.Mutex
	free    []*senderConn // guarded by mu; taken from the front, so every connection is used and none idles out
	backlog []pending     // guarded by mu; due, not yet sent
	all     []*senderConn // guarded by mu

	st      atomic.Pointer[stepStats] // the step being measured
	pending sync.WaitGroup            // requests due and not yet answered
}

// pending is a request due but not sent yet.
type pending struct {
	due int64
	doc int
}

// senderConn is one of the sender's connections. Its goroutine (read)
// reads its answers; due is the intended send time of the request it
// waits for, 0 when it waits for none.
type senderConn struct {
	rc   *rawConn // set before the connection is free; changed only by read while no one else holds it
	due  atomic.Int64
	dead atomic.Bool
}

// stepStats counts one offered load's outcomes.
type stepStats struct {
	start, end int64 // the step's window, as sender times

	sent, sentInWindow, late, dropped, ok, shed, errs atomic.Int64

	mu      sync.Mutex
	admit   *hdrhistogram.Histogram // latency of 2xx answers, from the intended send time; guarded by mu
	shedLat *hdrhistogram.Histogram // latency of 503 answers; guarded by mu
	lag     *hdrhistogram.Histogram // how long after its intended time each request was written; guarded by mu
}

func newStepStats() *stepStats {
	return &stepStats{admit: newHistogram(), shedLat: newHistogram(), lag: newHistogram()}
}

// newSender opens conns connections to t.
func newSender(t rawTarget, reqs [][]byte, conns int) (*sender, error) {
	s := &sender{target: t, reqs: reqs, epoch: time.Now().Add(-time.Second)}
	s.st.Store(newStepStats())
	if err := s.open(conns); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *sender) now() int64 { return int64(time.Since(s.epoch)) }

// open dials n connections and starts their readers.
func (s *sender) open(n int) error {
	for range n {
		rc, err := dialRaw(s.target)
		if err != nil {
			return fmt.Errorf("open connection %d of %d: %w", len(s.all)+1, n, err)
		}
		c := &senderConn{rc: rc}
		s.mu.Lock()
		s.all = append(s.all, c)
		s.free = append(s.free, c)
		s.mu.Unlock()
		go s.read(c)
	}
	return nil
}

// close closes every connection; their readers end.
func (s *sender) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.all {
		c.dead.Store(true)
		_ = c.rc.c.Close()
	}
	s.all, s.free, s.backlog = nil, nil, nil
}

// dispatch sends a PUT of doc now, due at due, or queues it if no
// connection is free.
func (s *sender) dispatch(due int64, doc int) {
	s.pending.Add(1)
	s.mu.Lock()
	for len(s.free) > 0 {
		c := s.free[0]
		s.free = s.free[1:]
		if c.dead.Load() {
			continue
		}
		s.mu.Unlock()
		s.send(c, due, doc)
		return
	}
	s.backlog = append(s.backlog, pending{due, doc})
	s.mu.Unlock()
	s.st.Load().late.Add(1)
}

// send writes the request on c.
func (s *sender) send(c *senderConn, due int64, doc int) {
	st := s.st.Load()
	now := s.now()
	st.sent.Add(1)
	if now < st.end {
		st.sentInWindow.Add(1)
	}
	st.mu.Lock()
	recordMicros(st.lag, time.Duration(now-due))
	st.mu.Unlock()
	c.due.Store(due)
	if _, err := c.rc.c.Write(s.reqs[doc]); err != nil {
		c.dead.Store(true)
		_ = c.rc.c.Close() // its reader fails, and counts the error if this one did not
		if c.due.Swap(0) != 0 {
			st.errs.Add(1)
			s.pending.Done()
		}
	}
}

// read reads c's answers until its connection fails or is closed.
func (s *sender) read(c *senderConn) {
	for {
		status, closing, err := readResponse(c.rc.br)
		now := s.now()
		due := c.due.Swap(0) // after the sender's Store: st below is the step's
		st := s.st.Load()
		if err != nil || due == 0 {
			c.dead.Store(true)
			_ = c.rc.c.Close()
			if due != 0 {
				st.errs.Add(1)
				s.pending.Done()
			}
			return
		}
		switch {
		case status >= 200 && status < 300:
			st.ok.Add(1)
			st.mu.Lock()
			recordMicros(st.admit, time.Duration(now-due))
			st.mu.Unlock()
		case status == 503:
			st.shed.Add(1)
			st.mu.Lock()
			recordMicros(st.shedLat, time.Duration(now-due))
			st.mu.Unlock()
		default:
			st.errs.Add(1)
		}
		s.pending.Done()
		if closing {
			_ = c.rc.c.Close()
			rc, err := dialRaw(s.target)
			if err != nil {
				c.dead.Store(true)
				return
			}
			s.mu.Lock()
			c.rc = rc
			s.mu.Unlock()
		}
		s.release(c)
	}
}

// release sends the oldest request of the backlog on c, or makes c free.
func (s *sender) release(c *senderConn) {
	s.mu.Lock()
	if len(s.backlog) > 0 {
		p := s.backlog[0]
		s.backlog = s.backlog[1:]
		s.mu.Unlock()
		s.send(c, p.due, p.doc)
		return
	}
	s.free = append(s.free, c)
	s.mu.Unlock()
}

// step offers rate requests a second for d, with exponential gaps between
// them (Poisson arrivals) or, if uniform, even ones, and waits for their
// answers.
func (s *sender) step(ctx context.Context, rate float64, d time.Duration, uniform bool, docs int, seed uint64) (*stepStats, error) {
	st := newStepStats()
	st.start = s.now()
	st.end = st.start + int64(d)
	s.st.Store(st)
	rng := rand.New(rand.NewPCG(seed, 3))
	gap := func() int64 {
		if uniform {
			return int64(float64(time.Second) / rate)
		}
		return int64(rng.ExpFloat64() / rate * float64(time.Second))
	}
	next := st.start
	for next < st.end && ctx.Err() == nil {
		for now := s.now(); next <= now && next < st.end; next += gap() {
			s.dispatch(next, rng.IntN(docs))
		}
		if wait := next - s.now(); wait > 0 {
			time.Sleep(time.Duration(wait))
		}
	}
	drained := make(chan struct{})
	go func() { s.pending.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(drainTimeout):
		// Give up on what is left: the backlog was never sent, and the
		// connections still waiting are closed (their readers count
		// them as errors). Fresh ones replace them all.
		s.mu.Lock()
		n := len(s.backlog)
		s.backlog = nil
		s.mu.Unlock()
		st.errs.Add(int64(n))
		st.dropped.Add(int64(n))
		for range n {
			s.pending.Done()
		}
		conns := len(s.all)
		s.close()
		<-drained
		if err := s.open(conns); err != nil {
			return st, err
		}
	}
	return st, ctx.Err()
}

// closedLoop runs clients closed-loop clients, each on its own connection
// sending a PUT of a random document as soon as the last one was
// answered, for d; it returns the 2xx answers and their latency.
func closedLoop(ctx context.Context, t rawTarget, reqs [][]byte, clients int, d time.Duration) (int64, *hdrhistogram.Histogram, error) {
	conns := make([]*rawConn, clients)
	for i := range conns {
		rc, err := dialRaw(t)
		if err != nil {
			for _, c := range conns[:i] {
				_ = c.c.Close()
			}
			return 0, nil, err
		}
		conns[i] = rc
	}
	hist := newHistogram()
	var mu sync.Mutex
	var ok atomic.Int64
	var firstErr error
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	for i, rc := range conns {
		wg.Go(func() {
			defer func() { _ = rc.c.Close() }()
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			for ctx.Err() == nil && time.Now().Before(deadline) {
				t0 := time.Now()
				status, closing, err := rc.roundTrip(reqs[rng.IntN(len(reqs))])
				if err == nil && closing {
					_ = rc.c.Close()
					rc, err = dialRaw(t)
				}
				if err != nil {
					mu.Lock()
					firstErr = cmpOr(firstErr, err)
					mu.Unlock()
					return
				}
				if status >= 200 && status < 300 {
					ok.Add(1)
					mu.Lock()
					recordMicros(hist, time.Since(t0))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return 0, nil, err
	}
	if firstErr != nil && !errors.Is(firstErr, net.ErrClosed) {
		return 0, nil, firstErr
	}
	return ok.Load(), hist, nil
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
