package pebble_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trucedb/truce"
)

// The store is a prometheus.Collector: its commit latencies, and Pebble's
// own metrics read from its Metrics.
func TestMetrics(t *testing.T) {
	s := mustOpen(t, t.TempDir())
	defer s.Close()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(s); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		err := s.Update(context.Background(), func(tx truce.Tx) error {
			return tx.PutCollection(&truce.Collection{Name: "c", Seq: int64(i + 1), CreatedAt: time.Unix(0, 0), UpdatedAt: time.Unix(0, 0)})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		m := f.GetMetric()[0]
		switch {
		case m.Histogram != nil:
			got[f.GetName()] = float64(m.Histogram.GetSampleCount())
		case m.Counter != nil:
			got[f.GetName()] = m.Counter.GetValue()
		case m.Gauge != nil:
			got[f.GetName()] = m.Gauge.GetValue()
		}
	}
	if got["truce_store_commit_seconds"] != 3 || got["truce_store_write_lock_wait_seconds"] != 3 {
		t.Errorf("commits counted: %v and %v, want 3", got["truce_store_commit_seconds"], got["truce_store_write_lock_wait_seconds"])
	}
	if got["truce_store_wal_fsync_seconds"] < 1 {
		t.Errorf("fsyncs counted: %v, want at least 1", got["truce_store_wal_fsync_seconds"])
	}
	for _, name := range []string{"truce_pebble_l0_sublevels", "truce_pebble_compactions_total", "truce_pebble_block_cache_hits_total",
		"truce_pebble_disk_usage_bytes", "truce_pebble_memtable_bytes", "truce_pebble_read_amplification"} {
		if _, ok := got[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
	if got["truce_pebble_disk_usage_bytes"] <= 0 {
		t.Errorf("disk usage %v", got["truce_pebble_disk_usage_bytes"])
	}
}
