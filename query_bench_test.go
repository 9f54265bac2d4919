package truce_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/trucedb/truce"
)

// loadOrders fills collection with n documents, 1000 to a commit: a status
// among 10 and a total in [0, 10000).
func loadOrders(b *testing.B, svc *truce.Service, collection string, n int) {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < n; i += 1000 {
		var ops []truce.Op
		for j := i; j < min(i+1000, n); j++ {
			body := fmt.Sprintf(`{"status":"s%d","total":%d,"title":"order number %d","note":"some text to make the document look like one"}`, r.IntN(10), r.IntN(10000), j)
			ops = append(ops, truce.Op{Kind: truce.OpPut, Collection: collection, ID: fmt.Sprintf("o%06d", j), Document: []byte(body)})
		}
		if _, err := svc.Batch(context.Background(), ops, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

// BenchmarkQueryIndexed measures an indexed equality + range query that
// returns a page of 100 documents, on 100,000 documents, from 16 clients
// with no writers, through the Service (no HTTP). It reports the p50 and
// p99 latency of a page. Run it once:
//
//	go test -run '^$' -bench BenchmarkQueryIndexed -benchtime 1x .
func BenchmarkQueryIndexed(b *testing.B) {
	svc, _ := mustService(b)
	ctx := context.Background()
	mustSettings(b, svc, "orders", truce.Settings{Indexes: [][]string{{"status", "total"}}})
	loadOrders(b, svc, "orders", 100000)
	const clients, perClient = 16, 500
	b.ResetTimer()
	for range b.N {
		lat := make([][]time.Duration, clients)
		var wg sync.WaitGroup
		start := time.Now()
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(c), 2))
				for range perClient {
					where, _ := json.Marshal(map[string]any{"status": fmt.Sprintf("s%d", r.IntN(10)), "total": map[string]any{"$gte": r.IntN(8000)}})
					t0 := time.Now()
					page, err := svc.Query(ctx, "orders", truce.Query{Where: where, OrderBy: []truce.OrderBy{{Field: "total"}}, Limit: 100})
					lat[c] = append(lat[c], time.Since(t0))
					if err != nil || len(page.Items) != 100 || page.Scanned {
						b.Errorf("query: %v, %d items", err, len(page.Items))
						return
					}
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		all := slices.Concat(lat...)
		slices.Sort(all)
		b.ReportMetric(float64(percentile(all, 0.50).Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(percentile(all, 0.99).Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(len(all))/elapsed.Seconds(), "pages/s")
	}
}

// BenchmarkUpdateIndexes measures the throughput of updates (16 writers
// replacing random documents of 10,000) on collections with 0, 1 and 3
// indexes, one after the other in one run, and reports each with an index
// as a ratio of the one without. Run it once:
//
//	go test -run '^$' -bench BenchmarkUpdateIndexes -benchtime 1x .
func BenchmarkUpdateIndexes(b *testing.B) {
	svc, _ := mustService(b)
	ctx := context.Background()
	indexes := map[string][][]string{
		"i0": nil,
		"i1": {{"status", "total"}},
		"i3": {{"status", "total"}, {"total"}, {"title"}},
	}
	const docs, writers = 10000, 16
	duration := 5 * time.Second
	for name, ix := range indexes {
		mustSettings(b, svc, name, truce.Settings{Indexes: ix})
		loadOrders(b, svc, name, docs)
	}
	b.ResetTimer()
	for range b.N {
		rate := map[string]float64{}
		for _, name := range []string{"i0", "i1", "i3", "i0"} { // i0 twice: the drift of the machine
			var mu sync.Mutex
			n := 0
			var wg sync.WaitGroup
			deadline := time.Now().Add(duration)
			start := time.Now()
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := rand.New(rand.NewPCG(uint64(w), 3))
					k := 0
					for time.Now().Before(deadline) {
						body := fmt.Sprintf(`{"status":"s%d","total":%d,"title":"order number %d","note":"some text to make the document look like one"}`, r.IntN(10), r.IntN(10000), r.IntN(docs))
						if _, err := svc.Put(ctx, name, fmt.Sprintf("o%06d", r.IntN(docs)), []byte(body), truce.Precondition{}, nil); err != nil {
							b.Error(err)
							return
						}
						k++
					}
					mu.Lock()
					n += k
					mu.Unlock()
				}()
			}
			wg.Wait()
			r := float64(n) / time.Since(start).Seconds()
			if name == "i0" && rate["i0"] > 0 {
				rate["i0"] = (rate["i0"] + r) / 2
			} else {
				rate[name] = r
			}
		}
		b.ReportMetric(rate["i0"], "updates/s-0idx")
		b.ReportMetric(rate["i1"], "updates/s-1idx")
		b.ReportMetric(rate["i3"], "updates/s-3idx")
		b.ReportMetric(rate["i1"]/rate["i0"], "ratio-1idx")
		b.ReportMetric(rate["i3"]/rate["i0"], "ratio-3idx")
	}
}
