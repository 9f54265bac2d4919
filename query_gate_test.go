package truce

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestQueryGate: however many goroutines query at once, no more pages run
// than the gate admits, every one gets its turn, and a page whose context
// ends while it waits leaves without a turn.
func TestQueryGate(t *testing.T) {
	g := newQueryGate()
	if want := min(runtime.GOMAXPROCS(0), runtime.NumCPU()); cap(g) != want {
		t.Fatalf("gate admits %d, want %d", cap(g), want)
	}
	var running, most, done atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if err := g.enter(context.Background()); err != nil {
					t.Error(err)
					return
				}
				n := running.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				runtime.Gosched()
				running.Add(-1)
				g.leave()
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if most.Load() > int64(cap(g)) || done.Load() != 64*50 {
		t.Fatalf("at most %d pages ran at once (gate %d), %d of %d ran", most.Load(), cap(g), done.Load(), 64*50)
	}

	for range cap(g) {
		if err := g.enter(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	waited := make(chan error)
	go func() { waited <- g.enter(ctx) }()
	cancel()
	if err := <-waited; !errors.Is(err, context.Canceled) {
		t.Fatalf("enter on a full gate with its context ended: %v, want context.Canceled", err)
	}
	if len(g) != cap(g) {
		t.Fatalf("a page that gave up holds a turn: %d of %d taken", len(g), cap(g))
	}
}
