package loadgen_test

import (
	"encoding/xml"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	trucehttp "github.com/trucedb/truce/http"
	"github.com/trucedb/truce/internal/loadgen"
)

// TestOverload runs a short overload run against a server that takes two
// requests at once: every request sent is accounted for as acknowledged,
// shed (503 overloaded) or an error, none is an error, and the table and
// the chart show every load.
func TestOverload(t *testing.T) {
	srv := httptest.NewServer(mustHandler(t, trucehttp.Options{MaxInflight: 2}))
	t.Cleanup(srv.Close)
	rep, err := loadgen.Overload(t.Context(), loadgen.OverloadOptions{Base: srv.URL, Collection: "ov", Docs: 10, DocSize: 100,
		Clients: 2, Step: 300 * time.Millisecond, Multiples: []float64{0.5, 4}, Conns: 8})
	if err != nil {
		t.Fatal(err)
	}
	if rep.CapacityPerSec <= 0 || len(rep.Steps) != 2 {
		t.Fatalf("report: %+v", rep)
	}
	for _, s := range rep.Steps {
		if s.Sent == 0 || s.OK+s.Shed+s.Errors != s.Sent || s.Errors != 0 || s.Dropped != 0 || s.Late > s.Sent {
			t.Fatalf("%g×: %+v", s.Multiple, s)
		}
	}
	var b strings.Builder
	if err := rep.WriteTable(&b); err != nil || !strings.Contains(b.String(), "0.5×") || !strings.Contains(b.String(), "4×") {
		t.Fatalf("table: %v\n%s", err, b.String())
	}
	b.Reset()
	if err := loadgen.WriteOverloadSVG(&b, "overload <test>", []loadgen.OverloadSeries{{Label: "a", Report: rep}, {Label: "b", Report: rep}}); err != nil {
		t.Fatal(err)
	}
	svg := b.String()
	if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
		t.Fatalf("chart is not XML: %v\n%s", err, svg)
	}
	// Per run: goodput, shed, p99, p50, and the capacity and unloaded p99.
	if n := strings.Count(svg, "<polyline"); n != 2*6 {
		t.Errorf("chart has %d lines, want 12", n)
	}
}

// TestOverloadCapacity: with Capacity given, the run offers that capacity
// times each multiple instead of measuring one, so that two servers run
// side by side are offered the same rates.
func TestOverloadCapacity(t *testing.T) {
	srv := httptest.NewServer(mustHandler(t, trucehttp.Options{MaxInflight: 2, AdaptiveInflight: true}))
	t.Cleanup(srv.Close)
	rep, err := loadgen.Overload(t.Context(), loadgen.OverloadOptions{Base: srv.URL, Collection: "ov", Docs: 10, DocSize: 100,
		Clients: 2, Step: 300 * time.Millisecond, Multiples: []float64{0.5, 2}, Conns: 8, Capacity: 400})
	if err != nil {
		t.Fatal(err)
	}
	if rep.CapacityPerSec != 400 || rep.CapacityP99Ms != 0 || len(rep.Steps) != 2 {
		t.Fatalf("report: %+v", rep)
	}
	for i, want := range []float64{200, 800} {
		if s := rep.Steps[i]; s.OfferedPerSec != want || s.Sent == 0 || s.OK+s.Shed+s.Errors != s.Sent || s.Errors != 0 {
			t.Fatalf("%g×: offered %g, want %g: %+v", s.Multiple, s.OfferedPerSec, want, s)
		}
	}
}
