package pebble

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// SlowCommit is the time from an Update's start to its durable commit past
// which the store logs the commit, at debug level, with what it waited on.
const SlowCommit = 100 * time.Millisecond

// storeMetrics is what the Store measures itself; the rest of its metrics
// are Pebble's, read from its Metrics at each scrape.
type storeMetrics struct {
	// commit is the time of each Update that wrote, from its start to
	// its durable commit; lockWait its wait for the write lock.
	commit   prometheus.Histogram
	lockWait prometheus.Histogram
}

var commitBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

func newStoreMetrics() storeMetrics {
	return storeMetrics{
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "truce_store_commit_seconds",
			Help: "Time of each write transaction of the store, from its start to its durable commit (lock wait and fsync included).", Buckets: commitBuckets}),
		lockWait: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "truce_store_write_lock_wait_seconds",
			Help: "Time each write transaction of the store waited for the write lock (writes run one at a time).", Buckets: commitBuckets}),
	}
}

// observeCommit counts an Update that committed: it started at start, took
// the write lock at locked, queued its batch at queued, and is durable now.
func (s *Store) observeCommit(ctx context.Context, start, locked, queued time.Time) {
	now := time.Now()
	d := now.Sub(start)
	s.metrics.commit.Observe(d.Seconds())
	s.metrics.lockWait.Observe(locked.Sub(start).Seconds())
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(attribute.Int64("truce.write_lock_wait_us", locked.Sub(start).Microseconds()),
			attribute.Int64("truce.under_lock_us", queued.Sub(locked).Microseconds()),
			attribute.Int64("truce.fsync_wait_us", now.Sub(queued).Microseconds()))
	}
	if d > SlowCommit && s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("slow store commit", "duration", d, "writeLockWait", locked.Sub(start),
			"underLock", queued.Sub(locked), "fsyncWait", now.Sub(queued))
	}
}

// Group-commit batch size. The Store exports no histogram of the commits
// each WAL fsync made durable, only their mean (truce_store_wal_fsync_seconds'
// HELP): Pebble (v2.1.7) does not say how many waiters an fsync released.
// Its LogWriter takes a snapshot of its sync queue, fsyncs, releases the
// snapshot's waiters, then calls WALMinSyncInterval (walSyncDelay), the
// only hook that runs once per fsync; by then the released Updates may or
// may not have run, and the next fsync may release some before others
// wake (the wake lag of a saturated CPU), so counting from walSyncDelay and
// SyncWait's returns, or from the commit numbers and the watermark, would
// misattribute commits between neighbouring fsyncs. No EventListener event
// reports WAL syncs, and Metrics().LogWriter.SyncQueueLen samples the queue
// at every flush, synced or not, as one sum. An exact count would need
// Pebble to report each fsync's snapshot.
var (
	descFsync       = prometheus.NewDesc("truce_store_wal_fsync_seconds", "Time of each fsync of Pebble's write-ahead log; one fsync makes durable every commit queued since the one before (group commit), so commits per fsync is rate(truce_store_commit_seconds_count) / rate(truce_store_wal_fsync_seconds_count).", nil, nil)
	descCompactions = prometheus.NewDesc("truce_pebble_compactions_total", "Compactions Pebble has run.", nil, nil)
	descCompactDebt = prometheus.NewDesc("truce_pebble_compaction_debt_bytes", "Pebble's estimate of the bytes to compact to reach a stable shape.", nil, nil)
	descCompacting  = prometheus.NewDesc("truce_pebble_compactions_in_progress", "Compactions running now.", nil, nil)
	descFlushes     = prometheus.NewDesc("truce_pebble_flushes_total", "Memtable flushes Pebble has run.", nil, nil)
	descL0Sublevels = prometheus.NewDesc("truce_pebble_l0_sublevels", "Sublevels of Pebble's level 0: reads and writes slow as it grows (writes stop at 32).", nil, nil)
	descL0Tables    = prometheus.NewDesc("truce_pebble_l0_tables", "Tables in Pebble's level 0.", nil, nil)
	descCacheHits   = prometheus.NewDesc("truce_pebble_block_cache_hits_total", "Reads of Pebble's block cache that found the block.", nil, nil)
	descCacheMisses = prometheus.NewDesc("truce_pebble_block_cache_misses_total", "Reads of Pebble's block cache that did not.", nil, nil)
	descCacheBytes  = prometheus.NewDesc("truce_pebble_block_cache_bytes", "Bytes held by Pebble's block cache.", nil, nil)
	descMemtable    = prometheus.NewDesc("truce_pebble_memtable_bytes", "Bytes of Pebble's memtables.", nil, nil)
	descDisk        = prometheus.NewDesc("truce_pebble_disk_usage_bytes", "Bytes on disk of the store: tables, write-ahead log, manifests.", nil, nil)
	descWALWritten  = prometheus.NewDesc("truce_pebble_wal_bytes_written_total", "Bytes written to Pebble's write-ahead log.", nil, nil)
	descReadAmp     = prometheus.NewDesc("truce_pebble_read_amplification", "Pebble's read amplification: the sublevels and levels a point read may visit.", nil, nil)
	descTableIters  = prometheus.NewDesc("truce_pebble_table_iterators", "Open iterators over Pebble's tables.", nil, nil)
)

