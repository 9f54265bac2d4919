package postgres_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/internal/pgtest"
)

// TestCounterAcrossNodes checks that Updates are serializable across
// Stores sharing a schema (nodes): concurrent read-modify-writes of one
// counter through three Stores lose no increment, and the seqs they
// allocate are 1..N in version order.
func TestCounterAcrossNodes(t *testing.T) {
	url := pgtest.Start(t)
	stores := []truce.Store{mustOpen(t, url, ""), mustOpen(t, url, ""), mustOpen(t, url, "")}
	const workers, each = 12, 15
	increment := func(tx truce.Tx) error {
		var version, n int64
		cur, err := tx.Document("ctr", "n")
		switch {
		case errors.Is(err, truce.ErrNoRecord):
		case err != nil:
			return err
		default:
			version = cur.Version
			if n, err = strconv.ParseInt(string(cur.Body), 10, 64); err != nil {
				return err
			}
		}
		seq, err := tx.NextSeq()
		if err != nil {
			return err
		}
		d := &truce.Document{Collection: "ctr", ID: "n", Version: version + 1, Seq: seq,
			Body: []byte(strconv.FormatInt(n+1, 10))}
		if err := tx.PutDocument(d); err != nil {
			return err
		}
		return tx.AppendEvent(&truce.Event{Seq: seq, Type: truce.EventDocumentUpdated, Collection: "ctr", ID: "n",
			Version: d.Version, ETag: d.ETag()})
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range each {
				if err := stores[w%len(stores)].Update(context.Background(), increment); err != nil {
					t.Errorf("Update: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	const total = workers * each
	err := stores[0].View(context.Background(), func(tx truce.ReadTx) error {
		d, err := tx.Document("ctr", "n")
		if err != nil {
			return err
		}
		if string(d.Body) != strconv.Itoa(total) || d.Version != total {
			t.Errorf("after %d increments the counter is %s at version %d", total, d.Body, d.Version)
		}
		evs, err := tx.Events(0, 2*total)
		if err != nil {
			return err
		}
		if len(evs) != total {
			t.Fatalf("%d events, want %d", len(evs), total)
		}
		for i, e := range evs {
			if e.Seq != int64(i+1) || e.Version != e.Seq {
				t.Fatalf("event %d has seq %d and version %d", i+1, e.Seq, e.Version)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
