package client_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trucedb/truce/client"
)

// TestRunTransactionRetriesConflicts: a transaction whose read changes before its
// commit runs again from the start, and only the last run is applied.
func TestRunTransactionRetriesConflicts(t *testing.T) {
	c := mustClient(t, mustServe(t))
	ctx := testCtx(t)
	if _, err := c.Put(ctx, "acc", "a", account{100}); err != nil {
		t.Fatal(err)
	}
	runs := 0
	err := c.RunTransaction(ctx, func(tx *client.Transaction) error {
		runs++
		d, err := tx.Get(ctx, "acc", "a")
		if err != nil {
			return err
		}
		var a account
		if err := d.Decode(&a); err != nil {
			return err
		}
		if runs == 1 { // someone else moves a under us
			if _, err := c.Patch(ctx, "acc", "a", client.MergePatch(account{a.Balance + 1000})); err != nil {
				return err
			}
		}
		_, err = tx.Put(ctx, "acc", "a", account{a.Balance + 1})
		return err
	})
	if err != nil || runs != 2 {
		t.Fatalf("RunTransaction: %v after %d runs, want success after 2", err, runs)
	}
	d, _ := c.Get(ctx, "acc", "a")
	var a account
	_ = d.Decode(&a)
	if a.Balance != 1101 {
		t.Errorf("balance %d, want 1101 (the second run only, on top of the other write)", a.Balance)
	}
	// An error from fn is returned as is, and nothing is applied.
	boom := errors.New("boom")
	err = c.RunTransaction(ctx, func(tx *client.Transaction) error {
		if _, err := tx.Put(ctx, "acc", "a", account{0}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("RunTransaction = %v, want boom", err)
	}
	if d, _ := c.Get(ctx, "acc", "a"); d.Version != 3 {
		t.Errorf("version %d after a failed RunTransaction, want 3", d.Version)
	}
}

// TestBankInvariant runs random transfers between 10 accounts from 16
// goroutines with RunTransaction for two seconds. Every transfer also creates a
// ledger entry in the same transaction. The total never changes, and the
// balances are exactly what the committed ledger entries say.
func TestBankInvariant(t *testing.T) {
	const accounts, workers, initial = 10, 16, 1000
	c := mustClient(t, mustServe(t))
	ctx := testCtx(t)
	for i := range accounts {
		if _, err := c.Put(ctx, "bank", fmt.Sprint("acc", i), account{initial}); err != nil {
			t.Fatal(err)
		}
	}
	var committed, conflicts atomic.Int64
	stop := time.Now().Add(2 * time.Second)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for n := 0; time.Now().Before(stop); n++ {
				from, to := rng.IntN(accounts), rng.IntN(accounts-1)
				if to >= from {
					to++
				}
				amount := 1 + rng.IntN(50)
				runs := 0
				// Many attempts: under this contention a transfer may conflict often,
				// and the test is about what commits, not how soon.
				err := c.RunTransactionWith(ctx, client.TransactionOptions{Attempts: 1000}, func(tx *client.Transaction) error {
					runs++
					fa, err := readAccount(ctx, tx, from)
					if err != nil {
						return err
					}
					ta, err := readAccount(ctx, tx, to)
					if err != nil {
						return err
					}
					if _, err := tx.Put(ctx, "bank", fmt.Sprint("acc", from), account{fa - amount}); err != nil {
						return err
					}
					if _, err := tx.Put(ctx, "bank", fmt.Sprint("acc", to), account{ta + amount}); err != nil {
						return err
					}
					_, err = tx.Create(ctx, "ledger", map[string]any{"_id": fmt.Sprintf("w%d-%d", w, n), "from": from, "to": to, "amount": amount})
					return err
				})
				if err != nil {
					t.Errorf("transfer w%d-%d: %v", w, n, err)
					return
				}
				committed.Add(1)
				conflicts.Add(int64(runs - 1))
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	want := make([]int, accounts)
	for i := range want {
		want[i] = initial
	}
	entries := 0
	for d, err := range c.List(ctx, "ledger") {
		if err != nil {
			t.Fatal(err)
		}
		var e struct{ From, To, Amount int }
		if err := d.Decode(&e); err != nil {
			t.Fatal(err)
		}
		want[e.From] -= e.Amount
		want[e.To] += e.Amount
		entries++
	}
	total := 0
	for i := range accounts {
		d, err := c.Get(ctx, "bank", fmt.Sprint("acc", i))
		if err != nil {
			t.Fatal(err)
		}
		var a account
		if err := d.Decode(&a); err != nil {
			t.Fatal(err)
		}
		total += a.Balance
		if a.Balance != want[i] {
			t.Errorf("acc%d: balance %d, the ledger says %d", i, a.Balance, want[i])
		}
	}
	if total != accounts*initial {
		t.Errorf("total %d, want %d", total, accounts*initial)
	}
	if int64(entries) != committed.Load() {
		t.Errorf("%d ledger entries for %d committed transfers", entries, committed.Load())
	}
	t.Logf("%d transfers committed, %d conflicts retried", committed.Load(), conflicts.Load())
	if committed.Load() == 0 {
		t.Error("no transfer committed")
	}
}

func readAccount(ctx context.Context, tx *client.Transaction, i int) (int, error) {
	d, err := tx.Get(ctx, "bank", fmt.Sprint("acc", i))
	if err != nil {
		return 0, err
	}
	var a account
	if err := d.Decode(&a); err != nil {
		return 0, err
	}
	return a.Balance, nil
}

// TestTransactionByHand drives an interactive transaction call by call: staged
// writes of every kind, reads of them, the commit's results, a conflict
// that ChangedDocs names, and rollbacks.
func TestTransactionByHand(t *testing.T) {
	c := mustClient(t, mustServe(t))
	ctx := testCtx(t)
	for _, id := range []string{"a", "b"} {
		if _, err := c.Put(ctx, "acc", id, account{100}); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := c.BeginTransaction(ctx, 30*time.Second)
	if err != nil || tx.ID() == "" || time.Until(tx.ExpiresAt()) < 20*time.Second {
		t.Fatalf("Begin: %v %v", tx, err)
	}
	if _, err := tx.Get(ctx, "acc", "a"); err != nil {
		t.Fatal(err)
	}
	p, err := tx.Patch(ctx, "acc", "a", client.MergePatch(account{60}))
	if err != nil || p.Version != 2 || p.ETag != "" {
		t.Fatalf("staged patch: %+v %v", p, err)
	}
	if _, err := tx.Create(ctx, "ledger", map[string]any{"_id": "l1", "amount": 40}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Delete(ctx, "acc", "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Get(ctx, "acc", "b"); !client.IsNotFound(err) {
		t.Errorf("a staged delete read back: %v", err)
	}
	if d, err := c.Get(ctx, "acc", "b"); err != nil || d.Version != 1 {
		t.Errorf("a staged delete is visible outside: %v %v", d, err)
	}
	res, err := tx.Commit(ctx)
	if err != nil || len(res) != 3 || res[0].Doc.Collection != "acc" || res[0].Doc.ETag == "" || res[1].Status != 201 || res[2].Status != 204 {
		t.Fatalf("Commit: %+v %v", res, err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Errorf("Rollback of a committed transaction: %v", err)
	}

	tx, err = c.BeginTransaction(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Get(ctx, "acc", "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, "acc", "a", account{1}); err != nil {
		t.Fatal(err)
	}
	_, err = tx.Commit(ctx)
	if !client.IsTransactionConflict(err) || len(client.ChangedDocs(err)) != 1 || client.ChangedDocs(err)[0].ID != "a" {
		t.Fatalf("Commit after a change: %v %v", err, client.ChangedDocs(err))
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(ctx); client.Code(err) != client.CodeTransactionExpired {
		t.Errorf("Commit after Rollback: %v", err)
	}
}
