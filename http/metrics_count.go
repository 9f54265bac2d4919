package http

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trucedb/truce"
)

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

// countMerges counts the merged ops of a committed transaction (a batch,
// or an interactive transaction's commit), each under its op's collection.
// A staged write that merged is counted when its transaction commits, not
// when it is staged: only then is it written. A replayed Idempotency-Key
// answer is served from its stored bytes and never gets here.
func (h *Handler) countMerges(r *http.Request, results []truce.OpResult, ops []truce.Op) {
	m := h.metrics
	if m == nil {
		return
	}
	for i := range results {
		if results[i].Merged == nil {
			continue
		}
		collection := ""
		switch {
		case i < len(ops):
			collection = ops[i].Collection
		case results[i].Document != nil:
			collection = results[i].Document.Collection
		}
		m.count(r.Context(), m.merges, collection, "merged", h.exists)
	}
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
