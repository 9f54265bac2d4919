package main

import (
	"context"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/client"
	trucehttp "github.com/trucedb/truce/http"
	"github.com/trucedb/truce/pebble"
)

// serve starts a real truce server over a Pebble store in a temporary
// directory, in this process.
func serve(t *testing.T) string {
	t.Helper()
	store, err := pebble.Open(t.TempDir(), pebble.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	srv := httptest.NewServer(trucehttp.NewHandler(truce.NewService(store, truce.Options{}), trucehttp.Options{}))
	t.Cleanup(func() {
		srv.Close()
		if err := store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return srv.URL
}

func TestRun(t *testing.T) {
	url := serve(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	n, err := run(ctx, url, 4, 10)
	if err != nil {
		t.Fatal(err)
	}
	if n != 40 {
		t.Fatalf("count = %d, want 40", n)
	}
	// A second run continues from the stored value.
	if n, err = run(ctx, url, 2, 5); err != nil || n != 50 {
		t.Fatalf("second run: count = %d, %v; want 50", n, err)
	}
}

// 32 goroutines × 50 Update calls on one document: every increment lands
// exactly once, and every write is one version.
func TestContention(t *testing.T) {
	const goroutines, each = 32, 50
	if testing.Short() {
		t.Skip("contention test skipped in -short mode")
	}
	url := serve(t)
	// A bound on the test, not an assertion about its speed.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	// Count the calls to fn, to show that conflicts happened and were
	// retried.
	var calls atomic.Int64
	c, err := client.New(url)
	if err != nil {
		t.Fatal(err)
	}
	done, err := increment(ctx, c, goroutines, each, &calls)
	if err != nil {
		t.Fatalf("after %d increments: %v", done, err)
	}
	if done != goroutines*each {
		t.Fatalf("%d increments succeeded, want %d", done, goroutines*each)
	}
	d, err := c.Get(ctx, collection, counterID)
	if err != nil {
		t.Fatal(err)
	}
	var v counter
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	if v.Count != goroutines*each {
		t.Errorf("count = %d, want %d", v.Count, goroutines*each)
	}
	// Created at version 1 by the first increment, one version per
	// increment after that.
	if d.Version != goroutines*each {
		t.Errorf("version = %d, want %d", d.Version, goroutines*each)
	}
	t.Logf("%d increments, %d calls of the update function (%d re-applied after a conflict)",
		done, calls.Load(), calls.Load()-int64(done))
}
