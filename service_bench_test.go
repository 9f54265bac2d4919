package truce_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/pebble"
)

// BenchmarkServiceIfMatchUpdate measures Get then Put with If-Match of a
// ~1 KiB document through the Service, without HTTP, one document per
// client.
func BenchmarkServiceIfMatchUpdate(b *testing.B) {
	body := []byte(`{"title":"benchmark","text":"` + strings.Repeat("lorem ipsum ", 80) + `"}`)
	for _, clients := range []int{1, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			store, err := pebble.Open(b.TempDir(), pebble.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			svc := truce.NewService(store, truce.Options{})
			ctx := context.Background()
			for g := 0; g < clients; g++ {
				if _, err := svc.Put(ctx, "bench", fmt.Sprint("d", g), body, truce.Precondition{}, nil); err != nil {
					b.Fatal(err)
				}
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for g := 0; g < clients; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					id := fmt.Sprint("d", g)
					for next.Add(1) <= int64(b.N) {
						d, err := svc.Get(ctx, "bench", id)
						if err != nil {
							b.Error(err)
							return
						}
						if _, err := svc.Put(ctx, "bench", id, body, truce.Precondition{IfMatch: []string{d.ETag()}}, nil); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
		})
	}
}

// BenchmarkGetMany reads 100 ~1 KiB documents through the Service: one
// GetMany (one snapshot) against 100 Gets.
func BenchmarkGetMany(b *testing.B) {
	body := []byte(`{"title":"benchmark","text":"` + strings.Repeat("lorem ipsum ", 80) + `"}`)
	store, err := pebble.Open(b.TempDir(), pebble.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	svc := truce.NewService(store, truce.Options{})
	ctx := context.Background()
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = fmt.Sprintf("d%03d", i)
		if _, err := svc.Put(ctx, "bench", ids[i], body, truce.Precondition{}, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("GetMany", func(b *testing.B) {
		for b.Loop() {
			if _, err := svc.GetMany(ctx, "bench", ids); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Get100", func(b *testing.B) {
		for b.Loop() {
			for _, id := range ids {
				if _, err := svc.Get(ctx, "bench", id); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
