package http

import (
	"context"
	"net/http"
	"sync"
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
	// inflightLimit is the limit on requests in flight: --max-inflight,
	// or lower while the adaptive limit is lowered.
	inflightLimit prometheus.Gauge
	bytesIn       *prometheus.CounterVec // route
	bytesOut      *prometheus.CounterVec // route

	conflicts    *prometheus.CounterVec // collection, code
	merges       *prometheus.CounterVec // collection, outcome
	recorded     *prometheus.CounterVec // collection, event
	replays      prometheus.Counter
	rateLimited  prometheus.Counter
	overloaded   prometheus.Counter
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
	m.merges = f.counterVec("truce_merges_total", "Writes with a stale version in a merge or manual collection, by outcome: merged (written), conflict (409 merge_conflict), recorded (409 with a recorded conflict). The ops of batches and interactive transactions count too; a staged write that merged counts as merged when its transaction commits.", "collection", "outcome")
	m.recorded = f.counterVec("truce_recorded_conflicts_total", "Recorded conflicts (manual policy) by event: opened, resolved, dismissed.", "collection", "event")
	m.replays = f.counter("truce_idempotent_replays_total", "Requests answered from a stored Idempotency-Key answer.")
	m.rateLimited = f.counter("truce_rate_limited_total", "Requests refused with 429 rate_limited.")
	m.inflightLimit = f.gauge("truce_inflight_limit", "How many requests may be in flight now (those truce_overloaded_total counts are refused past it): --max-inflight, or fewer while --adaptive-inflight has lowered it.")
	m.overloaded = f.counter("truce_overloaded_total", "Requests shed with 503 overloaded past --max-inflight.")
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
// Metrics, and the postgres Store, from its own timings and its pool's
// stats; a Store that is not adds nothing). It reports whether it did.
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

// serveMetrics serves GET /metrics (admin scope; see Metrics.Handler for a
// listener of its own).
func (h *Handler) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if h.metrics == nil {
		h.problem(w, r, truce.Errorf(truce.CodeNotFound, "this server keeps no metrics (truce serve --metrics=false)"))
		return
	}
	h.metrics.Handler().ServeHTTP(w, r)
}

// maxCounted bounds the lock and conflict records read at each scrape.
const maxCounted = 100000

// watchService adds the gauges read from svc at each scrape: the live
// locks and the open recorded conflicts. Only the first Service of m is
// watched.
func (m *Metrics) watchService(svc *truce.Service) {
	m.routesMu.Lock()
	defer m.routesMu.Unlock()
	if m.watching {
		return
	}
	m.watching = true
	m.reg.MustRegister(serviceCollector{m: m, svc: svc})
}

var (
	descLocksHeld     = prometheus.NewDesc("truce_locks_held", "Locks live now (counted at each scrape, up to 100,000).", nil, nil)
	descLocksExpired  = prometheus.NewDesc("truce_locks_expired_total", "Locks that ended unreleased and were removed with their lock.expired event by this node's upkeep.", nil, nil)
	descTxSwept       = prometheus.NewDesc("truce_transactions_swept_total", "Interactive transactions deleted past their TTL by this node's upkeep (never committed; a commit after the TTL counts as truce_transactions_total{outcome=\"expired\"}).", nil, nil)
	descIdemSwept     = prometheus.NewDesc("truce_idempotency_swept_total", "Stored Idempotency-Key answers deleted past their TTL by this node's upkeep.", nil, nil)
	descOpenConflicts = prometheus.NewDesc("truce_recorded_conflicts_open", "Recorded conflicts open now, by collection (counted at each scrape, up to 100,000).", []string{"collection"}, nil)
)

// serviceCollector reads the gauges of a Service's state at each scrape.
type serviceCollector struct {
	m   *Metrics
	svc *truce.Service
}

func (c serviceCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descLocksHeld
	ch <- descLocksExpired
	ch <- descTxSwept
	ch <- descIdemSwept
	ch <- descOpenConflicts
}

func (c serviceCollector) Collect(ch chan<- prometheus.Metric) {
	up := c.svc.UpkeepStats()
	ch <- prometheus.MustNewConstMetric(descLocksExpired, prometheus.CounterValue, float64(up.LocksExpired))
	ch <- prometheus.MustNewConstMetric(descTxSwept, prometheus.CounterValue, float64(up.TransactionsExpired))
	ch <- prometheus.MustNewConstMetric(descIdemSwept, prometheus.CounterValue, float64(up.IdempotencyExpired))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if n, err := c.svc.CountLocks(ctx, maxCounted); err == nil {
		ch <- prometheus.MustNewConstMetric(descLocksHeld, prometheus.GaugeValue, float64(n))
	}
	byCollection, err := c.svc.CountOpenConflicts(ctx, maxCounted)
	if err != nil {
		return
	}
	// Only collections that already have a label value get their own.
	counts := map[string]float64{}
	c.m.mu.RLock()
	for name, n := range byCollection {
		if !c.m.collections[name] {
			name = OtherCollection
		}
		counts[name] += float64(n)
	}
	c.m.mu.RUnlock()
	for name, n := range counts {
		ch <- prometheus.MustNewConstMetric(descOpenConflicts, prometheus.GaugeValue, n, name)
	}
}
