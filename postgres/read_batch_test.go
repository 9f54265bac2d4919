package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/internal/pgtest"
	"github.com/trucedb/truce/postgres"
)

// TestReadBatchLinearizable checks the coalescing of Documents
// (read_batch.go) under many concurrent readers and writers: a Document
// that starts after a write was acknowledged sees it (or a later one),
// every reader gets its own document and not another's of its batch, and
// absent documents stay absent. One read in flight at a time makes the
// others go in batches.
func TestReadBatchLinearizable(t *testing.T) {
	s := mustOpen(t, pgtest.Start(t), "truce")
	postgres.SetReadsInFlight(s, 1)
	ctx := context.Background()
	const (
		writers = 8
		writes  = 40
		readers = 32
	)
	var acked [writers]atomic.Int64 // the last version acknowledged of each writer's document
	var writing sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, writers+readers)
	for w := range writers {
		writing.Go(func() {
			id := fmt.Sprint("w", w)
			for v := int64(1); v <= writes; v++ {
				err := s.Update(ctx, func(tx truce.Tx) error {
					seq, err := tx.NextSeq()
					if err != nil {
						return err
					}
					now := time.Now().UTC().Truncate(time.Millisecond)
					d := &truce.Document{Collection: "g", ID: id, Version: v, Seq: seq, CreatedAt: now, UpdatedAt: now,
						Body: fmt.Appendf(nil, `{"id":%q,"v":%d}`, id, v)}
					if err := tx.PutDocument(d); err != nil {
						return err
					}
					return tx.AppendEvent(&truce.Event{Seq: seq, Type: truce.EventDocumentUpdated, Collection: "g", ID: id,
						Version: v, ETag: d.ETag(), Time: now})
				})
				if err != nil {
					errs <- fmt.Errorf("write %s v%d: %w", id, v, err)
					return
				}
				acked[w].Store(v)
			}
		})
	}
	var reading sync.WaitGroup
	var reads atomic.Int64
	for r := range readers {
		reading.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				reads.Add(1)
				if (r+i)%5 == 0 {
					id := fmt.Sprint("absent", r)
					if d, err := s.Document(ctx, "g", id); !errors.Is(err, truce.ErrNoRecord) {
						errs <- fmt.Errorf("Document(g/%s) = %v, %v; want ErrNoRecord", id, d, err)
						return
					}
					continue
				}
				w := (r + i) % writers
				id := fmt.Sprint("w", w)
				want := acked[w].Load() // acknowledged before the read began
				d, err := s.Document(ctx, "g", id)
				if errors.Is(err, truce.ErrNoRecord) && want == 0 {
					continue
				}
				if err != nil {
					errs <- fmt.Errorf("Document(g/%s): %v", id, err)
					return
				}
				if d.ID != id || d.Version < want || string(d.Body) != fmt.Sprintf(`{"id":%q,"v":%d}`, id, d.Version) {
					errs <- fmt.Errorf("Document(g/%s) began after v%d was acknowledged, and read %s v%d %s",
						id, want, d.ID, d.Version, d.Body)
					return
				}
			}
		})
	}
	writing.Wait()
	close(stop)
	reading.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	batched := postgres.BatchedReads(s)
	t.Logf("%d reads, %d of them in batches", reads.Load(), batched)
	if batched == 0 {
		t.Errorf("none of %d reads went in a batch: the test did not test batches", reads.Load())
	}
}

// TestReadBatchContext checks that a Document waiting for its batch
// returns when its context ends, and that the batch still answers the
// others.
func TestReadBatchContext(t *testing.T) {
	s := mustOpen(t, pgtest.Start(t), "truce")
	postgres.SetReadsInFlight(s, 1)
	ctx := context.Background()
	if err := s.Update(ctx, func(tx truce.Tx) error { return writeDoc(tx, "a") }); err != nil {
		t.Fatal(err)
	}
	// Half the readers' contexts have ended; they share batches with the
	// others.
	var wg sync.WaitGroup
	var canceled, answered atomic.Int64
	for i := range 64 {
		wg.Go(func() {
			c := ctx
			if i%2 == 0 {
				var cancel context.CancelFunc
				c, cancel = context.WithCancel(ctx)
				cancel()
			}
			for range 20 {
				d, err := s.Document(c, "g", "a")
				switch {
				case err == nil && d.ID == "a":
					if c.Err() == nil {
						answered.Add(1)
					}
				case err != nil && c.Err() != nil && errors.Is(err, context.Canceled):
					canceled.Add(1)
				default:
					t.Errorf("Document(g/a) = %v, %v (context %v)", d, err, c.Err())
					return
				}
			}
		})
	}
	wg.Wait()
	if answered.Load() != 32*20 {
		t.Errorf("%d reads answered, want %d", answered.Load(), 32*20)
	}
	t.Logf("%d canceled, %d batched", canceled.Load(), postgres.BatchedReads(s))
}
