package pgtest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/trucedb/truce/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func mustConnect(tb testing.TB, url string) *pgx.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatalf("connect to %s: %v", url, err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestStartWriteRead(t *testing.T) {
	ctx := context.Background()
	conn := mustConnect(t, pgtest.Start(t))
	if _, err := conn.Exec(ctx, `CREATE TABLE docs (id text PRIMARY KEY, doc jsonb NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO docs VALUES ($1, $2)`, "a", `{"n": 1}`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRow(ctx, `SELECT (doc->>'n')::int FROM docs WHERE id = $1`, "a").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("read n = %d, want 1", n)
	}
}

// The durability the PostgreSQL store promises is only tested if the
// server under the tests keeps it.
func TestStartFsyncOn(t *testing.T) {
	conn := mustConnect(t, pgtest.Start(t))
	var fsync string
	if err := conn.QueryRow(context.Background(), `SHOW fsync`).Scan(&fsync); err != nil {
		t.Fatal(err)
	}
	if fsync != "on" {
		t.Errorf("fsync = %q, want on", fsync)
	}
}

func TestStartIsolated(t *testing.T) {
	ctx := context.Background()
	urlA, urlB := pgtest.Start(t), pgtest.Start(t)
	if urlA == urlB {
		t.Fatalf("two Start calls gave the same database %s", urlA)
	}
	a, b := mustConnect(t, urlA), mustConnect(t, urlB)
	if _, err := a.Exec(ctx, `CREATE TABLE only_a (x int)`); err != nil {
		t.Fatal(err)
	}
	_, err := b.Exec(ctx, `SELECT x FROM only_a`)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42P01" { // undefined_table
		t.Errorf("reading a's table from b's database: err = %v, want undefined_table", err)
	}
}

// Parallel tests share the server; each gets its own database.
func TestStartParallel(t *testing.T) {
	for _, name := range []string{"one", "two", "three", "four"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			conn := mustConnect(t, pgtest.Start(t))
			if _, err := conn.Exec(ctx, `CREATE TABLE t (name text)`); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Exec(ctx, `INSERT INTO t VALUES ($1)`, name); err != nil {
				t.Fatal(err)
			}
			rows, _ := conn.Query(ctx, `SELECT name FROM t`)
			got, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0] != name {
				t.Errorf("rows = %q, want [%q]", got, name)
			}
		})
	}
}
