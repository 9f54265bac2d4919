package postgres_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/internal/pgtest"
)

// The Store is a prometheus.Collector: its commits, lock waits and retries,
// and its pool's stats, consistent with what it describes (a pedantic
// registry checks that).
func TestMetrics(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Start(t)
	s := mustOpen(t, url, "metrics")
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(s); err != nil {
		t.Fatal(err)
	}

	// An operator's trigger that fails the first write to documents with a
	// serialization failure: the Update runs again, and counts it.
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, sql := range []string{
		`CREATE SEQUENCE metrics.fail_once`,
		`CREATE FUNCTION metrics.fail_once() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF nextval('metrics.fail_once') = 1 THEN
				RAISE EXCEPTION 'injected' USING ERRCODE = '40001';
			END IF;
			RETURN NEW;
		END $$`,
		`CREATE TRIGGER fail_once BEFORE INSERT OR UPDATE ON metrics.documents FOR EACH ROW EXECUTE FUNCTION metrics.fail_once()`,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}

	svc := truce.NewService(s, truce.Options{})
	const writes = 5
	for i := range writes {
		if _, err := svc.Put(ctx, "notes", fmt.Sprint("n", i), []byte(`{"x":1}`), truce.Precondition{}, nil); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}

	// An Update that waits 100 ms for the seq lock, held by an operator.
	hold, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hold.Exec(ctx, "SELECT * FROM metrics.meta WHERE id = 1 FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		_, err := svc.Put(ctx, "notes", "late", []byte(`{"x":1}`), truce.Precondition{}, nil)
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if err := hold.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*dto.Metric{}
	for _, f := range families {
		for _, m := range f.Metric {
			name := f.GetName()
			for _, l := range m.Label {
				name += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			got[name] = m
		}
	}
	histCount := func(name string) uint64 {
		m := got[name]
		if m == nil || m.Histogram == nil {
			t.Errorf("no histogram %s", name)
			return 0
		}
		return m.Histogram.GetSampleCount()
	}
	value := func(name string) float64 {
		m := got[name]
		switch {
		case m == nil:
			t.Errorf("no metric %s", name)
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		}
		return 0
	}
	// Each Service write is one committed Update (the collection's
	// creation may add one).
	if n := histCount("truce_store_commit_seconds"); n < writes {
		t.Errorf("truce_store_commit_seconds counts %d commits, want at least %d", n, writes)
	}
	// Every attempt takes both locks, the one that failed too.
	if n := histCount("truce_store_seq_lock_wait_seconds"); n < writes+1 {
		t.Errorf("truce_store_seq_lock_wait_seconds counts %d, want at least %d", n, writes+1)
	}
	if sum := got["truce_store_seq_lock_wait_seconds"].GetHistogram().GetSampleSum(); sum < 0.09 || sum > 5 {
		t.Errorf("truce_store_seq_lock_wait_seconds sums %v s, want about 0.1", sum)
	}
	if sum := got["truce_store_commit_seconds"].GetHistogram().GetSampleSum(); sum < 0.09 {
		t.Errorf("truce_store_commit_seconds sums %v s, want at least 0.1", sum)
	}
	if n := histCount("truce_store_write_lock_wait_seconds"); n < writes+1 {
		t.Errorf("truce_store_write_lock_wait_seconds counts %d, want at least %d", n, writes+1)
	}
	if v := value("truce_store_retries_total{reason=serialization_failure}"); v != 1 {
		t.Errorf("serialization failures retried: %v, want 1", v)
	}
	if v := value("truce_store_retries_total{reason=deadlock}"); v != 0 {
		t.Errorf("deadlocks retried: %v, want 0", v)
	}
	if v := value("truce_postgres_pool_max_conns"); v != 8 {
		t.Errorf("truce_postgres_pool_max_conns = %v, want 8", v)
	}
	if v := value("truce_postgres_pool_acquires_total"); v < writes {
		t.Errorf("truce_postgres_pool_acquires_total = %v, want at least %d", v, writes)
	}
	if v := value("truce_postgres_pool_total_conns"); v < 1 {
		t.Errorf("truce_postgres_pool_total_conns = %v, want at least 1", v)
	}
	value("truce_postgres_pool_idle_conns")
	value("truce_postgres_pool_acquired_conns")
	value("truce_postgres_pool_acquire_seconds_total")
	value("truce_postgres_pool_acquire_waits_total")
	value("truce_postgres_pool_acquire_wait_seconds_total")
	value("truce_postgres_pool_canceled_acquires_total")
	value("truce_postgres_pool_new_conns_total")
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	// The dashboard's PostgreSQL panels name metrics this store exports
	// (http's TestMetrics checks the rest against a Pebble server).
	exported := map[string]bool{}
	for _, f := range families {
		exported[f.GetName()] = true
	}
	dash, err := os.ReadFile("../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range regexp.MustCompile(`truce_[a-z0-9_]+`).FindAllString(string(dash), -1) {
		base := name
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			if b, ok := strings.CutSuffix(name, suffix); ok && strings.Contains(string(readme), "`"+b+"`") {
				base = b
			}
		}
		for _, line := range strings.Split(string(readme), "\n") {
			if strings.Contains(line, "`"+base+"`") && strings.Contains(line, "| PostgreSQL:") && !exported[base] {
				t.Errorf("the dashboard names %s, a PostgreSQL metric the store does not export", name)
			}
		}
	}
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "truce_") {
			t.Errorf("metric %s is not truce's", f.GetName())
		}
		if !strings.Contains(string(readme), "`"+f.GetName()+"`") {
			t.Errorf("README's metrics table lacks %s", f.GetName())
		}
	}
}
