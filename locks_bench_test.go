package truce_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trucedb/truce"
)

// BenchmarkServiceLockCycles measures lock, write with the token, release
// through the Service, without HTTP: three durable commits a cycle. With
// one document every client queues for the same lock; with 1,000, clients
// rarely meet.
func BenchmarkServiceLockCycles(b *testing.B) {
	benchLockCycles(b, func(b *testing.B) []*truce.Service {
		svc, _ := mustService(b)
		return []*truce.Service{svc}
	})
}

// BenchmarkServiceLockCyclesShared is BenchmarkServiceLockCycles over a
// store that says it is shared, with the clients spread over two Services:
// the queue of waiting requests is in the store (lock_queue.go), so a
// request that waits costs a commit to join the queue and one that takes
// the lock from it.
func BenchmarkServiceLockCyclesShared(b *testing.B) {
	benchLockCycles(b, func(b *testing.B) []*truce.Service {
		nodes, _ := pebbleNodes(b, 2, truce.Options{})
		return nodes
	})
}

// benchLockCycles runs the lock cycles of clients spread over the Services
// that nodes makes for each sub-benchmark, client c on node c mod n.
func benchLockCycles(b *testing.B, nodes func(b *testing.B) []*truce.Service) {
	body := []byte(`{"title":"benchmark","n":1}`)
	for _, docs := range []int{1, 1000} {
		for _, clients := range []int{1, 16} {
			b.Run(fmt.Sprintf("docs=%d/clients=%d", docs, clients), func(b *testing.B) {
				svcs := nodes(b)
				ctx := context.Background()
				var next atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				start := time.Now()
				for c := range clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						svc := svcs[c%len(svcs)]
						for next.Add(1) <= int64(b.N) {
							id := fmt.Sprint("d", rand.IntN(docs))
							l, err := svc.Lock(ctx, truce.LockRequest{Collection: "bench", ID: id, TTL: 30 * time.Second, Wait: 30 * time.Second})
							if err != nil {
								b.Error(err)
								return
							}
							if _, err := svc.Put(ctx, "bench", id, body, truce.Precondition{LockToken: l.Token}, nil); err != nil {
								b.Error(err)
								return
							}
							if err := svc.Unlock(ctx, "bench", id, l.Token); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "cycles/s")
			})
		}
	}
}
