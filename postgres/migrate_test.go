package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/trucedb/truce/internal/pgtest"
	"github.com/trucedb/truce/postgres"
)

// TestMigrateConcurrently checks that nodes starting at once on an empty
// database all start, and create the schema once.
func TestMigrateConcurrently(t *testing.T) {
	url := pgtest.Start(t)
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			s, err := postgres.Open(context.Background(), url, postgres.Options{})
			if err != nil {
				t.Errorf("Open: %v", err)
				return
			}
			s.Close()
		})
	}
	wg.Wait()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var version, rows int
	if err := conn.QueryRow(context.Background(), "SELECT max(version), count(*) FROM truce.schema_version").Scan(&version, &rows); err != nil {
		t.Fatal(err)
	}
	if version != postgres.SchemaVersion() || rows != 1 {
		t.Errorf("schema_version holds %d rows, the highest %d; want 1 row, %d", rows, version, postgres.SchemaVersion())
	}
}

// TestSchemaTooNew checks that truce refuses a schema migrated by a newer
// truce, and leaves it alone.
func TestSchemaTooNew(t *testing.T) {
	url := pgtest.Start(t)
	mustOpen(t, url, "s").Close()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "UPDATE s.schema_version SET version = version + 1"); err != nil {
		t.Fatal(err)
	}
	s, err := postgres.Open(context.Background(), url, postgres.Options{Schema: "s"})
	if err == nil {
		s.Close()
		t.Fatal("Open of a schema migrated by a newer truce succeeded")
	}
	if !errors.Is(err, postgres.ErrSchemaTooNew) {
		t.Errorf("Open = %v, want ErrSchemaTooNew", err)
	}
	t.Log(err)
	var version int
	if err := conn.QueryRow(context.Background(), "SELECT version FROM s.schema_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version != postgres.SchemaVersion()+1 {
		t.Errorf("the refused schema's version became %d", version)
	}
}

// TestSynchronousCommitOn checks that truce's connections commit durably
// even when the URL turns synchronous_commit off.
func TestSynchronousCommitOn(t *testing.T) {
	url := pgtest.Start(t)
	for _, c := range []struct{ options, want string }{
		{"", "on"},
		{"&options=-c%20synchronous_commit%3Doff", "on"},
		{"&options=-c%20synchronous_commit%3Dremote_apply", "remote_apply"},
	} {
		s := mustOpen(t, url+c.options, "")
		got, err := postgres.Setting(s, "synchronous_commit")
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("synchronous_commit with %q in the URL = %s, want %s", c.options, got, c.want)
		}
		s.Close()
	}
}
