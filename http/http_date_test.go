package http

import (
	"math/rand/v2"
	"net/http"
	"testing"
	"time"
)

// TestHTTPDate: httpDate writes what time.Format writes with
// http.TimeFormat, for the years it formats itself and for those it hands
// back, in any location; and net/http parses it back to the second.
func TestHTTPDate(t *testing.T) {
	east := time.FixedZone("east", 5*3600+30*60)
	times := []time.Time{
		{},
		time.Date(999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 30, 0, 0, east), // Wed, 31 Dec 2025 19:00:00 GMT
		time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC),
		time.Now(),
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 10000 {
		times = append(times, time.Unix(r.Int64N(200*365*86400)-50*365*86400, r.Int64N(1e9)))
	}
	for _, tm := range times {
		want := tm.UTC().Format(http.TimeFormat)
		got := httpDate(tm)
		if got != want {
			t.Fatalf("httpDate(%v) = %q, want %q", tm, got, want)
		}
		if y := tm.UTC().Year(); y < 1000 || y > 9999 {
			continue
		}
		if back, err := http.ParseTime(got); err != nil || !back.Equal(tm.UTC().Truncate(time.Second)) {
			t.Fatalf("http.ParseTime(%q) = %v, %v; want %v", got, back, err, tm.UTC().Truncate(time.Second))
		}
	}
}

// BenchmarkHTTPDate compares httpDate with time's layout parser, which it
// replaces for Last-Modified.
func BenchmarkHTTPDate(b *testing.B) {
	tm := time.Now()
	b.Run("httpDate", func(b *testing.B) {
		for b.Loop() {
			_ = httpDate(tm)
		}
	})
	b.Run("time.Format", func(b *testing.B) {
		for b.Loop() {
			_ = tm.UTC().Format(http.TimeFormat)
		}
	})
}
