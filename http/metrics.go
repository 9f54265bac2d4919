package http

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/trucedb/truce"
)

// DefaultMaxCollectionLabels is how many collections get a label value of
// their own when MetricsOptions.MaxCollections is zero; conflicts and merges
// in any other collection are counted under OtherCollection.
const DefaultMaxCollectionLabels = 100

// OtherCollection is the collection label of the collections past the cap,
// of collections that do not exist, and of requests that name none.
const OtherCollection = "_other"

// unmatchedRoute is the route label of requests that matched no route.
const unmatchedRoute = "_unmatched"

// MetricsOptions configures NewMetrics. The zero value is usable.
type MetricsOptions struct {
	// MaxCollections caps the collections that get a label value of their
	// own; 0 means DefaultMaxCollectionLabels.
	MaxCollections int
	// NoRuntime leaves out the Go runtime and process collectors (for tests
	// that compare outputs).
	NoRuntime bool
}

// Metrics holds truce's Prometheus metrics: the HTTP requests, the
// conflicts (truce's subject), merges, locks, transactions, the change
// feed, and the store's own when it reports them (RegisterStore). Give it
// to one or more Handlers (Options.Metrics) and serve Handler; it is safe
// for concurrent use.
//
// Labels are bounded: a route is the ServeMux pattern, never the path; a
// collection label names only a collection that exists, up to a cap (the
// rest are OtherCollection); no label ever holds a document id.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	requests *prometheus.CounterVec   // route, method, status
	duration *prometheus.HistogramVec // route, method, status
	inflight prometheus.Gauge
	bytesIn  *prometheus.CounterVec // route
	bytesOut *prometheus.CounterVec // route

	conflicts    *prometheus.CounterVec // collection, code
	merges       *prometheus.CounterVec // collection, outcome
	recorded     *prometheus.CounterVec // collection, event
	replays      prometheus.Counter
	rateLimited  prometheus.Counter
	lockWait     *prometheus.HistogramVec // outcome
	locksWaiting prometheus.Gauge
	transactions *prometheus.CounterVec   // kind, outcome
	txOps        *prometheus.HistogramVec // kind
	subscribers  *prometheus.GaugeVec     // transport
	delivered    *prometheus.CounterVec   // transport
	feedLag      prometheus.Histogram
	feedExpired  prometheus.Counter

	maxCollections int
	// mu guards collections and children: the collections that have a
	// label value, and the children of the vectors labelled by collection,
	// so that a conflict costs a map lookup under a read lock.
	mu          sync.RWMutex
	collections map[string]bool
	children    map[childKey]prometheus.Counter

	// routesMu guards routes, the metrics of each route pattern, made when
	// a Handler registers its routes.
	routesMu sync.Mutex
	routes   map[string]*routeMetrics
	// watching is set once a Service's gauges are registered; guarded by
	// routesMu.
	watching bool
}

// childKey names one child of a vector labelled by collection.
type childKey struct {
	vec        *prometheus.CounterVec
	collection string
	value      string
}

