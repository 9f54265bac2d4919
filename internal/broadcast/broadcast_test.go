package broadcast

import (
	"sync"
	"testing"
	"time"
)

func TestSignal(t *testing.T) {
	var s Signal
	s.Notify() // nobody waits: nothing to wake, and the next Wait waits
	first := s.Wait()
	if s.Wait() != first {
		t.Fatal("two waits before a Notify got different channels")
	}
	select {
	case <-first:
		t.Fatal("closed before any Notify")
	default:
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { <-first })
	}
	s.Notify()
	wg.Wait() // every waiter woke
	next := s.Wait()
	select {
	case <-next:
		t.Fatal("a Wait after the Notify was woken by it")
	case <-time.After(10 * time.Millisecond):
	}
}
