package postgres_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"testing"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/internal/pgtest"
	"github.com/trucedb/truce/postgres"
	"github.com/trucedb/truce/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// mustOpen opens a store on url in schema and fails the test if it cannot;
// the store is closed when the test ends unless the test closed it.
func mustOpen(tb testing.TB, url, schema string) *postgres.Store {
	tb.Helper()
	s, err := postgres.Open(context.Background(), url, postgres.Options{Schema: schema, MaxConns: 8})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// TestStore runs the conformance suite with one database for the whole
// suite and one schema per directory the suite names, so that reopening a
// directory finds its data again.
func TestStore(t *testing.T) {
	url := pgtest.Start(t)
	var mu sync.Mutex
	schemas := map[string]string{}
	storetest.Run(t, func(t *testing.T, dir string) truce.Store {
		mu.Lock()
		schema, ok := schemas[dir]
		if !ok {
			sum := sha256.Sum256([]byte(dir))
			schema = "t_" + hex.EncodeToString(sum[:8])
			schemas[dir] = schema
		}
		mu.Unlock()
		s, err := postgres.Open(context.Background(), url, postgres.Options{Schema: schema, MaxConns: 40})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}