// Latency buckets in seconds: from a cached read (under a millisecond) to a
// long lock wait.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// NewMetrics returns the metrics of a truce server, registered in a
// registry of their own with the Go runtime and process collectors.
func NewMetrics(opts MetricsOptions) *Metrics {
	m := &Metrics{
		reg:            prometheus.NewRegistry(),
		maxCollections: opts.MaxCollections,
		collections:    map[string]bool{},
		children:       map[childKey]prometheus.Counter{},
		routes:         map[string]*routeMetrics{},
	}
	if m.maxCollections <= 0 {
		m.maxCollections = DefaultMaxCollectionLabels
	}
	f := factory{m.reg}
	m.requests = f.counterVec("truce_http_requests_total", "HTTP requests answered, by route (the ServeMux pattern), method and status.", "route", "method", "status")
	m.duration = f.histogramVec("truce_http_request_duration_seconds", "Time from a request's arrival to the end of its answer, by route, method and status.", latencyBuckets, "route", "method", "status")
	m.inflight = f.gauge("truce_http_requests_in_flight", "HTTP requests being served now, event streams included.")
	m.bytesIn = f.counterVec("truce_http_request_bytes_total", "Bytes of request bodies read, by route.", "route")
	m.bytesOut = f.counterVec("truce_http_response_bytes_total", "Bytes of response bodies written, by route.", "route")

	m.conflicts = f.counterVec("truce_conflicts_total", "Requests refused with 409, 412, 423 or 428, by collection and problem code (version_conflict, precondition_failed, merge_conflict, unique_violation, in_use, locked, ...).", "collection", "code")
	m.merges = f.counterVec("truce_merges_total", "Writes with a stale version in a merge or manual collection, by outcome: merged (written), conflict (409 merge_conflict), recorded (409 with a recorded conflict).", "collection", "outcome")
	m.recorded = f.counterVec("truce_recorded_conflicts_total", "Recorded conflicts (manual policy) by event: opened, resolved, dismissed.", "collection", "event")
	m.replays = f.counter("truce_idempotent_replays_total", "Requests answered from a stored Idempotency-Key answer.")
	m.rateLimited = f.counter("truce_rate_limited_total", "Requests refused with 429 rate_limited.")
	m.lockWait = f.histogramVec("truce_lock_wait_seconds", "Time a lock request took, waiting included, by outcome: acquired, locked (423 after the wait), error.", latencyBuckets, "outcome")
	m.locksWaiting = f.gauge("truce_lock_requests_waiting", "Lock requests with a wait that are being served now.")
	m.transactions = f.counterVec("truce_transactions_total", "Transactions ended, by kind (batch, interactive) and outcome: committed, conflict (409/412/423/428), expired (410), rolled_back, failed.", "kind", "outcome")
	m.txOps = f.histogramVec("truce_transaction_ops", "Operations of each committed transaction, by kind.", []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}, "kind")
	m.subscribers = f.gaugeVec("truce_feed_subscribers", "Open change-feed subscribers, by transport: sse, websocket, longpoll.", "transport")
	m.delivered = f.counterVec("truce_feed_events_delivered_total", "Change-feed events delivered, by transport.", "transport")
	m.feedLag = f.histogram("truce_feed_lag_seconds", "Time from an event's commit to its delivery to a subscriber.", latencyBuckets)
	m.feedExpired = f.counter("truce_feed_expired_total", "Change-feed resumes refused with 410 events_expired, and streams ended because their position was trimmed.")
	for _, t := range []string{"sse", "websocket", "longpoll"} {
		m.subscribers.WithLabelValues(t)
		m.delivered.WithLabelValues(t)
	}
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	if !opts.NoRuntime {
		m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

// Register adds c, a collector of other metrics, to the registry.
func (m *Metrics) Register(c prometheus.Collector) error { return m.reg.Register(c) }

// RegisterStore adds the store's own metrics when it reports them, that is
// when it is a prometheus.Collector (the pebble Store is, from Pebble's
// Metrics; a Store that is not adds nothing). It reports whether it did.
func (m *Metrics) RegisterStore(s truce.Store) (bool, error) {
	c, ok := s.(prometheus.Collector)
	if !ok {
		return false, nil
	}
	return true, m.reg.Register(c)
}

// Handler serves the metrics in the Prometheus text format, without any
// authentication: serve it on a listener of its own (truce serve
// --metrics-addr), or through a Handler, whose /metrics needs the admin
// scope.
func (m *Metrics) Handler() http.Handler { return m.handler }

// factory makes metrics and registers them.
type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}

func (f factory) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(g)
	return g
}

func (f factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	f.reg.MustRegister(h)
	return h
}

func (f factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}

// routeMetrics holds the children of one route pattern, so that a request
// finds its counters with no label lookup and no allocation.
type routeMetrics struct {
	m              *Metrics
	route, method  string
	bytesIn, bytes prometheus.Counter
	// byStatus holds the children of each status from 100 to 599 for the
	// pattern's own method, made on first use.
	byStatus [500]atomic.Pointer[statusMetrics]
}

