package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// DefaultSubscribers is how many feed subscribers watch-fanout opens when
// Config.Subscribers is not set.
const DefaultSubscribers = 100

// deliveryIdle is how long Finish waits for a delivery that does not come
// before it reports the events still missing.
const deliveryIdle = 10 * time.Second

// Delivery is what the subscribers of watch-fanout received.
type Delivery struct {
	// Subscribers is the number of feed subscribers.
	Subscribers int `json:"subscribers"`
	// Writes counts every successful write, the warm-up's too: each
	// subscriber should receive an event for each.
	Writes int64 `json:"writes"`
	// Expected is Writes times Subscribers; Delivered is how many events
	// arrived in all.
	Expected  int64 `json:"expected"`
	Delivered int64 `json:"delivered"`
	// Latency is the delay from a write being sent to its event being
	// received, over the events of writes sent in the measured part.
	Latency Latency `json:"latencyMs"`
}

// Fanout is a workload that also measures what its feed subscribers
// receive: watch-fanout. The runner's RunOptions.Measuring should call
// Measuring, and Finish is called once after the run.
type Fanout interface {
	Workload
	// Measuring marks the start of the measured part: delays of writes
	// sent before it are not recorded.
	Measuring()
	// Finish waits until every subscriber has received the event of every
	// write (or nothing arrived for 10 s), closes the subscriptions and
	// says what they received.
	Finish(ctx context.Context) (*Delivery, error)
}

// WatchFanout is the watch-fanout workload, which needs truce. Prepare
// writes a document for each client ("w0", "w1", …) in the target's
// collection with "-watch" appended, then opens Config.Subscribers
// server-sent-event subscriptions (GET /v1/events?collection=…), each on
// its own connection, and waits until each has its position. Each
// operation is an unconditional PUT of the client's document with the
// time it was sent in "sentAt"; each subscriber computes, on receipt of
// the event, the delay from then. Goodput is writes per second; the
// delivery delay percentiles come from Finish.
func WatchFanout(t *Truce) Workload { return &watchFanout{t: t} }

type watchFanout struct {
	t            *Truce
	collection   string
	subscribers  int
	writes       atomic.Int64
	measureStart atomic.Int64 // unix nanoseconds; 0 records every delay
	subs         []*subscriber
	shards       []*deliveryShard
	cancel       context.CancelFunc
	wg           sync.WaitGroup
	hc           *http.Client
}

// subscriber is one feed subscription.
type subscriber struct {
	received atomic.Int64
	err      error // why the stream ended early; read after wg.Wait
}

// deliveryShard is a histogram that some subscribers share.
type deliveryShard struct {
	mu   sync.Mutex
	hist *hdrhistogram.Histogram
}

// sentAtField is what precedes the send time in a watch-fanout document.
var sentAtField = []byte(`"sentAt":"`)

func (w *watchFanout) Prepare(ctx context.Context, cfg Config) (Op, error) {
	t := w.t
	w.collection = t.collection + "-watch"
	w.subscribers = cfg.Subscribers
	if w.subscribers <= 0 {
		w.subscribers = DefaultSubscribers
	}
	clients := max(cfg.Clients, 1)
	if err := checkFDs(w.subscribers + 2*clients); err != nil {
		return nil, err
	}
	if err := t.setCollection(ctx, w.collection, `{"conflictPolicy":"reject"}`); err != nil {
		return nil, err
	}
	bodies := make([][]byte, clients)
	for i := range bodies {
		bodies[i] = watchDoc(cfg.DocSize)
		p := t.docPath(w.collection, watchKey(i))
		a, err := t.do(ctx, "PUT", p, bodies[i])
		if err != nil {
			return nil, fmt.Errorf("seed %s: %w", watchKey(i), err)
		}
		if a.status != http.StatusOK && a.status != http.StatusCreated {
			return nil, unexpected("PUT", p, a)
		}
	}
	if err := w.subscribe(ctx); err != nil {
		w.stop()
		return nil, err
	}
	return func(ctx context.Context, c *Client) (Result, error) {
		body := bodies[c.ID%len(bodies)]
		stampSentAt(body, time.Now().UnixNano())
		p := t.docPath(w.collection, watchKey(c.ID))
		a, err := t.do(ctx, "PUT", p, body)
		if err != nil {
			return Result{}, err
		}
		if a.status != http.StatusOK {
			return Result{}, unexpected("PUT", p, a)
		}
		w.writes.Add(1)
		return Result{Writes: 1}, nil
	}, nil
}

// watchKey is the document that client i of watch-fanout writes.
func watchKey(i int) string { return "w" + strconv.Itoa(i) }

// watchDoc returns a document of about size bytes whose "sentAt" (first,
// 19 digits of Unix nanoseconds, in a string: JSON numbers have no leading
// zeros) stampSentAt rewrites in place.
func watchDoc(size int) []byte {
	head := `{"sentAt":"0000000000000000000","pad":"`
	b := []byte(head)
	for i := range max(0, size-len(head)-2) {
		b = append(b, "abcdefghijklmnopqrstuvwxyz"[i%26])
	}
	return append(b, `"}`...)
}

