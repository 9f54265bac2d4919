package truce_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/pebble"
)

// TestTransactionSurvivesRestart: what a transaction read and staged is
// in the store, so a new Service over the reopened store commits it, and
// a change made after the restart to what it read is a conflict.
func TestTransactionSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	open := func() (*truce.Service, func()) {
		store, err := pebble.Open(dir, pebble.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return truce.NewService(store, truce.Options{}), func() {
			if err := store.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	ctx := t.Context()
	svc, closeStore := open()
	mustPut(t, svc, "acc", "a", `{"balance":100}`)
	id := mustBegin(t, svc, 0)
	if _, _, err := svc.TransactionGet(ctx, id, "acc", "a"); err != nil {
		t.Fatal(err)
	}
	stage(t, svc, id, txPatch("a", `{"balance":50}`, none))
	closeStore()

	svc, closeStore = open()
	if d, staged, err := svc.TransactionGet(ctx, id, "acc", "a"); err != nil || !staged || string(d.Body) != `{"balance":50}` {
		t.Fatalf("the staged write after a restart: %v %v %+v", err, staged, d)
	}
	if _, err := svc.CommitTransaction(ctx, id, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := bodyOf(t, svc, "acc", "a"); got != `{"balance":50}` {
		t.Fatalf("after the commit: %s", got)
	}
	id = mustBegin(t, svc, 0)
	if _, _, err := svc.TransactionGet(ctx, id, "acc", "a"); err != nil {
		t.Fatal(err)
	}
	closeStore()

	svc, closeStore = open()
	defer closeStore()
	mustPut(t, svc, "acc", "a", `{"balance":1}`)
	if _, err := svc.CommitTransaction(ctx, id, nil, nil); !codeIs(t, "a commit after a change made after the restart", err, truce.CodeTransactionConflict) {
		return
	}
}

// TestTransactionConcurrentCommits: of 12 concurrent commits of one
// transaction exactly one applies and the others find it gone; staging
// from 8 goroutines at once into one transaction loses no write.
func TestTransactionConcurrentCommits(t *testing.T) {
	svc, _ := mustService(t)
	ctx := t.Context()
	mustPut(t, svc, "c", "n", `{"n":0}`)
	for round := range 3 {
		id := mustBegin(t, svc, 0)
		stage(t, svc, id, truce.Op{Kind: truce.OpPatch, Collection: "c", ID: "n", PatchType: truce.MergePatch, Patch: fmt.Appendf(nil, `{"n":%d}`, round+1)})
		errs := make([]error, 12)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() { _, errs[i] = svc.CommitTransaction(ctx, id, nil, nil) })
		}
		wg.Wait()
		codes := map[truce.Code]int{}
		for _, err := range errs {
			codes[truce.ErrorCode(err)]++
		}
		if codes[""] != 1 || codes[truce.CodeTransactionExpired] != 11 {
			t.Fatalf("round %d: outcomes %v, want one commit and eleven transaction_expired", round, codes)
		}
	}
	if d, err := svc.Get(ctx, "c", "n"); err != nil || d.Version != 4 || string(d.Body) != `{"n":3}` {
		t.Errorf("after three committed transactions: %v %+v", err, d)
	}

	id := mustBegin(t, svc, 0)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			op := truce.Op{Kind: truce.OpPut, Collection: "c", ID: fmt.Sprint("s", g), Document: []byte(`{"g":1}`)}
			if _, err := svc.TransactionWrite(ctx, id, op, nil, nil); err != nil {
				t.Errorf("staging s%d: %v", g, err)
			}
		})
	}
	wg.Wait()
	res, err := svc.CommitTransaction(ctx, id, nil, nil)
	if err != nil || len(res) != 8 {
		t.Fatalf("commit: %v, %d results, want 8 staged writes", err, len(res))
	}
	for g := range 8 {
		if got := bodyOf(t, svc, "c", fmt.Sprint("s", g)); got != `{"g":1}` {
			t.Errorf("s%d holds %q", g, got)
		}
	}
}

// TestTransactionLockFencing: staging a write to a locked document is
// refused without the holder's token and staged with it; a lock that
// someone else takes on a staged document before the commit refuses the
// commit, which applies nothing.
func TestTransactionLockFencing(t *testing.T) {
	svc, store := mustService(t)
	ctx := t.Context()
	mustPut(t, svc, "acc", "a", `{"balance":100}`)
	mustPut(t, svc, "acc", "b", `{"balance":100}`)
	alice := mustLock(t, svc, truce.LockRequest{Collection: "acc", ID: "b", Owner: "alice", TTL: time.Minute})
	id := mustBegin(t, svc, 30*time.Second)
	_, err := svc.TransactionWrite(ctx, id, txPatch("b", `{"balance":1}`, none), nil, nil)
	if te := wantCode(t, "staging without the token", err, truce.CodeLocked); te.LockOwner != "alice" {
		t.Errorf("locked by %q", te.LockOwner)
	}
	stage(t, svc, id, txPatch("b", `{"balance":1}`, truce.Precondition{LockToken: alice.Token}))
	stage(t, svc, id, txPatch("a", `{"balance":1}`, none))
	mustLock(t, svc, truce.LockRequest{Collection: "acc", ID: "a", Owner: "bob", TTL: time.Minute})
	before := lastSeq(t, store)
	_, err = svc.CommitTransaction(ctx, id, nil, nil)
	if te := wantOpError(t, "a commit after bob locked a", err, 1, truce.CodeLocked); te.LockOwner != "bob" {
		t.Errorf("locked by %q", te.LockOwner)
	}
	if got := lastSeq(t, store); got != before {
		t.Errorf("a refused commit moved the change log from %d to %d", before, got)
	}
}
