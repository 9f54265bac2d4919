package http_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/trucedb/truce"
	trucehttp "github.com/trucedb/truce/http"
	"github.com/trucedb/truce/pebble"
)

// mustServeMetrics is mustServe with metrics, whose /metrics the returned
// client can read; opts.Metrics is filled in when nil.
func mustServeMetrics(tb testing.TB, opts trucehttp.Options) (*client, *trucehttp.Metrics) {
	tb.Helper()
	store, err := pebble.Open(tb.TempDir(), pebble.Options{})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	if opts.Metrics == nil {
		opts.Metrics = trucehttp.NewMetrics(trucehttp.MetricsOptions{})
	}
	if ok, err := opts.Metrics.RegisterStore(store); !ok || err != nil {
		tb.Fatalf("RegisterStore: %v, %v", ok, err)
	}
	svc := truce.NewService(store, truce.Options{MaxDocBytes: 64 << 10})
	srv := httptest.NewServer(checked(tb, trucehttp.NewHandler(svc, opts)))
	tb.Cleanup(func() {
		srv.Close()
		if err := store.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	return &client{tb: tb, base: srv.URL, hc: srv.Client()}, opts.Metrics
}

// scrape returns the lines of /metrics that are samples.
func scrape(tb testing.TB, c *client, headers ...string) []string {
	tb.Helper()
	r := c.do("GET", "/metrics", nil, headers...).want(tb, 200, "")
	var out []string
	for _, l := range strings.Split(string(r.Body), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// wantSample fails unless a sample line starts with prefix (name and
// labels) and has the value want ("" for any).
func wantSample(tb testing.TB, lines []string, prefix, want string) {
	tb.Helper()
	for _, l := range lines {
		if strings.HasPrefix(l, prefix+" ") {
			if got := strings.TrimPrefix(l, prefix+" "); want != "" && got != want {
				tb.Errorf("%s = %s, want %s", prefix, got, want)
			}
			return
		}
	}
	tb.Errorf("no sample %s", prefix)
}

func noSample(tb testing.TB, lines []string, substr string) {
	tb.Helper()
	for _, l := range lines {
		if strings.Contains(l, substr) {
			tb.Errorf("sample %q should not be there", l)
		}
	}
}

func TestMetricsConflicts(t *testing.T) {
	c, _ := mustServeMetrics(t, trucehttp.Options{})
	c.do("PUT", "/v1/collections/notes", `{"conflictPolicy":"merge"}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/plain", `{}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/notes/docs/n1", `{"a":1,"b":1}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/notes/docs/n1", `{"a":2,"b":1,"_version":1}`).want(t, 200, "")
	// A clean merge, then a merge conflict.
	c.do("PUT", "/v1/collections/notes/docs/n1", `{"a":1,"b":2,"_version":1}`).want(t, 200, "")
	c.do("PUT", "/v1/collections/notes/docs/n1", `{"a":3,"b":1,"_version":1}`).want(t, 409, "merge_conflict")
	c.do("PUT", "/v1/collections/plain/docs/p1", `{"x":1}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/plain/docs/p1", `{"x":2,"_version":7}`).want(t, 409, "version_conflict")
	c.do("PUT", "/v1/collections/plain/docs/p1", `{"x":2}`, `If-Match: "nope"`).want(t, 412, "precondition_failed")
	// A collection that does not exist is counted as _other, never by name.
	c.do("PUT", "/v1/collections/ghost/docs/g1", `{"x":2}`, `If-Match: "nope"`).want(t, 412, "precondition_failed")
	c.do("GET", "/v1/collections/plain/docs/p1", nil).want(t, 200, "")
	c.do("GET", "/v1/collections/plain/docs/p1", nil).want(t, 200, "")
	c.do("GET", "/v1/no/such/route", nil).want(t, 404, "not_found")

	m := scrape(t, c)
	wantSample(t, m, `truce_conflicts_total{code="merge_conflict",collection="notes"}`, "1")
	wantSample(t, m, `truce_conflicts_total{code="version_conflict",collection="plain"}`, "1")
	wantSample(t, m, `truce_conflicts_total{code="precondition_failed",collection="plain"}`, "1")
	wantSample(t, m, `truce_conflicts_total{code="precondition_failed",collection="_other"}`, "1")
	wantSample(t, m, `truce_merges_total{collection="notes",outcome="merged"}`, "1")
	wantSample(t, m, `truce_merges_total{collection="notes",outcome="conflict"}`, "1")
	noSample(t, m, "truce_recorded_conflicts_open{")
	wantSample(t, m, `truce_http_requests_total{method="GET",route="/v1/collections/{c}/docs/{id}",status="200"}`, "2")
	wantSample(t, m, `truce_http_requests_total{method="GET",route="_unmatched",status="404"}`, "1")
	wantSample(t, m, `truce_http_request_duration_seconds_count{method="PUT",route="/v1/collections/{c}/docs/{id}",status="409"}`, "2")
	wantSample(t, m, `truce_http_requests_in_flight`, "1") // the scrape itself
	wantSample(t, m, `truce_store_commit_seconds_count`, "")
	wantSample(t, m, `truce_pebble_l0_sublevels`, "")
	wantSample(t, m, `truce_store_wal_fsync_seconds_count`, "")
	wantSample(t, m, `go_goroutines`, "")
	noSample(t, m, "ghost")
	noSample(t, m, "p1")
	noSample(t, m, "/v1/no/such")
}

// Merges inside a batch and inside an interactive transaction count as
// merged, under the op's collection: a batch's once (not again when its
// Idempotency-Key answer is replayed), a staged write's when its
// transaction commits (not when it is staged, nor when it is rolled back).
func TestMetricsMergesInTransactions(t *testing.T) {
	c, _ := mustServeMetrics(t, trucehttp.Options{Metrics: trucehttp.NewMetrics(trucehttp.MetricsOptions{NoRuntime: true})})
	c.do("PUT", "/v1/collections/notes", `{"conflictPolicy":"merge"}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/notes/docs/n1", `{"a":1,"b":1}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/notes/docs/n1", `{"a":2,"b":1,"_version":1}`).want(t, 200, "")
	c.do("PUT", "/v1/collections/notes/docs/n2", `{"a":1}`).want(t, 201, "")

	// A batch of a merged op and a plain one, sent twice with one key.
	batch := `{"ops":[{"op":"put","collection":"notes","id":"n1","version":1,"document":{"a":1,"b":2}},{"op":"put","collection":"notes","id":"n2","document":{"a":2}}]}`
	r := c.do("POST", "/v1/tx", batch, "Idempotency-Key: b1").want(t, 200, "")
	if !strings.Contains(string(r.Body), `"merged":{"base":1,"current":2}`) {
		t.Fatalf("the batch's first op did not merge: %s", r.Body)
	}
	c.do("POST", "/v1/tx", batch, "Idempotency-Key: b1").want(t, 200, "")
	wantSample(t, scrape(t, c), `truce_merges_total{collection="notes",outcome="merged"}`, "1")

	// Staged merges: one rolled back, one committed.
	begin := func() string {
		r := c.do("POST", "/v1/transactions", `{"ttl":"30s"}`).want(t, 201, "")
		id, _ := r.JSON(t)["id"].(string)
		return id
	}
	rolled := begin()
	s := c.do("PUT", "/v1/collections/notes/docs/n1", `{"a":1,"b":1,"c":1,"_version":1}`, "Truce-Transaction: "+rolled).want(t, 202, "")
	if s.Header.Get("Truce-Merged") == "" {
		t.Fatalf("the staged write did not merge: %v %s", s.Header, s.Body)
	}
	c.do("DELETE", "/v1/transactions/"+rolled, nil).want(t, 204, "")
	committed := begin()
	c.do("PUT", "/v1/collections/notes/docs/n1", `{"a":1,"b":1,"c":1,"_version":1}`, "Truce-Transaction: "+committed).want(t, 202, "")
	wantSample(t, scrape(t, c), `truce_merges_total{collection="notes",outcome="merged"}`, "1")
	r = c.do("POST", "/v1/transactions/"+committed+"/commit", nil).want(t, 200, "")
	if !strings.Contains(string(r.Body), `"merged":{"base":1,"current":3}`) {
		t.Fatalf("the commit's op did not merge: %s", r.Body)
	}
	m := scrape(t, c)
	wantSample(t, m, `truce_merges_total{collection="notes",outcome="merged"}`, "2")
	noSample(t, m, `outcome="conflict"`)
}

func TestMetricsCollectionCap(t *testing.T) {
	c, _ := mustServeMetrics(t, trucehttp.Options{Metrics: trucehttp.NewMetrics(trucehttp.MetricsOptions{MaxCollections: 2, NoRuntime: true})})
	for _, name := range []string{"a", "b", "c"} {
		c.do("PUT", "/v1/collections/"+name+"/docs/d", `{"x":1}`).want(t, 201, "")
		c.do("PUT", "/v1/collections/"+name+"/docs/d", `{"x":1,"_version":5}`).want(t, 409, "version_conflict")
	}
	m := scrape(t, c)
	wantSample(t, m, `truce_conflicts_total{code="version_conflict",collection="a"}`, "1")
	wantSample(t, m, `truce_conflicts_total{code="version_conflict",collection="b"}`, "1")
	wantSample(t, m, `truce_conflicts_total{code="version_conflict",collection="_other"}`, "1")
	noSample(t, m, `collection="c"`)
	noSample(t, m, "go_goroutines")
}

func TestMetricsLocksTransactionsFeed(t *testing.T) {
	c, _ := mustServeMetrics(t, trucehttp.Options{})
	c.do("PUT", "/v1/collections/k/docs/d", `{"x":1}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/k/docs/e", `{"x":1}`).want(t, 201, "")
	c.do("POST", "/v1/collections/k/docs/d/lock", `{"ttl":"10s"}`).want(t, 201, "")
	c.do("POST", "/v1/collections/k/docs/d/lock", `{"ttl":"10s","wait":"10ms"}`).want(t, 423, "locked")
	c.do("PUT", "/v1/collections/k/docs/d", `{"x":2}`).want(t, 423, "locked")
	c.do("POST", "/v1/tx", `{"ops":[{"op":"create","collection":"k","document":{"y":1}},{"op":"create","collection":"k","document":{"y":2}}]}`).want(t, 200, "")
	c.do("POST", "/v1/tx", `{"ops":[{"op":"put","collection":"k","id":"e","version":9,"document":{"y":1}}]}`).want(t, 409, "version_conflict")
	c.do("GET", "/v1/changes?since=0", nil).want(t, 200, "")
	c.do("POST", "/v1/collections/k/docs", `{"x":1}`, "Idempotency-Key: k1").want(t, 201, "")
	c.do("POST", "/v1/collections/k/docs", `{"x":1}`, "Idempotency-Key: k1").want(t, 201, "")

	m := scrape(t, c)
	wantSample(t, m, `truce_lock_wait_seconds_count{outcome="acquired"}`, "1")
	wantSample(t, m, `truce_lock_wait_seconds_count{outcome="locked"}`, "1")
	wantSample(t, m, `truce_locks_held`, "1")
	wantSample(t, m, `truce_conflicts_total{code="locked",collection="k"}`, "2")
	wantSample(t, m, `truce_transactions_total{kind="batch",outcome="committed"}`, "1")
	wantSample(t, m, `truce_transactions_total{kind="batch",outcome="conflict"}`, "1")
	wantSample(t, m, `truce_transaction_ops_sum{kind="batch"}`, "2")
	wantSample(t, m, `truce_conflicts_total{code="version_conflict",collection="k"}`, "1")
	wantSample(t, m, `truce_feed_events_delivered_total{transport="longpoll"}`, "")
	wantSample(t, m, `truce_feed_lag_seconds_count`, "")
	wantSample(t, m, `truce_idempotent_replays_total`, "1")
}

// /metrics needs the admin scope on the API's listener.
func TestMetricsNeedsAdmin(t *testing.T) {
	s := mustAuthServer(t, trucehttp.Options{Metrics: trucehttp.NewMetrics(trucehttp.MetricsOptions{NoRuntime: true})})
	s.do("GET", "/metrics", nil).want(t, 401, "unauthorized")
	s.do("GET", "/metrics", nil, "Authorization: Bearer "+tokWriter).want(t, 403, "forbidden")
	m := scrape(t, s.client, "Authorization: Bearer "+tokAdmin)
	wantSample(t, m, `truce_http_requests_total{method="GET",route="/metrics",status="401"}`, "1")
	wantSample(t, m, `truce_http_requests_total{method="GET",route="/metrics",status="403"}`, "1")
}

func TestMetricsOff(t *testing.T) {
	c := mustServe(t)
	c.do("GET", "/metrics", nil).want(t, 404, "not_found")
}

func TestAccessLog(t *testing.T) {
	var buf strings.Builder
	log := slog.New(slog.NewJSONHandler(&lockedWriter{w: &buf}, nil))
	s := mustAuthServer(t, trucehttp.Options{Logger: log, AccessLog: true})
	s.do("PUT", "/v1/collections/orders/docs/o9", `{"x":1}`, "Authorization: Bearer "+tokWriter, "X-Request-Id: rid-1").want(t, 201, "")
	s.do("PUT", "/v1/collections/orders/docs/o9", `{"x":1,"_version":4}`, "Authorization: Bearer "+tokWriter, "X-Request-Id: rid-2").want(t, 409, "version_conflict")
	out := buf.String()
	for _, want := range []string{
		`"msg":"request","requestId":"rid-1","method":"PUT","route":"/v1/collections/{c}/docs/{id}","status":201,"code":"","duration":`,
		`"caller":"writer","collection":"orders","id":"o9","bytesIn":7,`,
		`"requestId":"rid-2","method":"PUT","route":"/v1/collections/{c}/docs/{id}","status":409,"code":"version_conflict"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the access log lacks %s:\n%s", want, out)
		}
	}
}

// lockedWriter serializes the writes of the server's goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Every truce metric is in the README's table, and the Grafana dashboard
// names only metrics that exist.
func TestMetricsDocumented(t *testing.T) {
	c, _ := mustServeMetrics(t, trucehttp.Options{})
	// Something for every vector to show.
	c.do("PUT", "/v1/collections/a", `{"conflictPolicy":"manual"}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/a/docs/d", `{"x":1}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/a/docs/d", `{"x":2,"_version":1}`).want(t, 200, "")
	c.do("PUT", "/v1/collections/a/docs/d", `{"x":3,"_version":1}`).want(t, 409, "merge_conflict")
	c.do("POST", "/v1/collections/a/docs/d/lock", `{}`).want(t, 201, "")
	c.do("POST", "/v1/tx", `{"ops":[{"op":"create","collection":"a","document":{"y":1}}]}`).want(t, 200, "")
	samples := scrape(t, c)
	wantSample(t, samples, `truce_recorded_conflicts_open{collection="a"}`, "1")
	wantSample(t, samples, `truce_recorded_conflicts_total{collection="a",event="opened"}`, "1")
	wantSample(t, samples, `truce_locks_held`, "1")
	r := c.do("GET", "/metrics", nil).want(t, 200, "")
	families := map[string]bool{}
	for _, l := range strings.Split(string(r.Body), "\n") {
		if name, ok := strings.CutPrefix(l, "# TYPE "); ok {
			name, _, _ = strings.Cut(name, " ")
			families[name] = true
		}
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range families {
		if strings.HasPrefix(name, "truce_") && !strings.Contains(string(readme), "`"+name+"`") {
			t.Errorf("README's metrics table lacks %s", name)
		}
	}
	dash, err := os.ReadFile("../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range regexp.MustCompile(`truce_[a-z0-9_]+`).FindAllString(string(dash), -1) {
		base := name
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			if b, ok := strings.CutSuffix(name, suffix); ok && (families[b] || postgresMetric(string(readme), b)) {
				base = b
			}
		}
		// The PostgreSQL store's own metrics are checked by its package's
		// TestMetrics, against the README rows that say "PostgreSQL:".
		if !families[base] && !postgresMetric(string(readme), base) {
			t.Errorf("the dashboard names %s, which the server does not export", name)
		}
	}
}

// postgresMetric reports whether the README's metrics table lists name in
// a row of the PostgreSQL store's metrics.
func postgresMetric(readme, name string) bool {
	for _, line := range strings.Split(readme, "\n") {
		if strings.Contains(line, "`"+name+"`") && strings.Contains(line, "| PostgreSQL:") {
			return true
		}
	}
	return false
}

// Counting a request allocates nothing: each route's children are found
// without a label lookup.
func TestMetricsNoAllocations(t *testing.T) {
	store, err := pebble.Open(t.TempDir(), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	svc := truce.NewService(store, truce.Options{})
	if _, err := svc.Put(context.Background(), "notes", "n1", []byte(`{"a":1}`), truce.Precondition{}, nil); err != nil {
		t.Fatal(err)
	}
	allocs := func(opts trucehttp.Options) float64 {
		h := trucehttp.NewHandler(svc, opts)
		req := httptest.NewRequest("GET", "/v1/collections/notes/docs/n1", nil)
		return testing.AllocsPerRun(200, func() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 200 {
				t.Fatalf("status %d", w.Code)
			}
		})
	}
	off := allocs(trucehttp.Options{})
	on := allocs(trucehttp.Options{Metrics: trucehttp.NewMetrics(trucehttp.MetricsOptions{NoRuntime: true})})
	if on > off {
		t.Errorf("a GET allocates %.1f times with metrics, %.1f without", on, off)
	}
}

// BenchmarkMetricsOverhead is the CPU a cached GET and a durable PUT cost
// with metrics and without, in the same process: the difference is what
// metrics add to each request. Run the halves alternately to compare
// (docs/benchmarks.md has the command).
func BenchmarkMetricsOverhead(b *testing.B) {
	store, err := pebble.Open(b.TempDir(), pebble.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	svc := truce.NewService(store, truce.Options{})
	if _, err := svc.Put(context.Background(), "notes", "n1", []byte(`{"a":1}`), truce.Precondition{}, nil); err != nil {
		b.Fatal(err)
	}
	handlers := map[string]*trucehttp.Handler{
		"off": trucehttp.NewHandler(svc, trucehttp.Options{}),
		"on":  trucehttp.NewHandler(svc, trucehttp.Options{Metrics: trucehttp.NewMetrics(trucehttp.MetricsOptions{NoRuntime: true})}),
	}
	for _, method := range []string{"GET", "PUT"} {
		for _, mode := range []string{"off", "on"} {
			h := handlers[mode]
			b.Run(method+"/"+mode, func(b *testing.B) {
				b.ReportAllocs()
				cpu := processCPU()
				for b.Loop() {
					var body io.Reader
					if method == "PUT" {
						body = strings.NewReader(`{"a":2}`)
					}
					req := httptest.NewRequest(method, "/v1/collections/notes/docs/n1", body)
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req)
					if w.Code != 200 {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
				}
				// CPU time, unlike ns/op, does not grow when other processes
				// take the cores.
				b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// The Handler counts a body's bytes through a wrapper, and gives the
// caller its request back as it was.
func TestMetricsRequestBodyRestored(t *testing.T) {
	store, err := pebble.Open(t.TempDir(), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	h := trucehttp.NewHandler(truce.NewService(store, truce.Options{}), trucehttp.Options{Metrics: trucehttp.NewMetrics(trucehttp.MetricsOptions{NoRuntime: true})})
	req := httptest.NewRequest("PUT", "/v1/collections/notes/docs/n1", strings.NewReader(`{"a":1}`))
	body := req.Body
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 201 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if req.Body != body {
		t.Errorf("the request's Body is %T, not the one it came with", req.Body)
	}
}
