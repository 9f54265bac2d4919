package client_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trucedb/truce/client"
)

// BenchmarkTransactionTransfers measures committed transfers per second with
// client.RunTransaction (read two accounts, write both, create a ledger entry) from
// 16 and 64 concurrent clients over 10 accounts, and the conflicts that
// RunTransaction retried per committed transfer.
func BenchmarkTransactionTransfers(b *testing.B) {
	for _, clients := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			c := mustClient(b, mustServe(b))
			ctx := testCtx(b)
			for i := range 10 {
				if _, err := c.Put(ctx, "bank", fmt.Sprint("acc", i), account{1000}); err != nil {
					b.Fatal(err)
				}
			}
			var next, conflicts atomic.Int64
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for w := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(w), 1))
					for next.Add(1) <= int64(b.N) {
						from, to := rng.IntN(10), rng.IntN(9)
						if to >= from {
							to++
						}
						runs := 0
						err := c.RunTransactionWith(ctx, client.TransactionOptions{Attempts: 1000}, func(tx *client.Transaction) error {
							runs++
							fa, err := readAccount(ctx, tx, from)
							if err != nil {
								return err
							}
							ta, err := readAccount(ctx, tx, to)
							if err != nil {
								return err
							}
							if _, err := tx.Put(ctx, "bank", fmt.Sprint("acc", from), account{fa - 1}); err != nil {
								return err
							}
							if _, err := tx.Put(ctx, "bank", fmt.Sprint("acc", to), account{ta + 1}); err != nil {
								return err
							}
							_, err = tx.Create(ctx, "ledger", map[string]any{"from": from, "to": to, "amount": 1})
							return err
						})
						if err != nil {
							b.Error(err)
							return
						}
						conflicts.Add(int64(runs - 1))
					}
				}()
			}
			wg.Wait()
			el := time.Since(start)
			b.ReportMetric(float64(b.N)/el.Seconds(), "transfers/s")
			b.ReportMetric(float64(conflicts.Load())/float64(b.N), "retries/transfer")
		})
	}
}

// BenchmarkBatch10 measures batch commits per second: 16 clients each
// send batches of 10 puts to their own documents.
func BenchmarkBatch10(b *testing.B) {
	c := mustClient(b, mustServe(b))
	ctx := testCtx(b)
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := next.Add(1); n <= int64(b.N); n = next.Add(1) {
				var batch client.Batch
				for i := range 10 {
					batch.Put("items", fmt.Sprintf("w%d-%d", w, i), map[string]any{"n": n})
				}
				if _, err := c.Batch(ctx, &batch); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "batches/s")
}
