package http

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/pebble"
)

// BenchmarkShed measures what truce's handler spends on a request it
// sheds past --max-inflight (not net/http's reading and writing of it),
// with metrics on, as truce serve runs.
func BenchmarkShed(b *testing.B) {
	store, err := pebble.Open(b.TempDir(), pebble.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	h := NewHandler(truce.NewService(store, truce.Options{}), Options{MaxInflight: 1, Metrics: NewMetrics(MetricsOptions{})})
	if !h.admission.Enter() { // full
		b.Fatal("the one place was taken")
	}
	body := `{"pad":"` + strings.Repeat("x", 1014) + `"}`
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("PUT", "/v1/collections/bench/docs/d17", strings.NewReader(body)))
		if rec.Code != 503 {
			b.Fatalf("answered %d", rec.Code)
		}
	}
}
