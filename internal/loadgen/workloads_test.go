package loadgen_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/trucedb/truce"
	trucehttp "github.com/trucedb/truce/http"
	"github.com/trucedb/truce/internal/loadgen"
	"github.com/trucedb/truce/pebble"
)

// mustHandler returns the HTTP handler of a truce Service over Pebble in a
// temporary directory, with opts, and the Service's background work
// running, as truce serve runs it: among it the index builder, which the
// query workload waits for. Servers the test starts on it must be closed
// in cleanups registered after this call, which run first.
func mustHandler(t *testing.T, opts trucehttp.Options) http.Handler {
	t.Helper()
	store, err := pebble.Open(t.TempDir(), pebble.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	svc := truce.NewService(store, truce.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	upkeep := make(chan struct{})
	go func() { defer close(upkeep); _ = svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-upkeep
		if err := store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return trucehttp.NewHandler(svc, opts)
}

// mustServe starts a truce server over Pebble in a temporary directory.
func mustServe(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(mustHandler(t, trucehttp.Options{}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// getJSON reads url into a JSON object.
func getJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return v
}

// runWorkload prepares and runs the named workload for count operations.
func runWorkload(t *testing.T, base, name string, cfg loadgen.Config, count int64) *loadgen.Stats {
	t.Helper()
	target, err := loadgen.NewTruce(base, "bench", "", cfg.Clients)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	spec, ok := loadgen.Lookup(name)
	if !ok {
		t.Fatalf("no workload %s", name)
	}
	w, err := spec.New(target)
	if err != nil {
		t.Fatal(err)
	}
	op, err := w.Prepare(context.Background(), cfg)
	if err != nil {
		t.Fatalf("prepare %s: %v", name, err)
	}
	s, err := loadgen.Run(context.Background(), op, loadgen.RunOptions{Clients: cfg.Clients, Count: count})
	if err != nil {
		t.Fatalf("run %s: %v", name, err)
	}
	if s.Ops != count {
		t.Fatalf("%s measured %d ops, want %d", name, s.Ops, count)
	}
	return s
}

// versionsWritten sums, over documents d0..d(n-1), the versions written
// after the seed (version 1).
func versionsWritten(t *testing.T, base string, n int) int64 {
	var sum int64
	for i := range n {
		doc := getJSON(t, fmt.Sprintf("%s/v1/collections/bench/docs/d%d", base, i))
		sum += int64(doc["_version"].(float64)) - 1
	}
	return sum
}

// TestWorkloadsAgainstTruce runs each generic workload and merge-hot from 8
// clients against a real server, then checks the server's state against
// what the workload reported: no write is counted that did not happen, and
// no successful write is lost.
func TestWorkloadsAgainstTruce(t *testing.T) {
	const clients = 8
	cfg := loadgen.Config{Clients: clients, Docs: 4, DocSize: 512, ReadRatio: 0.5}

	t.Run("read", func(t *testing.T) {
		base := mustServe(t)
		s := runWorkload(t, base, "read", cfg, 200)
		if s.Reads != 200 || s.Writes != 0 {
			t.Errorf("reads %d writes %d, want 200 and 0", s.Reads, s.Writes)
		}
	})
	for _, w := range []string{"update", "update-tuned"} {
		t.Run(w, func(t *testing.T) {
			base := mustServe(t)
			s := runWorkload(t, base, w, cfg, 150)
			if s.Writes != 150 || s.Conflicts != s.Retries {
				t.Errorf("writes %d conflicts %d retries %d", s.Writes, s.Conflicts, s.Retries)
			}
			if got := versionsWritten(t, base, cfg.Docs); got != 150 {
				t.Errorf("the documents went through %d versions, the workload counted 150 writes", got)
			}
		})
	}
	t.Run("query", func(t *testing.T) {
		// The documents are there before the index: the workload adds it
		// and waits for the build, then each page must hold 100 of 250.
		base := mustServe(t)
		qcfg := loadgen.Config{Clients: clients, Docs: 250, DocSize: 200}
		runWorkload(t, base, "read", qcfg, 10)
		s := runWorkload(t, base, "query", qcfg, 100)
		if s.Reads != 100*100 || s.Writes != 0 {
			t.Errorf("the queries returned %d documents and wrote %d, want 10000 and 0", s.Reads, s.Writes)
		}
	})
	t.Run("update-hot", func(t *testing.T) {
		base := mustServe(t)
		s := runWorkload(t, base, "update-hot", cfg, 100)
		doc := getJSON(t, base+"/v1/collections/bench/docs/hot")
		if v := doc["_version"].(float64); v != 101 || s.Writes != 100 {
			t.Errorf("hot document at version %v after %d writes, want 101", v, s.Writes)
		}
		if s.Conflicts == 0 || s.Conflicts != s.Retries {
			t.Errorf("conflicts %d retries %d: 8 clients on one document should conflict, and retry each", s.Conflicts, s.Retries)
		}
	})
	t.Run("merge-hot", func(t *testing.T) {
		base := mustServe(t)
		s := runWorkload(t, base, "merge-hot", cfg, 200)
		doc := getJSON(t, base+"/v1/collections/bench-merge/docs/hot")
		if v := doc["_version"].(float64); v != 201 || s.Writes != 200 {
			t.Errorf("hot document at version %v after %d writes, want 201", v, s.Writes)
		}
		// Each client's field holds the count of its own operations, so
		// the fields add up to all of them unless a merge lost a write.
		var sum float64
		for i := range clients {
			sum += doc[fmt.Sprintf("f%d", i)].(float64)
		}
		if sum != 200 {
			t.Errorf("the clients' fields add up to %v, want 200: %v", sum, doc)
		}
		if s.Merged == 0 {
			t.Errorf("no write was merged: %+v", s)
		}
	})
	t.Run("create", func(t *testing.T) {
		base := mustServe(t)
		s := runWorkload(t, base, "create", cfg, 100)
		info := getJSON(t, base+"/v1/collections/bench")
		if n := info["counts"].(map[string]any)["documents"].(float64); n != 100 || s.Writes != 100 {
			t.Errorf("%v documents after %d creates, want 100", n, s.Writes)
		}
	})
	t.Run("mixed", func(t *testing.T) {
		base := mustServe(t)
		s := runWorkload(t, base, "mixed", cfg, 200)
		if s.Reads == 0 || s.Writes == 0 || s.Reads+s.Writes != 200 {
			t.Errorf("reads %d writes %d, want both and 200 in all", s.Reads, s.Writes)
		}
		if got := versionsWritten(t, base, cfg.Docs); got != s.Writes {
			t.Errorf("the documents went through %d versions, the workload counted %d writes", got, s.Writes)
		}
	})
}

func TestTruceOnlyWorkloads(t *testing.T) {
	if n := len(loadgen.Specs()); n != 11 {
		t.Errorf("%d workloads, want the nine of issue 9, update-tuned and query", n)
	}
	for _, name := range []string{"update-tuned", "query", "merge-hot", "tx-transfer", "lock-cycle", "watch-fanout"} {
		s, ok := loadgen.Lookup(name)
		if !ok || s.New == nil || s.Generic {
			t.Fatalf("%s: %+v, want an available truce-only workload", name, s)
		}
		if _, err := s.New(fakeStore{}); err == nil || !strings.Contains(err.Error(), "truce") {
			t.Errorf("%s on another store: %v, want an error that it needs truce", name, err)
		}
	}
}

// fakeStore is a Store that is not truce.
type fakeStore struct{ loadgen.Store }

func TestPrepareReportsServerErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"code":"internal"}`, 500)
	}))
	defer srv.Close()
	target, err := loadgen.NewTruce(srv.URL, "bench", "", 1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = loadgen.Update(target).Prepare(context.Background(), loadgen.Config{Clients: 1, Docs: 1, DocSize: 100})
	if err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("Prepare against a failing server: %v, want the status", err)
	}
	if _, err := loadgen.NewTruce("127.0.0.1:8080", "bench", "", 1); err == nil {
		t.Error("NewTruce took a URL without a scheme")
	}
}

func TestChartAndJSON(t *testing.T) {
	base := mustServe(t)
	s := runWorkload(t, base, "read", loadgen.Config{Clients: 2, Docs: 1, DocSize: 100}, 100)
	r := loadgen.NewReport(s)
	r.Workload, r.Target = "read", base
	var svg bytes.Buffer
	if err := loadgen.WriteSVG(&svg, "a <title> & more", []loadgen.Series{{Label: "truce", Report: r}, {Label: "other", Report: r}}); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(&svg)
	polylines := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			polylines++
		}
	}
	if polylines != 6 { // per series: p50 and p99 over time, the percentile curve
		t.Errorf("%d polylines, want 6", polylines)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back loadgen.Report
	if err := json.Unmarshal(b, &back); err != nil || back.Ops != 100 || back.Latency.P99 != r.Latency.P99 {
		t.Errorf("JSON round trip: %v %+v", err, back)
	}
	var table bytes.Buffer
	if err := r.WriteTable(&table); err != nil || !strings.Contains(table.String(), "p99") {
		t.Errorf("table: %v\n%s", err, table.String())
	}
}
