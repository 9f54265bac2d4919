package main

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestGCPercent(t *testing.T) {
	for _, c := range []struct {
		live, headroom uint64
		want           int
	}{
		{0, 32 << 20, gcMaxPercent},
		{1 << 20, 32 << 20, gcMaxPercent}, // 3200% capped
		{4 << 20, 32 << 20, 800},
		{16 << 20, 32 << 20, 200},
		{32 << 20, 32 << 20, 100},
		{300 << 20, 32 << 20, 100}, // a large heap collects as with GOGC=100
	} {
		if got := gcPercent(c.live, c.headroom); got != c.want {
			t.Errorf("gcPercent(%d MB, %d MB) = %d, want %d", c.live>>20, c.headroom>>20, got, c.want)
		}
	}
}

// TestTuneGC: with this test's small heap the tuner raises GOGC above 100,
// and puts back the GOGC it found when it stops; with GOGC in the
// environment it leaves GOGC alone.
func TestTuneGC(t *testing.T) {
	t.Setenv("GOGC", "") // restored after the test
	os.Unsetenv("GOGC")
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); tuneGC(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for gogc(t) <= 100 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	raised := gogc(t)
	cancel()
	<-done
	if raised <= 100 {
		t.Errorf("GOGC stayed at %d with a small heap", raised)
	}
	if p := gogc(t); p != 100 {
		t.Errorf("after the tuner stopped GOGC is %d, want the 100 it found", p)
	}

	os.Setenv("GOGC", "100")
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	tuneGC(ctx) // returns at once
	if p := gogc(t); p != 100 {
		t.Errorf("with GOGC set the tuner changed GOGC to %d", p)
	}
}

// gogc reads the collector's current GOGC.
func gogc(t *testing.T) uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		t.Fatal("no /gc/gogc:percent metric")
	}
	return s[0].Value.Uint64()
}
