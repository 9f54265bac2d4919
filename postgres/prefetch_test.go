package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/internal/pgtest"
	"github.com/trucedb/truce/postgres"
)

// TestPrefetch checks the read-ahead prefetched for the Updates waiting to
// join a group (readahead.go) under many concurrent UpdateDocuments of a
// few documents, each a read-modify-write as a Service write is (the lock
// record, the collection, the document, then the new version): a
// prefetched read-ahead that an earlier member's write made stale must not
// be used, whether the write is of the document (no increment lost) or of
// its lock record alone (no fence lost), and some read-aheads must have been
// answered by a prefetch, or the test did not test it.
func TestPrefetch(t *testing.T) {
	s := mustOpen(t, pgtest.Start(t), "truce")
	ctx := context.Background()
	const (
		clients = 48
		each    = 25
		docs    = 6
	)
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := s.Update(ctx, func(tx truce.Tx) error {
		return tx.PutCollection(&truce.Collection{Name: "g", CreatedAt: now, UpdatedAt: now})
	}); err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		counts [docs]int64 // increments acknowledged
		fences [docs]int64 // lock fences acknowledged
		wg     sync.WaitGroup
	)
	for c := range clients {
		wg.Go(func() {
			for i := range each {
				n := (c + i) % docs
				id := fmt.Sprint("d", n)
				bumpLock := (c+i)%4 == 0 // of docs 0, 2 and 4
				err := s.UpdateDocument(ctx, "g", id, func(tx truce.Tx) error {
					fence, err := lockFence(tx, id)
					if err != nil {
						return err
					}
					if _, err := tx.Collection("g"); err != nil {
						return fmt.Errorf("collection: %w", err)
					}
					var count int64
					d, err := tx.Document("g", id)
					switch {
					case err == nil:
						if count, err = strconv.ParseInt(string(d.Body), 10, 64); err != nil {
							return err
						}
						if d.Version != count {
							return fmt.Errorf("g/%s v%d holds %d", id, d.Version, count)
						}
					case !errors.Is(err, truce.ErrNoRecord):
						return err
					}
					if bumpLock {
						// A write of the lock record alone.
						return tx.PutLock(&truce.Lock{Collection: "g", ID: id, Token: "t", Owner: "o", AcquiredAt: now,
							ExpiresAt: now.Add(time.Hour), Fence: fence + 1})
					}
					seq, err := tx.NextSeq()
					if err != nil {
						return err
					}
					nd := &truce.Document{Collection: "g", ID: id, Version: count + 1, Seq: seq, CreatedAt: now, UpdatedAt: now,
						Body: strconv.AppendInt(nil, count+1, 10)}
					if err := tx.PutDocument(nd); err != nil {
						return err
					}
					return tx.AppendEvent(&truce.Event{Seq: seq, Type: truce.EventDocumentUpdated, Collection: "g", ID: id,
						Version: nd.Version, ETag: nd.ETag(), Time: now})
				})
				if err != nil {
					t.Errorf("UpdateDocument(g/%s): %v", id, err)
					return
				}
				mu.Lock()
				if bumpLock {
					fences[n]++
				} else {
					counts[n]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for n := range docs {
		id := fmt.Sprint("d", n)
		err := s.View(ctx, func(tx truce.ReadTx) error {
			d, err := tx.Document("g", id)
			if err != nil {
				return err
			}
			if string(d.Body) != strconv.FormatInt(counts[n], 10) {
				t.Errorf("g/%s holds %s after %d increments", id, d.Body, counts[n])
			}
			fence, err := lockFence(tx, id)
			if err != nil {
				return err
			}
			if fence != fences[n] {
				t.Errorf("g/%s's lock has fence %d after %d increments of it", id, fence, fences[n])
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	hits := postgres.PrefetchHits(s)
	t.Logf("%d of %d read-aheads prefetched", hits, clients*each)
	if hits == 0 {
		t.Errorf("no read-ahead was prefetched: the test did not test prefetches")
	}
}

// lockFence returns the fence of g/id's lock record, 0 if it has none.
func lockFence(tx truce.ReadTx, id string) (int64, error) {
	l, err := tx.Lock("g", id)
	switch {
	case err == nil:
		return l.Fence, nil
	case errors.Is(err, truce.ErrNoRecord):
		return 0, nil
	}
	return 0, err
}
