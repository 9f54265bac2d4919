package loadgen

import (
	"slices"
	"testing"
)

func TestAxes(t *testing.T) {
	for _, tc := range []struct {
		max   float64
		top   float64
		ticks int
	}{{10.02, 12, 7}, {10, 10, 11}, {0.4, 1, 2}, {59, 60, 7}, {300, 300, 11}} {
		top, ticks := timeTicks(tc.max)
		if top != tc.top || len(ticks) != tc.ticks || ticks[0] != 0 || ticks[len(ticks)-1] != top {
			t.Errorf("timeTicks(%v) = %v, %v; want top %v and %d ticks from 0", tc.max, top, ticks, tc.top, tc.ticks)
		}
	}
	for in, want := range map[float64]float64{0: 1, 0.9: 1, 1: 1, 1.1: 1.2, 219: 250, 3652: 4000, 12345: 15000} {
		if got := niceCeil(in); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", in, got, want)
		}
	}
	if !slices.Equal(linearTicks(10), []float64{0, 2, 4, 6, 8, 10}) {
		t.Errorf("linearTicks(10) = %v", linearTicks(10))
	}
}
