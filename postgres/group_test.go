package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/internal/pgtest"
	"github.com/trucedb/truce/postgres"
)

// writeDoc writes collection g's document id as a Service write does: a
// new seq, the document and its event.
func writeDoc(tx truce.Tx, id string) error {
	seq, err := tx.NextSeq()
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	d := &truce.Document{Collection: "g", ID: id, Version: 1, Seq: seq, CreatedAt: now, UpdatedAt: now, Body: []byte(`{}`)}
	if err := tx.PutDocument(d); err != nil {
		return err
	}
	return tx.AppendEvent(&truce.Event{Seq: seq, Type: truce.EventDocumentCreated, Collection: "g", ID: id,
		Version: 1, ETag: d.ETag(), Time: now})
}

// waitWaiting waits until n Updates of s wait for their turn.
func waitWaiting(t *testing.T, s *postgres.Store, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for postgres.Waiting(s) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d Updates wait for their turn, not %d", postgres.Waiting(s), n)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

// TestGroupCommit checks the group commit (group.go): an Update that wrote
// hands its transaction to the Updates waiting behind it, which see its
// writes before it returns; one whose fn fails before a round trip
// carried its writes leaves nothing, and the others commit; one whose fn
// fails after that makes every member run again, alone; the committed
// seqs stay 1..N, each with its document and event.
func TestGroupCommit(t *testing.T) {
	s := mustOpen(t, pgtest.Start(t), "truce")
	ctx := context.Background()
	errA, errB := errors.New("failed before its writes were sent"), errors.New("failed after its writes were sent")

	for round, poison := range []bool{false, true} {
		name := func(s string) string { return fmt.Sprint(s, round) }
		release := make(chan struct{})
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			sawFirst = map[string]bool{} // fn saw the first Update's document
			runs     = map[string]int{}
			errs     = map[string]error{}
		)
		update := func(id string, fn func(tx truce.Tx) error) {
			wg.Go(func() {
				err := s.Update(ctx, func(tx truce.Tx) error {
					mu.Lock()
					runs[id]++
					mu.Unlock()
					_, err := tx.Document("g", name("first"))
					mu.Lock()
					sawFirst[id] = err == nil
					mu.Unlock()
					if err != nil && !errors.Is(err, truce.ErrNoRecord) {
						return err
					}
					return fn(tx)
				})
				mu.Lock()
				errs[id] = err
				mu.Unlock()
			})
		}
		update(name("first"), func(tx truce.Tx) error {
			if err := writeDoc(tx, name("first")); err != nil {
				return err
			}
			<-release
			return nil
		})
		for started := false; !started; {
			time.Sleep(time.Millisecond)
			mu.Lock()
			started = runs[name("first")] > 0
			mu.Unlock()
		}
		update(name("ok"), func(tx truce.Tx) error { return writeDoc(tx, name("ok")) })
		waitWaiting(t, s, 1)
		update(name("undone"), func(tx truce.Tx) error {
			if err := writeDoc(tx, name("undone")); err != nil {
				return err
			}
			return errA
		})
		waitWaiting(t, s, 2)
		if poison {
			update(name("poison"), func(tx truce.Tx) error {
				if err := writeDoc(tx, name("poison")); err != nil {
					return err
				}
				if _, err := tx.Document("g", name("poison")); err != nil { // sends the writes
					return err
				}
				return errB
			})
			waitWaiting(t, s, 3)
		}
		update(name("last"), func(tx truce.Tx) error { return writeDoc(tx, name("last")) })
		waitWaiting(t, s, 3+btoi(poison))
		close(release)
		wg.Wait()

		for _, id := range []string{"ok", "undone", "last"} {
			// (After a poisoned group, its members run again in any
			// order.)
			if !sawFirst[name(id)] && !poison {
				t.Errorf("round %d: %s did not see the first Update's write", round, id)
			}
		}
		if err := errs[name("undone")]; err != errA {
			t.Errorf("round %d: the Update that failed returned %v, want %v", round, err, errA)
		}
		want := []string{"first", "ok", "last"}
		if poison {
			if err := errs[name("poison")]; err != errB {
				t.Errorf("the Update that failed after sending its writes returned %v, want %v", err, errB)
			}
			// It made the group run again: the first ran twice.
			if runs[name("first")] != 2 || runs[name("poison")] != 2 {
				t.Errorf("runs = %v, want first and poison twice", runs)
			}
		}
		for _, id := range want {
			if err := errs[name(id)]; err != nil {
				t.Errorf("round %d: %s: %v", round, id, err)
			}
		}
		err := s.View(ctx, func(tx truce.ReadTx) error {
			for _, id := range []string{"first", "ok", "undone", "poison", "last"} {
				_, err := tx.Document("g", name(id))
				if has := err == nil; has != (id == "first" || id == "ok" || id == "last") {
					t.Errorf("round %d: document %s exists: %v (%v)", round, id, has, err)
				}
			}
			last, err := tx.LastSeq()
			if err != nil {
				return err
			}
			evs, err := tx.Events(0, 100)
			if err != nil {
				return err
			}
			if int64(len(evs)) != last || last != int64(3*(round+1)) {
				t.Errorf("round %d: %d events, last seq %d, want %d", round, len(evs), last, 3*(round+1))
			}
			for i, e := range evs {
				if e.Seq != int64(i+1) {
					t.Errorf("event %d has seq %d", i+1, e.Seq)
				}
				d, err := tx.Document("g", e.ID)
				if err != nil || d.Seq != e.Seq {
					t.Errorf("event %d is of %s, whose document is %v (%v)", e.Seq, e.ID, d, err)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestGroupCommitCanceledWaiter checks that an Update whose context ends
// while it waits for its turn returns, leaves the queue, and writes
// nothing, while the Updates around it commit.
func TestGroupCommitCanceledWaiter(t *testing.T) {
	s := mustOpen(t, pgtest.Start(t), "truce")
	ctx := context.Background()
	release, started := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, 3)
	wg.Go(func() {
		errs[0] = s.Update(ctx, func(tx truce.Tx) error {
			if err := writeDoc(tx, "a"); err != nil {
				return err
			}
			close(started)
			<-release
			return nil
		})
	})
	<-started
	bctx, cancel := context.WithCancel(ctx)
	wg.Go(func() { errs[1] = s.Update(bctx, func(tx truce.Tx) error { return writeDoc(tx, "b") }) })
	waitWaiting(t, s, 1)
	wg.Go(func() { errs[2] = s.Update(ctx, func(tx truce.Tx) error { return writeDoc(tx, "c") }) })
	waitWaiting(t, s, 2)
	cancel()
	for postgres.Waiting(s) != 1 { // b leaves; c still waits
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if errs[0] != nil || errs[2] != nil {
		t.Fatalf("Updates around the canceled one: %v, %v", errs[0], errs[2])
	}
	if !errors.Is(errs[1], context.Canceled) {
		t.Errorf("the canceled Update returned %v, want context.Canceled", errs[1])
	}
	for id, want := range map[string]bool{"a": true, "b": false, "c": true} {
		_, err := s.Document(ctx, "g", id)
		if (err == nil) != want {
			t.Errorf("document %s: %v, want it to exist: %v", id, err, want)
		}
	}
	if n := postgres.Waiting(s); n != 0 {
		t.Errorf("%d Updates still wait", n)
	}
}

// TestGroupCommitContention checks that a Store whose Updates mostly fail
// (their preconditions, under contention) stops grouping them: an Update
// that then waits behind one that wrote runs after that one's commit, not
// in its transaction.
func TestGroupCommitContention(t *testing.T) {
	s := mustOpen(t, pgtest.Start(t), "truce")
	ctx := context.Background()
	errConflict := errors.New("precondition failed")
	for range 64 {
		err := s.Update(ctx, func(tx truce.Tx) error {
			if _, err := tx.Document("g", "a"); err != nil && !errors.Is(err, truce.ErrNoRecord) {
				return err
			}
			return errConflict
		})
		if err != errConflict {
			t.Fatalf("Update: %v", err)
		}
	}
	release, started, aDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	var errA, errB error
	wg.Go(func() {
		defer close(aDone)
		errA = s.Update(ctx, func(tx truce.Tx) error {
			if err := writeDoc(tx, "a"); err != nil {
				return err
			}
			close(started)
			<-release
			return nil
		})
	})
	<-started
	wg.Go(func() {
		errB = s.Update(ctx, func(tx truce.Tx) error {
			// In A's group, A would wait for this fn: it must not.
			select {
			case <-aDone:
			case <-time.After(time.Minute):
				return errors.New("the first Update did not return before the second ran: they were grouped")
			}
			return writeDoc(tx, "b")
		})
	})
	waitWaiting(t, s, 1)
	close(release)
	wg.Wait()
	if errA != nil || errB != nil {
		t.Fatalf("Updates: %v, %v", errA, errB)
	}
}
