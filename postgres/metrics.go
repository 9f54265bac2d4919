package postgres

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
)

// storeMetrics is what the Store measures itself; the pool's are read from
// pgxpool's Stat at each scrape. The commit and lock-wait histograms have
// the names of the pebble Store's, whose meaning they share; their HELP
// says what differs.
//
// The WAL flush an Update waits for after its COMMIT (durable.go) is not
// measured on its own: the COMMIT and sqlFlush go in one pipelined round
// trip, whose results PostgreSQL sends together at its end, so the client
// cannot tell the flush from the rest; truce_store_commit_seconds includes
// it.
type storeMetrics struct {
	commit    prometheus.Histogram
	localWait prometheus.Histogram
	seqWait   prometheus.Histogram
	retries   *prometheus.CounterVec // reason
}

var commitBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

// Retry reasons, the values of truce_store_retries_total's label.
const (
	retrySerialization = "serialization_failure"
	retryDeadlock      = "deadlock"
	retryBrokenConn    = "broken_connection"
	retryGroup         = "group"
)

func newStoreMetrics() storeMetrics {
	m := storeMetrics{
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "truce_store_commit_seconds",
			Help:    "Time of each write transaction of the store, from its start to its durable commit. On PostgreSQL: from Update's start, its runs again after a serialization failure included, to the return of its COMMIT and of the WAL flush through it; the wait for the local write lock and for the seq lock, and every round trip under them, included.",
			Buckets: commitBuckets}),
		localWait: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "truce_store_write_lock_wait_seconds",
			Help:    "Time each write transaction of the store waited for the write lock. On PostgreSQL: the node's local write lock (one Update per node at a time), before the seq lock, which truce_store_seq_lock_wait_seconds measures.",
			Buckets: commitBuckets}),
		seqWait: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "truce_store_seq_lock_wait_seconds",
			Help:    "Time each write transaction waited in PostgreSQL for the lock of the meta row (the seq lock, which serializes Updates across every node), measured by the server from the transaction's BEGIN to the lock's grant.",
			Buckets: commitBuckets}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "truce_store_retries_total",
			Help: "Write transactions run again, by reason: serialization_failure (40001), deadlock (40P01), broken_connection (the connection broke before the COMMIT was sent), group (a group commit of several Updates failed for another member's reason, and this one runs again alone)."}, []string{"reason"}),
	}
	for _, r := range []string{retrySerialization, retryDeadlock, retryBrokenConn, retryGroup} {
		m.retries.WithLabelValues(r)
	}
	return m
}

// retryReason is the label of a failed attempt that Update runs again.
func retryReason(err error) string {
	var pe *pgconn.PgError
	switch {
	case errors.Is(err, errBrokenConn):
		return retryBrokenConn
	case errors.As(err, &pe) && pe.Code == "40P01":
		return retryDeadlock
	}
	return retrySerialization
}

var (
	descPoolAcquired                      = prometheus.NewDesc("truce_postgres_pool_acquired_conns", "Connections of the pool in use now.", nil, nil)
	descPoolIdle                          = prometheus.NewDesc("truce_postgres_pool_idle_conns", "Idle connections of the pool now.", nil, nil)
	descPoolTotal                         = prometheus.NewDesc("truce_postgres_pool_total_conns", "Connections of the pool now: acquired, idle and being opened.", nil, nil)
	descPoolMax                           = prometheus.NewDesc("truce_postgres_pool_max_conns", "The most connections the pool opens (Options.MaxConns, pool_max_conns).", nil, nil)
	descPoolAcquires                      = prometheus.NewDesc("truce_postgres_pool_acquires_total", "Connections acquired from the pool.", nil, nil)
	descPoolAcquireS                      = prometheus.NewDesc("truce_postgres_pool_acquire_seconds_total", "Time spent acquiring connections from the pool, in all.", nil, nil)
	descPoolWaits                         = prometheus.NewDesc("truce_postgres_pool_acquire_waits_total", "Acquires that found no idle connection and waited for one to be released or opened.", nil, nil)
	descPoolWaitS                         = prometheus.NewDesc("truce_postgres_pool_acquire_wait_seconds_total", "Time those acquires waited, in all.", nil, nil)
	descPoolCanceled                      = prometheus.NewDesc("truce_postgres_pool_canceled_acquires_total", "Acquires that ended with their context before getting a connection.", nil, nil)
	descPoolNewConns                      = prometheus.NewDesc("truce_postgres_pool_new_conns_total", "Connections the pool opened.", nil, nil)
	poolDescriptions                      = []*prometheus.Desc{descPoolAcquired, descPoolIdle, descPoolTotal, descPoolMax, descPoolAcquires, descPoolAcquireS, descPoolWaits, descPoolWaitS, descPoolCanceled, descPoolNewConns}
	_                prometheus.Collector = (*Store)(nil)
)

// Describe sends the descriptions of the store's metrics: with Collect it
// makes the Store a prometheus.Collector, which the server registers
// (http.Metrics.RegisterStore).
func (s *Store) Describe(ch chan<- *prometheus.Desc) {
	s.metrics.commit.Describe(ch)
	s.metrics.localWait.Describe(ch)
	s.metrics.seqWait.Describe(ch)
	s.metrics.retries.Describe(ch)
	for _, d := range poolDescriptions {
		ch <- d
	}
}

// Collect sends the store's metrics: its own, and the pool's as pgxpool
// reports them now.
func (s *Store) Collect(ch chan<- prometheus.Metric) {
	s.metrics.commit.Collect(ch)
	s.metrics.localWait.Collect(ch)
	s.metrics.seqWait.Collect(ch)
	s.metrics.retries.Collect(ch)
	st := s.pool.Stat()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(descPoolAcquired, float64(st.AcquiredConns()))
	gauge(descPoolIdle, float64(st.IdleConns()))
	gauge(descPoolTotal, float64(st.TotalConns()))
	gauge(descPoolMax, float64(st.MaxConns()))
	counter(descPoolAcquires, float64(st.AcquireCount()))
	counter(descPoolAcquireS, st.AcquireDuration().Seconds())
	counter(descPoolWaits, float64(st.EmptyAcquireCount()))
	counter(descPoolWaitS, st.EmptyAcquireWaitTime().Seconds())
	counter(descPoolCanceled, float64(st.CanceledAcquireCount()))
	counter(descPoolNewConns, float64(st.NewConnsCount()))
}