type statusMetrics struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// route returns the metrics of a ServeMux pattern ("GET /v1/x/{c}"), made
// once and shared by the Handlers that use m.
func (m *Metrics) route(pattern string) *routeMetrics {
	m.routesMu.Lock()
	defer m.routesMu.Unlock()
	if rm, ok := m.routes[pattern]; ok {
		return rm
	}
	method, path := "", pattern
	for i := 0; i < len(pattern); i++ {
		if pattern[i] == ' ' {
			method, path = pattern[:i], pattern[i+1:]
			break
		}
	}
	rm := &routeMetrics{m: m, route: path, method: method,
		bytesIn: m.bytesIn.WithLabelValues(path), bytes: m.bytesOut.WithLabelValues(path)}
	m.routes[pattern] = rm
	return rm
}

// observe counts one answered request.
func (rm *routeMetrics) observe(method string, status int, d time.Duration, in, out int64) {
	if in > 0 {
		rm.bytesIn.Add(float64(in))
	}
	if out > 0 {
		rm.bytes.Add(float64(out))
	}
	if method != rm.method || status < 100 || status > 599 {
		s := strconv.Itoa(status)
		method = methodLabel(method)
		rm.m.requests.WithLabelValues(rm.route, method, s).Inc()
		rm.m.duration.WithLabelValues(rm.route, method, s).Observe(d.Seconds())
		return
	}
	p := &rm.byStatus[status-100]
	sm := p.Load()
	if sm == nil {
		s := strconv.Itoa(status)
		sm = &statusMetrics{requests: rm.m.requests.WithLabelValues(rm.route, method, s),
			duration: rm.m.duration.WithLabelValues(rm.route, method, s)}
		if !p.CompareAndSwap(nil, sm) {
			sm = p.Load()
		}
	}
	sm.requests.Inc()
	sm.duration.Observe(d.Seconds())
}

// methodLabel bounds the method label to the methods of HTTP.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// collectionExists reports whether a collection exists; the slow path of a
// collection label.
type collectionExists func(ctx context.Context, name string) bool

// count adds one to the child of vec for collection (bounded: see
// Metrics) and value.
func (m *Metrics) count(ctx context.Context, vec *prometheus.CounterVec, collection, value string, exists collectionExists) {
	m.mu.RLock()
	labeled := m.collections[collection]
	c := m.children[childKey{vec, collection, value}]
	m.mu.RUnlock()
	if c != nil {
		c.Inc()
		return
	}
	if !labeled {
		collection = m.admitCollection(ctx, collection, exists)
	}
	m.mu.Lock()
	k := childKey{vec, collection, value}
	if c = m.children[k]; c == nil {
		c = vec.WithLabelValues(collection, value)
		m.children[k] = c
	}
	m.mu.Unlock()
	c.Inc()
}

// admitCollection returns the label value of a collection that has none
// yet: its name if it exists and the cap allows, else OtherCollection.
func (m *Metrics) admitCollection(ctx context.Context, name string, exists collectionExists) string {
	if name == "" || name == OtherCollection {
		return OtherCollection
	}
	m.mu.RLock()
	full := len(m.collections) >= m.maxCollections
	m.mu.RUnlock()
	if full || exists == nil || !exists(ctx, name) {
		return OtherCollection
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.collections) >= m.maxCollections && !m.collections[name] {
		return OtherCollection
	}
	m.collections[name] = true
	return name
}

// exists is the Handler's collectionExists.
func (h *Handler) exists(ctx context.Context, name string) bool {
	ok, err := h.svc.CollectionExists(ctx, name)
	return err == nil && ok
}

// countProblem counts a problem answer: the conflicts (409, 412, 423,
// 428) by collection and code, the merges that failed, the recorded
// conflicts opened, and the change-feed resumes refused.
func (h *Handler) countProblem(r *http.Request, status int, te *truce.Error) {
	m := h.metrics
	switch status {
	case http.StatusConflict, http.StatusPreconditionFailed, http.StatusLocked, http.StatusPreconditionRequired:
	default:
		if te.Code == truce.CodeEventsExpired {
			m.feedExpired.Inc()
		}
		return
	}
	ctx := r.Context()
	c := problemCollection(r, te)
	m.count(ctx, m.conflicts, c, string(te.Code), h.exists)
	if te.Code == truce.CodeMergeConflict {
		outcome := "conflict"
		if te.ConflictID != "" {
			outcome = "recorded"
			m.count(ctx, m.recorded, c, "opened", h.exists)
		}
		m.count(ctx, m.merges, c, outcome, h.exists)
	}
}

