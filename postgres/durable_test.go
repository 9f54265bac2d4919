package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/internal/pgtest"
)

// write commits document c/id at version 1 with its event.
func write(tx truce.Tx, id string) error {
	seq, err := tx.NextSeq()
	if err != nil {
		return err
	}
	d := &truce.Document{Collection: "c", ID: id, Version: 1, Seq: seq, CreatedAt: time.Now(), UpdatedAt: time.Now(),
		Body: []byte(`{"id":"` + id + `"}`)}
	if err := tx.PutDocument(d); err != nil {
		return err
	}
	return tx.AppendEvent(&truce.Event{Seq: seq, Type: truce.EventDocumentCreated, Collection: "c", ID: id,
		Version: 1, ETag: d.ETag(), Time: d.UpdatedAt, Document: d.AppendJSON(nil)})
}

// TestCrash checks that every acknowledged write survives a crash of
// PostgreSQL in the middle of concurrent writes; that while it is down,
// Update and Ping fail promptly with a retryable CodeUnavailable; and that
// the same Store works again, notifications included, once it is back.
func TestCrash(t *testing.T) {
	srv := pgtest.NewServer(t)
	s := mustOpen(t, srv.URL(), "")
	other := mustOpen(t, srv.URL(), "") // another node
	other.Changed()                     // starts its listener, which must reconnect
	var (
		mu    sync.Mutex
		acked []string
		stop  = make(chan struct{})
		wg    sync.WaitGroup
	)
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("w%d-%d", w, i)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := s.Update(ctx, func(tx truce.Tx) error { return write(tx, id) })
				cancel()
				if err == nil {
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
					continue
				}
				var te *truce.Error
				if !errors.As(err, &te) || te.Code != truce.CodeUnavailable || !te.Code.Retryable() {
					t.Errorf("Update while PostgreSQL crashed: %v (%T), want a truce.Error with CodeUnavailable", err, err)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	srv.Crash()
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	n := len(acked)
	mu.Unlock()
	if n == 0 {
		t.Fatal("no write was acknowledged before the crash")
	}

	// While it is down: a prompt, retryable refusal, well within ctx.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	start := time.Now()
	err := s.Update(ctx, func(tx truce.Tx) error { return write(tx, "down") })
	cancel()
	var te *truce.Error
	if !errors.As(err, &te) || te.Code != truce.CodeUnavailable {
		t.Errorf("Update while PostgreSQL is down = %v, want CodeUnavailable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Update while PostgreSQL is down took %v", d)
	}
	if err := s.Ping(context.Background()); err == nil {
		t.Error("Ping while PostgreSQL is down succeeded")
	}
	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	if err := s.View(short, func(truce.ReadTx) error { return nil }); err == nil {
		// A View that reads nothing needs no round trip; one that reads
		// must fail.
		if err := s.View(short, func(tx truce.ReadTx) error { _, err := tx.LastSeq(); return err }); err == nil {
			t.Error("a View that reads succeeded while PostgreSQL is down")
		}
	}
	cancel()
	close(stop)
	wg.Wait()

	srv.Restart()
	changed := other.Changed()
	// The same Store works again once the server is back.
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		err := s.Update(ctx, func(tx truce.Tx) error { return write(tx, "after") })
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("Update after the restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping after the restart: %v", err)
	}
	err = other.View(ctx, func(tx truce.ReadTx) error {
		for _, id := range acked {
			if _, err := tx.Document("c", id); err != nil {
				t.Errorf("acknowledged write %s after the crash: %v", id, err)
			}
		}
		last, err := tx.LastSeq()
		if err != nil {
			return err
		}
		evs, err := tx.Events(0, int(last)+10)
		if err != nil {
			return err
		}
		for i, e := range evs {
			if e.Seq != int64(i+1) {
				t.Fatalf("event %d has seq %d: the change log has a gap", i+1, e.Seq)
			}
		}
		if int64(len(evs)) != last {
			t.Errorf("%d events, LastSeq %d", len(evs), last)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d writes acknowledged before the crash survived it", len(acked))

	// The other node hears of the commit after the restart: its listener
	// reconnected.
	select {
	case <-changed:
	case <-time.After(15 * time.Second):
		t.Error("no change notification after the restart")
	}
	changed = other.Changed()
	if err := s.Update(ctx, func(tx truce.Tx) error { return write(tx, "after2") }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(15 * time.Second):
		t.Error("no change notification for a commit on another node after the restart")
	}
}
