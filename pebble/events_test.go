package pebble_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/trucedb/truce"
)

// TestEventsContiguousPrefix checks what the change feed relies on: while
// many writers commit events, every View sees a contiguous prefix of the
// log, so a reader that resumes after the last seq it saw never skips a seq
// that becomes visible later; and Changed wakes the reader after commits.
func TestEventsContiguousPrefix(t *testing.T) {
	s := mustOpen(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	const writers, perWriter = 8, 60
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				err := s.Update(ctx, func(tx truce.Tx) error {
					seq, err := tx.NextSeq()
					if err != nil {
						return err
					}
					return tx.AppendEvent(&truce.Event{Seq: seq, Type: truce.EventDocumentCreated, Collection: "c",
						ID: "w" + string(rune('a'+w)) + string(rune('a'+i%26)), Version: 1,
						ETag: truce.FormatETag(1, seq), Time: time.Now()})
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	var pos int64
	for pos < writers*perWriter {
		changed := s.Changed()
		var evs []*truce.Event
		err := s.View(ctx, func(tx truce.ReadTx) (err error) {
			evs, err = tx.Events(pos, 50)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Seq != pos+1 {
				t.Fatalf("after seq %d the log showed seq %d: a reader would skip", pos, e.Seq)
			}
			pos = e.Seq
		}
		if len(evs) == 0 {
			select {
			case <-changed:
			case <-time.After(10 * time.Second):
				t.Fatalf("no wake-up within 10 s at seq %d", pos)
			}
		}
	}
	<-done
}
