package pebble_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/trucedb/truce"
)

// The benchmarks report ops/s over all goroutines. Run them with
//
//	go test -run '^$' -bench . -benchtime 5000x ./pebble/

const benchDocs = 1000

var benchIDs = func() []string {
	ids := make([]string, benchDocs)
	for i := range ids {
		ids[i] = fmt.Sprintf("doc-%04d", i)
	}
	return ids
}()

func benchID(i int64) string { return benchIDs[i%benchDocs] }

// benchBody is a 1 KiB JSON object.
var benchBody = []byte(`{"title":"benchmark","text":"` + strings.Repeat("x", 1024-32) + `"}`)

// write is what a document write does to the store: read the collection
// and the current document, allocate a seq, write the new version and its
// event.
func write(tx truce.Tx, id string) error {
	if _, err := tx.Collection("bench"); err != nil {
		return err
	}
	var version int64
	cur, err := tx.Document("bench", id)
	switch {
	case err == nil:
		version = cur.Version
	case err != truce.ErrNoRecord:
		return err
	}
	seq, err := tx.NextSeq()
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	d := &truce.Document{Collection: "bench", ID: id, Version: version + 1, Seq: seq,
		CreatedAt: now, UpdatedAt: now, Body: benchBody}
	if err := tx.PutDocument(d); err != nil {
		return err
	}
	return tx.AppendEvent(&truce.Event{Seq: seq, Type: truce.EventDocumentUpdated, Collection: "bench",
		ID: id, Version: d.Version, ETag: d.ETag(), Time: now, Document: d.AppendJSON(nil)})
}

// parallel runs op b.N times over p goroutines and reports ops/s.
func parallel(b *testing.B, p int, op func(i int64) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range p {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				if err := op(i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
}

func benchStore(b *testing.B) truce.Store {
	return benchStoreAt(b, b.TempDir())
}

// benchStoreAt is benchStore in dir.
func benchStoreAt(b *testing.B, dir string) truce.Store {
	s := mustOpen(b, dir)
	b.Cleanup(func() { s.Close() })
	ctx := context.Background()
	err := s.Update(ctx, func(tx truce.Tx) error {
		if err := tx.PutCollection(&truce.Collection{Name: "bench"}); err != nil {
			return err
		}
		for i := range int64(benchDocs) {
			if err := write(tx, benchID(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkUpdate measures durable single-document writes.
func BenchmarkUpdate(b *testing.B) {
	for _, p := range []int{1, 64} {
		b.Run(fmt.Sprintf("parallel=%d", p), func(b *testing.B) {
			s := benchStore(b)
			ctx := context.Background()
			parallel(b, p, func(i int64) error {
				return s.Update(ctx, func(tx truce.Tx) error { return write(tx, benchID(i)) })
			})
		})
	}
}

// BenchmarkGet measures point reads of a document: in a View, and with
// Store.Document (a GET's read), also in a store just reopened.
func BenchmarkGet(b *testing.B) {
	for _, p := range []int{1, 64} {
		b.Run(fmt.Sprintf("view/parallel=%d", p), func(b *testing.B) {
			s := benchStore(b)
			ctx := context.Background()
			b.ReportAllocs()
			parallel(b, p, func(i int64) error {
				return s.View(ctx, func(tx truce.ReadTx) error {
					_, err := tx.Document("bench", benchID(i*7919))
					return err
				})
			})
		})
		b.Run(fmt.Sprintf("store.document/parallel=%d", p), func(b *testing.B) {
			s := benchStore(b)
			ctx := context.Background()
			b.ReportAllocs()
			parallel(b, p, func(i int64) error {
				_, err := s.Document(ctx, "bench", benchID(i*7919))
				return err
			})
		})
		// Reopened: the reads find the cache empty, as after a restart,
		// and warm it.
		b.Run(fmt.Sprintf("store.document/reopened/parallel=%d", p), func(b *testing.B) {
			dir := b.TempDir()
			benchStoreAt(b, dir).Close()
			s := mustOpen(b, dir)
			b.Cleanup(func() { s.Close() })
			ctx := context.Background()
			b.ReportAllocs()
			parallel(b, p, func(i int64) error {
				_, err := s.Document(ctx, "bench", benchID(i*7919))
				return err
			})
		})
	}
}

// BenchmarkReadPoint compares what a View can pin its reads with: a Pebble
// iterator, which reads at a fixed point in time, and a Pebble snapshot.
// Each is opened and closed, with nothing read.
func BenchmarkReadPoint(b *testing.B) {
	db, err := pebble.Open(b.TempDir(), &pebble.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for i := range int64(benchDocs) {
		if err := db.Set([]byte(benchID(i)), benchBody, pebble.NoSync); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("iterator", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			it, err := db.NewIter(nil)
			if err != nil {
				b.Fatal(err)
			}
			it.Close()
		}
	})
	b.Run("snapshot", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			db.NewSnapshot().Close()
		}
	})
}
