package postgres_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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
			cpu0 := readCPU()
			truceRate := run(b, clients, func(id string) error {
				d, err := svc.Get(ctx, "bench", id)
				if err != nil {
					return err
				}
				_, err = svc.Put(ctx, "bench", id, benchBody, truce.Precondition{IfMatch: []string{d.ETag()}}, nil)
				return err
			})
			cpu1 := readCPU()
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
			cpu2 := readCPU()
			n := float64(b.N)
			b.ReportMetric(truceRate, "truce-ops/s")
			b.ReportMetric(pgRate, "sql-ops/s")
			b.ReportMetric(100*truceRate/pgRate, "truce-%")
			b.ReportMetric((cpu1.server-cpu0.server).Seconds()*1e6/n, "truce-µs-pg-cpu/op")
			b.ReportMetric((cpu2.server-cpu1.server).Seconds()*1e6/n, "sql-µs-pg-cpu/op")
			b.ReportMetric((cpu1.self-cpu0.self).Seconds()*1e6/n, "truce-µs-go-cpu/op")
			b.ReportMetric((cpu2.self-cpu1.self).Seconds()*1e6/n, "sql-µs-go-cpu/op")
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

// cpuTimes are CPU times used so far: by this process (the truce node, or
// the hand-written client), and by the PostgreSQL server that pgtest
// started as its child (every process of it).
type cpuTimes struct{ self, server time.Duration }

// readCPU reads cpuTimes from /proc; the server's time is 0 when the tests
// use a server they did not start (pgtest.EnvVar).
func readCPU() cpuTimes {
	var c cpuTimes
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		c.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	// The postmaster is a child of this process; its backends are its
	// children.
	parents := map[int]bool{os.Getpid(): true}
	entries, _ := os.ReadDir("/proc")
	type proc struct {
		ppid  int
		ticks int64
	}
	procs := map[int]proc{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The fields after the command's closing parenthesis: state ppid …
		// utime is the 14th field of the line, stime the 15th.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		procs[pid] = proc{ppid, ut + st}
	}
	for range 2 { // the postmaster, then its children
		for pid, p := range procs {
			if parents[p.ppid] {
				parents[pid] = true
			}
		}
	}
	for pid, p := range procs {
		if pid != os.Getpid() && parents[pid] {
			c.server += time.Duration(p.ticks) * time.Second / 100 // USER_HZ
		}
	}
	return c
}