// problemCollection is the collection a refusal is about: the path's, or
// the one of the document the problem carries.
func problemCollection(r *http.Request, te *truce.Error) string {
	if c := r.PathValue("c"); c != "" {
		return c
	}
	switch {
	case te.Current != nil:
		return te.Current.Collection
	case te.Holder != nil:
		return te.Holder.Collection
	case len(te.Changed) > 0:
		return te.Changed[0].Collection
	}
	return ""
}

// serveMetrics serves GET /metrics (admin scope; see Metrics.Handler for a
// listener of its own).
func (h *Handler) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if h.metrics == nil {
		h.problem(w, r, truce.Errorf(truce.CodeNotFound, "this server keeps no metrics (truce serve --metrics=false)"))
		return
	}
	h.metrics.Handler().ServeHTTP(w, r)
}

// countTransaction counts a transaction's end: committed with its ops, or
// refused with err.
func (h *Handler) countTransaction(kind string, ops int, err error) {
	m := h.metrics
	if m == nil {
		return
	}
	outcome := "committed"
	if err != nil {
		switch StatusOf(truce.ErrorCode(err)) {
		case http.StatusConflict, http.StatusPreconditionFailed, http.StatusLocked, http.StatusPreconditionRequired:
			outcome = "conflict"
		case http.StatusGone:
			outcome = "expired"
		default:
			outcome = "failed"
		}
	}
	m.transactions.WithLabelValues(kind, outcome).Inc()
	if err == nil {
		m.txOps.WithLabelValues(kind).Observe(float64(ops))
	}
}

// feedMetrics is what one change-feed subscriber counts; its methods do
// nothing when the Handler keeps no metrics.
type feedMetrics struct {
	m         *Metrics
	transport string
	open      prometheus.Gauge
	sent      prometheus.Counter
}

// feedMetrics counts a subscriber of transport as open until close; with
// transport "" it only counts deliveries (a page of /v1/changes that did
// not wait, delivered as longpoll).
func (h *Handler) feedMetrics(transport string) feedMetrics {
	m := h.metrics
	if m == nil {
		return feedMetrics{}
	}
	fm := feedMetrics{m: m, transport: transport}
	if transport == "" {
		transport = "longpoll"
	} else {
		fm.open = m.subscribers.WithLabelValues(transport)
		fm.open.Inc()
	}
	fm.sent = m.delivered.WithLabelValues(transport)
	return fm
}

func (fm feedMetrics) close() {
	if fm.open != nil {
		fm.open.Dec()
	}
}

// delivered counts events handed to the subscriber, and their lag from
// commit.
func (fm feedMetrics) delivered(evs []*truce.FeedEvent) {
	if fm.m == nil || len(evs) == 0 {
		return
	}
	fm.sent.Add(float64(len(evs)))
	now := time.Now()
	for _, e := range evs {
		if !e.Time.IsZero() {
			fm.m.feedLag.Observe(now.Sub(e.Time).Seconds())
		}
	}
}

func (fm feedMetrics) expired() {
	if fm.m != nil {
		fm.m.feedExpired.Inc()
	}
}

// maxCountedLocks bounds the lock records read at each scrape.
const maxCountedLocks = 100000

// watchService adds the gauges read from svc at each scrape: the live
// locks. Only the first Service of m is watched.
func (m *Metrics) watchService(svc *truce.Service) {
	m.routesMu.Lock()
	defer m.routesMu.Unlock()
	if m.watching {
		return
	}
	m.watching = true
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "truce_locks_held",
		Help: "Locks live now (counted at each scrape, up to 100,000)."}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n, err := svc.CountLocks(ctx, maxCountedLocks)
		if err != nil {
			return -1
		}
		return float64(n)
	}))
}
