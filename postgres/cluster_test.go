package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/internal/pgtest"
)

// The Service's rules across nodes, on PostgreSQL: each node is a Service
// over a Store of its own (its own pool and listener) on one database. The
// root package's cluster tests check the same rules in more detail over a
// Pebble store shared in process.

// mustNodes returns n Services, each over its own Store on one schema,
// and the first Store.
func mustNodes(t *testing.T, n int) ([]*truce.Service, truce.Store) {
	t.Helper()
	url := pgtest.Start(t)
	var nodes []*truce.Service
	var first truce.Store
	for range n {
		s := mustOpen(t, url, "cluster")
		if first == nil {
			first = s
		}
		nodes = append(nodes, truce.NewService(s, truce.Options{}))
	}
	return nodes, first
}

// TestClusterLockFIFO: requests waiting on three nodes get the lock in the
// order they joined the queue, released through other nodes.
func TestClusterLockFIFO(t *testing.T) {
	nodes, store := mustNodes(t, 3)
	ctx := context.Background()
	first, err := nodes[0].Lock(ctx, truce.LockRequest{Collection: "c", ID: "d", Owner: "first", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	const n = 6
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := nodes[i%3].Lock(ctx, truce.LockRequest{Collection: "c", ID: "d", Owner: fmt.Sprint(i), TTL: time.Minute, Wait: time.Minute})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			if err := nodes[(i+1)%3].Unlock(ctx, "c", "d", l.Token); err != nil {
				t.Error(err)
			}
		}()
		// Queued before the next comes.
		deadline := time.Now().Add(10 * time.Second)
		for queued(t, store) < i+1 {
			if time.Now().After(deadline) {
				t.Fatalf("waiter %d did not join the queue", i)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if _, err := nodes[2].Lock(ctx, truce.LockRequest{Collection: "c", ID: "d", TTL: time.Minute}); truce.ErrorCode(err) != truce.CodeLocked {
		t.Fatalf("a request without wait while others wait: %v, want locked", err)
	}
	if err := nodes[1].Unlock(ctx, "c", "d", first.Token); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, got := range order {
		if got != i || len(order) != n {
			t.Fatalf("grant order %v, want 0..%d", order, n-1)
		}
	}
}

// queued returns how many live records the queue of c/d holds.
func queued(t *testing.T, store truce.Store) int {
	t.Helper()
	n := 0
	err := store.View(context.Background(), func(tx truce.ReadTx) error {
		ws, err := tx.LockWaiters("c", "d")
		for _, w := range ws {
			if time.Now().Before(w.ExpiresAt) {
				n++
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestClusterIdempotency: one request with one key sent at once to three
// nodes runs once; the others are in use, and a retry on any node replays
// the answer.
func TestClusterIdempotency(t *testing.T) {
	nodes, _ := mustNodes(t, 3)
	ctx := context.Background()
	ids := make([]string, 9)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := &truce.IdempotencyKey{Caller: "c", Key: "k", Fingerprint: []byte("f")}
				rec, claim, err := nodes[i%3].ClaimIdempotency(ctx, k)
				switch {
				case truce.ErrorCode(err) == truce.CodeIdempotencyKeyInUse:
					time.Sleep(2 * time.Millisecond)
					continue
				case err != nil:
					t.Error(err)
				case rec != nil:
					ids[i] = rec.Result.Document.ID
				default:
					d, err := nodes[i%3].CreateLocked(ctx, "pay", []byte(`{"amount":5}`), "", k)
					if err != nil {
						t.Error(err)
					} else {
						ids[i] = d.ID
					}
					claim.Release(ctx)
				}
				return
			}
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id == "" || id != ids[0] {
			t.Fatalf("answers %q, want one creation", ids)
		}
	}
	cs, err := nodes[1].ListCollections(ctx)
	if err != nil || len(cs) != 1 || cs[0].Stats.Documents != 1 {
		t.Fatalf("after one request with one key on three nodes: %+v %v", cs, err)
	}
}

// TestClusterTransaction: a transaction begun on one node is read, written
// and committed through others.
func TestClusterTransaction(t *testing.T) {
	nodes, _ := mustNodes(t, 3)
	ctx := context.Background()
	if _, err := nodes[0].Put(ctx, "acc", "x", []byte(`{"n":1}`), truce.Precondition{}, nil); err != nil {
		t.Fatal(err)
	}
	tx, err := nodes[0].BeginTransaction(ctx, time.Minute, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := nodes[1].TransactionGet(ctx, tx.ID, "acc", "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[2].TransactionWrite(ctx, tx.ID, truce.Op{Kind: truce.OpPut, Collection: "acc", ID: "x", Document: []byte(`{"n":2}`)}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[1].CommitTransaction(ctx, tx.ID, nil, nil); err != nil {
		t.Fatal(err)
	}
	d, err := nodes[2].Get(ctx, "acc", "x")
	if err != nil || string(d.Body) != `{"n":2}` {
		t.Fatalf("after the commit through another node: %v %s", err, d.Body)
	}
}