// stampSentAt writes ns, zero-padded to 19 digits, into a watchDoc body.
func stampSentAt(doc []byte, ns int64) {
	field := doc[len(`{"sentAt":"`) : len(`{"sentAt":"`)+19]
	for i := range field {
		field[i] = '0'
	}
	d := strconv.FormatInt(ns, 10)
	copy(field[19-len(d):], d)
}

// parseSentAt finds the send time in an event's data line.
func parseSentAt(line []byte) (int64, bool) {
	i := bytes.Index(line, sentAtField)
	if i < 0 {
		return 0, false
	}
	var n int64
	digits := 0
	for _, c := range line[i+len(sentAtField):] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int64(c-'0')
		digits++
	}
	return n, digits > 0
}

// subscribe opens every subscription and waits until each is connected.
func (w *watchFanout) subscribe(ctx context.Context) error {
	subCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w.cancel = cancel
	// No client timeout: it would cut the streams.
	w.hc = &http.Client{Transport: NewTransport(w.subscribers)}
	w.shards = make([]*deliveryShard, min(w.subscribers, maxShards))
	for i := range w.shards {
		w.shards[i] = &deliveryShard{hist: newHistogram()}
	}
	u := w.t.base(ctx) + "/v1/events?types=document.updated&collection=" + url.QueryEscape(w.collection)
	ready := make(chan error, w.subscribers)
	gate := make(chan struct{}, 32) // connections opened at once
	for i := range w.subscribers {
		s := &subscriber{}
		w.subs = append(w.subs, s)
		w.wg.Go(func() {
			gate <- struct{}{}
			s.err = w.follow(subCtx, u, s, w.shards[i%len(w.shards)], ready, gate)
		})
	}
	deadline := time.After(time.Minute)
	for range w.subscribers {
		select {
		case err := <-ready:
			if err != nil {
				return err
			}
		case <-deadline:
			return errors.New("watch-fanout: the subscriptions did not all connect within a minute")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// follow runs one subscription: it reports on ready once connected (or
// failed), then records the delay of every event until ctx ends.
func (w *watchFanout) follow(ctx context.Context, u string, s *subscriber, sh *deliveryShard, ready chan<- error, gate <-chan struct{}) error {
	connected := false
	fail := func(err error) error {
		if !connected {
			<-gate
			ready <- err
		}
		return err
	}
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return fail(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if w.t.token != "" {
		req.Header.Set("Authorization", "Bearer "+w.t.token)
	}
	resp, err := w.hc.Do(req)
	if err != nil {
		return fail(fmt.Errorf("GET /v1/events: %w", err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return fail(unexpected("GET", "/v1/events", &answer{status: resp.StatusCode, body: b.Bytes()}))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !connected && bytes.HasPrefix(line, []byte("id: ")) {
			// The stream's first message is its position.
			connected = true
			<-gate
			ready <- nil
			continue
		}
		if !bytes.HasPrefix(line, []byte("data: ")) {
			continue
		}
		now := time.Now().UnixNano()
		s.received.Add(1)
		sent, ok := parseSentAt(line)
		if !ok || sent < w.measureStart.Load() {
			continue
		}
		sh.mu.Lock()
		recordMicros(sh.hist, time.Duration(now-sent))
		sh.mu.Unlock()
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil {
		return fail(fmt.Errorf("GET /v1/events: %w", err))
	}
	return fail(errors.New("GET /v1/events: the server ended the stream"))
}

func (w *watchFanout) Measuring() { w.measureStart.Store(time.Now().UnixNano()) }

func (w *watchFanout) Finish(ctx context.Context) (*Delivery, error) {
	defer w.stop()
	writes := w.writes.Load()
	d := &Delivery{Subscribers: w.subscribers, Writes: writes, Expected: writes * int64(w.subscribers)}
	last, lastChange := int64(-1), time.Now()
	for {
		var n int64
		for _, s := range w.subs {
			n += min(s.received.Load(), writes)
		}
		d.Delivered = n
		if n >= d.Expected {
			break
		}
		if n != last {
			last, lastChange = n, time.Now()
		} else if time.Since(lastChange) > deliveryIdle {
			break
		}
		select {
		case <-ctx.Done():
			return d, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	w.stop()
	h := newHistogram()
	for _, sh := range w.shards {
		sh.mu.Lock()
		h.Merge(sh.hist)
		sh.mu.Unlock()
	}
	if h.TotalCount() > 0 {
		d.Latency = Latency{
			Mean: round3(h.Mean() / 1000),
			P50:  ms(h.ValueAtPercentile(50)),
			P90:  ms(h.ValueAtPercentile(90)),
			P99:  ms(h.ValueAtPercentile(99)),
			P999: ms(h.ValueAtPercentile(99.9)),
			Max:  ms(h.Max()),
		}
	}
	for _, s := range w.subs {
		if s.err != nil {
			return d, s.err
		}
	}
	return d, nil
}

// stop ends the subscriptions and waits for them.
func (w *watchFanout) stop() {
	if w.cancel != nil {
		w.cancel()
	}
	w.wg.Wait()
	if w.hc != nil {
		w.hc.CloseIdleConnections()
	}
}