// Describe sends the descriptions of the store's metrics: with Collect it
// makes the Store a prometheus.Collector, which the server registers.
func (s *Store) Describe(ch chan<- *prometheus.Desc) {
	s.metrics.commit.Describe(ch)
	s.metrics.lockWait.Describe(ch)
	for _, d := range []*prometheus.Desc{descFsync, descCompactions, descCompactDebt, descCompacting, descFlushes,
		descL0Sublevels, descL0Tables, descCacheHits, descCacheMisses, descCacheBytes, descMemtable, descDisk,
		descWALWritten, descReadAmp, descTableIters} {
		ch <- d
	}
}

// Collect sends the store's metrics: its own commit latencies, and
// Pebble's as its Metrics reports them now (not measured again).
func (s *Store) Collect(ch chan<- prometheus.Metric) {
	s.metrics.commit.Collect(ch)
	s.metrics.lockWait.Collect(ch)
	if s.begin() != nil {
		return // closed
	}
	defer s.end()
	m := s.db.Metrics()
	if h := m.LogWriter.FsyncLatency; h != nil {
		var pm dto.Metric
		if h.Write(&pm) == nil && pm.Histogram != nil {
			buckets := make(map[float64]uint64, len(pm.Histogram.Bucket))
			for _, b := range pm.Histogram.Bucket {
				buckets[b.GetUpperBound()] = b.GetCumulativeCount()
			}
			// Pebble measures in nanoseconds.
			scaled := make(map[float64]uint64, len(buckets))
			for ub, c := range buckets {
				scaled[ub/1e9] = c
			}
			if cm, err := prometheus.NewConstHistogram(descFsync, pm.Histogram.GetSampleCount(), pm.Histogram.GetSampleSum()/1e9, scaled); err == nil {
				ch <- cm
			}
		}
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter(descCompactions, float64(m.Compact.Count))
	gauge(descCompactDebt, float64(m.Compact.EstimatedDebt))
	gauge(descCompacting, float64(m.Compact.NumInProgress))
	counter(descFlushes, float64(m.Flush.Count))
	gauge(descL0Sublevels, float64(m.Levels[0].Sublevels))
	gauge(descL0Tables, float64(m.Levels[0].TablesCount))
	counter(descCacheHits, float64(m.BlockCache.Hits))
	counter(descCacheMisses, float64(m.BlockCache.Misses))
	gauge(descCacheBytes, float64(m.BlockCache.Size))
	gauge(descMemtable, float64(m.MemTable.Size))
	gauge(descDisk, float64(m.DiskSpaceUsage()))
	counter(descWALWritten, float64(m.WAL.BytesWritten))
	gauge(descReadAmp, float64(m.ReadAmp()))
	gauge(descTableIters, float64(m.TableIters))
}

var _ prometheus.Collector = (*Store)(nil)
