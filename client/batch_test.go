package client_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/trucedb/truce/client"
)

type account struct {
	Balance int `json:"balance"`
}

// TestBatch builds a batch with every op and sends it; a failing one is
// reported with its index and applies nothing.
func TestBatch(t *testing.T) {
	c := mustClient(t, mustServe(t))
	ctx := testCtx(t)
	a, err := c.Put(ctx, "acc", "a", account{100})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, "acc", "b", account{100}); err != nil {
		t.Fatal(err)
	}
	var b client.Batch
	b.Check("acc", "a", client.IfMatch(a.ETag)).
		Patch("acc", "a", client.MergePatch(account{70}), client.Version(1)).
		Patch("acc", "b", client.JSONPatch([]map[string]any{{"op": "replace", "path": "/balance", "value": 130}})).
		Create("ledger", map[string]any{"from": "a", "to": "b", "amount": 30}).
		Put("acc", "c", account{1}, client.IfNoneMatch("*"))
	res, err := c.Batch(ctx, &b)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 5 || res[1].Status != 200 || res[3].Status != 201 || res[1].Doc.Version != 2 || res[1].Doc.ETag == "" || res[3].Doc.Collection != "ledger" {
		t.Fatalf("results %+v", res)
	}
	got, err := c.Get(ctx, "acc", "a")
	if err != nil || got.ETag != res[1].Doc.ETag {
		t.Fatalf("a: %v %v", got, err)
	}

	var bad client.Batch
	bad.Delete("acc", "c").Delete("acc", "nope")
	_, err = c.Batch(ctx, &bad)
	if i, ok := client.FailedOp(err); !ok || i != 1 || !client.IsNotFound(err) {
		t.Fatalf("failing batch: %v (failedOp %d, %v)", err, i, ok)
	}
	if _, err := c.Get(ctx, "acc", "c"); err != nil {
		t.Errorf("the batch's first op was applied: %v", err)
	}
	var wrong client.Batch
	if _, err := c.Batch(ctx, wrong.Create("x", map[string]any{}).Check("x", "y", client.Force())); err == nil {
		t.Error("an option a batch op does not take was accepted")
	}
}

// TestBatchTransfersConcurrently: 8 goroutines move money with batches
// guarded by If-Match on both accounts, retrying on 412. Every batch is
// all or nothing: the total never changes and the ledger has one entry per
// applied batch.
func TestBatchTransfersConcurrently(t *testing.T) {
	const accounts, workers, perWorker = 4, 8, 15
	c := mustClient(t, mustServe(t))
	ctx := testCtx(t)
	for i := range accounts {
		if _, err := c.Put(ctx, "bank", fmt.Sprint("acc", i), account{100}); err != nil {
			t.Fatal(err)
		}
	}
	var applied, refused atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 3))
			for n := range perWorker {
				from, to := rng.IntN(accounts), rng.IntN(accounts-1)
				if to >= from {
					to++
				}
				fd, err1 := c.Get(ctx, "bank", fmt.Sprint("acc", from))
				td, err2 := c.Get(ctx, "bank", fmt.Sprint("acc", to))
				if err := errors.Join(err1, err2); err != nil {
					t.Error(err)
					return
				}
				var fa, ta account
				_ = fd.Decode(&fa)
				_ = td.Decode(&ta)
				var b client.Batch
				b.Put("bank", fd.ID, account{fa.Balance - 5}, client.IfMatch(fd.ETag)).
					Put("bank", td.ID, account{ta.Balance + 5}, client.IfMatch(td.ETag)).
					Create("ledger", map[string]any{"_id": fmt.Sprintf("w%d-%d", w, n), "from": from, "to": to})
				_, err := c.Batch(ctx, &b)
				switch {
				case err == nil:
					applied.Add(1)
				case client.IsPreconditionFailed(err):
					refused.Add(1)
				default:
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	total := 0
	for i := range accounts {
		d, err := c.Get(ctx, "bank", fmt.Sprint("acc", i))
		if err != nil {
			t.Fatal(err)
		}
		var a account
		_ = d.Decode(&a)
		total += a.Balance
	}
	entries := 0
	for _, err := range c.List(ctx, "ledger") {
		if err != nil {
			t.Fatal(err)
		}
		entries++
	}
	if total != accounts*100 || int64(entries) != applied.Load() || applied.Load() == 0 {
		t.Errorf("total %d (want %d), %d ledger entries for %d applied batches (%d refused)",
			total, accounts*100, entries, applied.Load(), refused.Load())
	}
}
