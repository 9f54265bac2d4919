package truce_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/trucedb/truce"
)

// TestAppendTime: the hand-written formatter writes what time's layout
// parser writes, for every year it handles itself and for those it hands
// back, in any location.
func TestAppendTime(t *testing.T) {
	east := time.FixedZone("east", 5*3600+30*60)
	times := []time.Time{
		{},
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 6, 1, 12, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 24, 3, 4, 5, 6_000_000, east), // 2026-11-23T21:34:05.006Z
		time.Date(2026, 1, 1, 0, 30, 0, 999_999, east),    // the previous year in UTC
		time.Now(),
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		times = append(times, time.Unix(r.Int64N(400*365*86400)-100*365*86400, r.Int64N(1e9)))
	}
	for _, tm := range times {
		want := tm.UTC().Format(truce.TimeLayout)
		if got := string(truce.AppendTime([]byte("x"), tm)); got != "x"+want {
			t.Fatalf("AppendTime(%v) = %q, want %q", tm, got[1:], want)
		}
	}
}

func BenchmarkAppendTime(b *testing.B) {
	tm := time.Now()
	buf := make([]byte, 0, 64)
	for b.Loop() {
		buf = truce.AppendTime(buf[:0], tm)
	}
}
