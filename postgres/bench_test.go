package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/trucedb/truce"
	"github.com/trucedb/truce/internal/pgtest"
	"github.com/trucedb/truce/postgres"
)

// benchBody is a JSON object of about 1 KiB.
var benchBody = []byte(`{"title":"benchmark","text":"` + strings.Repeat("lorem ipsum ", 80) + `"}`)

// BenchmarkUpdate compares, on one PostgreSQL server and with the same
// number of clients, each updating a document of its own, a conditional
// replace through truce (Service.Get, then Service.Put with If-Match, on
// this Store) with the hand-written pattern it replaces: SELECT doc,
// version, then UPDATE … SET doc = $1, version = version + 1 WHERE id = $2
// AND version = $3, each statement its own transaction. It reports both
// throughputs and truce's as a share of the hand-written one's. Run it with
//
//	go test -run '^$' -bench Update -benchtime 3000x ./postgres/
func BenchmarkUpdate(b *testing.B) {
	url := pgtest.Start(b)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url+"&pool_max_conns=64")
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, "CREATE TABLE docs (id text PRIMARY KEY, doc jsonb NOT NULL, version bigint NOT NULL)"); err != nil {
		b.Fatal(err)
	}
	store, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 64})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	svc := truce.NewService(store, truce.Options{})

	for _, clients := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			for g := range clients {
				id := fmt.Sprint("d", g)
				if _, err := svc.Put(ctx, "bench", id, benchBody, truce.Precondition{}, nil); err != nil {
					b.Fatal(err)
				}
				if _, err := pool.Exec(ctx, "INSERT INTO docs VALUES ($1, $2, 1) ON CONFLICT DO NOTHING", id, benchBody); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			truceRate := run(b, clients, func(id string) error {
				d, err := svc.Get(ctx, "bench", id)
				if err != nil {
					return err
				}
				_, err = svc.Put(ctx, "bench", id, benchBody, truce.Precondition{IfMatch: []string{d.ETag()}}, nil)
				return err
			})
			pgRate := run(b, clients, func(id string) error {
				var doc []byte
				var version int64
				if err := pool.QueryRow(ctx, "SELECT doc, version FROM docs WHERE id = $1", id).Scan(&doc, &version); err != nil {
					return err
				}
				tag, err := pool.Exec(ctx, "UPDATE docs SET doc = $1, version = version + 1 WHERE id = $2 AND version = $3",
					benchBody, id, version)
				if err == nil && tag.RowsAffected() != 1 {
					err = fmt.Errorf("lost the race for %s", id)
				}
				return err
			})
			b.ReportMetric(truceRate, "truce-ops/s")
			b.ReportMetric(pgRate, "sql-ops/s")
			b.ReportMetric(100*truceRate/pgRate, "truce-%")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// run makes b.N calls of op, spread over clients goroutines each with a
// document of its own, and returns the calls per second.
func run(b *testing.B, clients int, op func(id string) error) float64 {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for g := range clients {
		wg.Go(func() {
			id := fmt.Sprint("d", g)
			for next.Add(1) <= int64(b.N) {
				if err := op(id); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return float64(b.N) / time.Since(start).Seconds()
}

