package truce_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trucedb/truce"
)

// orderBody is the body of order j: a status among 10 and a total in
// [0, 10000) that depend on j only, and a note.
func orderBody(j int, note string) []byte {
	return fmt.Appendf(nil, `{"status":"s%d","total":%d,"title":"order number %d","note":%q}`, j*7%10, j*7919%10000, j, note)
}

// loadOrders fills collection with n documents (orderBody), 1000 to a
// commit.
func loadOrders(b *testing.B, svc *truce.Service, collection string, n int) {
	b.Helper()
	for i := 0; i < n; i += 1000 {
		var ops []truce.Op
		for j := i; j < min(i+1000, n); j++ {
			ops = append(ops, truce.Op{Kind: truce.OpPut, Collection: collection, ID: fmt.Sprintf("o%06d", j), Document: orderBody(j, "some text to make the document look like one")})
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
	clients, perClient := benchClients(), 500
	// Warm up: the first queries after the load race its flushes and
	// compactions; the figures are of the store at rest.
	for range 2000 {
		where, _ := json.Marshal(map[string]any{"status": "s1", "total": map[string]any{"$gte": 100}})
		if _, err := svc.Query(ctx, "orders", truce.Query{Where: where, Limit: 100}); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(2 * time.Second)
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
		b.ReportMetric(float64(percentile(all, 0.90).Microseconds())/1000, "p90-ms")
		b.ReportMetric(float64(percentile(all, 0.99).Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(percentile(all, 0.999).Microseconds())/1000, "p99.9-ms")
		b.ReportMetric(float64(len(all))/elapsed.Seconds(), "pages/s")
	}
}

// BenchmarkUpdateIndexes measures the cost of indexes to updates: 16
// writers replace random documents of 10,000 in collections with 0, 1 and
// 3 indexes, in rounds that take turns so that the machine's other load
// falls on all alike. In the "touch" collections every update changes every
// indexed value (each index deletes an entry and puts one: the worst
// case); in the "keep" ones updates change only a field no index names. It
// reports each one's median throughput and process CPU time per update,
// and both as ratios to the collection without indexes. Run it once:
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
	var names []string
	for _, mode := range []string{"touch", "keep"} {
		for _, ix := range []string{"i0", "i1", "i3"} {
			names = append(names, mode+"-"+ix)
		}
	}
	const docs, writers, rounds = 10000, 16, 5
	const turn = 2 * time.Second
	for _, name := range names {
		mustSettings(b, svc, name, truce.Settings{Indexes: indexes[name[len(name)-2:]]})
		loadOrders(b, svc, name, docs)
	}
	time.Sleep(2 * time.Second) // let the load's flushes settle
	b.ResetTimer()
	for range b.N {
		rates := map[string][]float64{}
		cpus := map[string][]float64{}
		for r := range rounds {
			for _, name := range names {
				touch := name[:5] == "touch"
				var mu sync.Mutex
				n := 0
				var wg sync.WaitGroup
				cpu0 := processCPU()
				start := time.Now()
				deadline := start.Add(turn)
				for w := range writers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						rnd := rand.New(rand.NewPCG(uint64(w), uint64(r)))
						k := 0
						for time.Now().Before(deadline) {
							j := rnd.IntN(docs)
							body := orderBody(j, fmt.Sprintf("note %d", rnd.IntN(1000000)))
							if touch {
								body = orderBody(rnd.IntN(docs), "some text to make the document look like one")
							}
							if _, err := svc.Put(ctx, name, fmt.Sprintf("o%06d", j), body, truce.Precondition{}, nil); err != nil {
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
				rates[name] = append(rates[name], float64(n)/time.Since(start).Seconds())
				cpus[name] = append(cpus[name], float64((processCPU()-cpu0).Microseconds())/float64(n))
			}
		}
		median := func(v []float64) float64 {
			slices.Sort(v)
			return v[len(v)/2]
		}
		for _, name := range names {
			base := name[:len(name)-2] + "i0"
			r, c := median(rates[name]), median(cpus[name])
			b.ReportMetric(r, "updates/s-"+name)
			b.ReportMetric(c, "cpu-us/update-"+name)
			if name != base {
				b.ReportMetric(r/median(rates[base]), "throughput-ratio-"+name)
				b.ReportMetric(c/median(cpus[base]), "cpu-ratio-"+name)
			}
		}
	}
}

// processCPU returns the CPU time the process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchClients is how many clients BenchmarkQueryIndexed runs: 16, or
// $TRUCE_BENCH_CLIENTS.
func benchClients() int {
	if n, err := strconv.Atoi(os.Getenv("TRUCE_BENCH_CLIENTS")); err == nil && n > 0 {
		return n
	}
	return 16
}
