package loadgen_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trucedb/truce/internal/loadgen"
)

// countingStore records the Puts of a seed: how many times each key was
// written, and the most Puts in flight at once.
type countingStore struct {
	loadgen.Store
	failAt string // a Put of this key fails

	mu       sync.Mutex
	puts     map[string]int
	inFlight atomic.Int32
	most     atomic.Int32
}

func (s *countingStore) Init(context.Context) error { return nil }

func (s *countingStore) Put(ctx context.Context, key string, doc []byte) error {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		most := s.most.Load()
		if n <= most || s.most.CompareAndSwap(most, n) {
			break
		}
	}
	time.Sleep(50 * time.Microsecond) // long enough for the writers to overlap
	if key == s.failAt {
		return errors.New("refused")
	}
	s.mu.Lock()
	s.puts[key]++
	s.mu.Unlock()
	return ctx.Err()
}

// TestSeedWritesEachDocumentOnce: the concurrent seed writes every
// document exactly once, with no more writers than clients (each client's
// connection), and a failed Put fails the seed.
func TestSeedWritesEachDocumentOnce(t *testing.T) {
	for _, clients := range []int{1, 4, 64} {
		s := &countingStore{puts: map[string]int{}}
		cfg := loadgen.Config{Clients: clients, Docs: 1000, DocSize: 64}
		if _, err := loadgen.Read(s).Prepare(context.Background(), cfg); err != nil {
			t.Fatalf("clients=%d: %v", clients, err)
		}
		for i := range cfg.Docs {
			if n := s.puts[fmt.Sprintf("d%d", i)]; n != 1 {
				t.Errorf("clients=%d: d%d written %d times, want once", clients, i, n)
			}
		}
		if len(s.puts) != cfg.Docs {
			t.Errorf("clients=%d: %d keys written, want %d", clients, len(s.puts), cfg.Docs)
		}
		if most := int(s.most.Load()); most > min(clients, 16) {
			t.Errorf("clients=%d: %d Puts in flight at once, want at most %d", clients, most, min(clients, 16))
		}
	}
	s := &countingStore{puts: map[string]int{}, failAt: "d500"}
	_, err := loadgen.Read(s).Prepare(context.Background(), loadgen.Config{Clients: 8, Docs: 1000, DocSize: 64})
	if err == nil || err.Error() != "seed d500: refused" {
		t.Errorf("seed with a failing Put: %v, want seed d500: refused", err)
	}
}
