package truce_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/pebble"
)

// The tests in this file run several Services over one store: several
// truce nodes, as over PostgreSQL. A Pebble store belongs to one process,
// so each Service here is a node only in what it keeps in its own memory;
// sharedStore makes them keep nothing that matters there, as over a store
// that other processes share.

// sharedStore is a Pebble store that says it is shared (truce.SharedStore).
type sharedStore struct{ *pebble.Store }

func (sharedStore) Shared() bool { return true }

// mustNodes returns n Services over one shared store.
func mustNodes(tb testing.TB, n int, opts truce.Options) ([]*truce.Service, truce.Store) {
	tb.Helper()
	ps, err := pebble.Open(tb.TempDir(), pebble.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ps.Close() })
	store := sharedStore{ps}
	nodes := make([]*truce.Service, n)
	for i := range nodes {
		nodes[i] = truce.NewService(store, opts)
	}
	return nodes, store
}

// queued returns the live queue records of a document's lock.
func queued(tb testing.TB, store truce.Store, collection, id string) []*truce.LockWaiter {
	tb.Helper()
	var live []*truce.LockWaiter
	err := store.View(context.Background(), func(tx truce.ReadTx) error {
		ws, err := tx.LockWaiters(collection, id)
		for _, w := range ws {
			if time.Now().Before(w.ExpiresAt) {
				live = append(live, w)
			}
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return live
}

// TestClusterLockFIFO: requests waiting on two nodes get the lock in the
// order they joined the queue, whichever node they wait on and whichever
// node releases it; a request that does not wait overtakes nobody.
func TestClusterLockFIFO(t *testing.T) {
	nodes, store := mustNodes(t, 2, truce.Options{})
	ctx := t.Context()
	first := mustLock(t, nodes[0], truce.LockRequest{Collection: "c", ID: "d", Owner: "first", TTL: time.Minute})
	const n = 8
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := nodes[i%2].Lock(ctx, truce.LockRequest{Collection: "c", ID: "d", Owner: fmt.Sprint(i), TTL: time.Minute, Wait: time.Minute})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			// Released through the other node.
			if err := nodes[(i+1)%2].Unlock(ctx, "c", "d", l.Token); err != nil {
				t.Error(err)
			}
		}()
		waitFor(t, func() bool { return len(queued(t, store, "c", "d")) == i+1 }) // queued before the next comes
	}
	for _, node := range nodes {
		if _, err := node.Lock(ctx, truce.LockRequest{Collection: "c", ID: "d", TTL: time.Minute}); truce.ErrorCode(err) != truce.CodeLocked {
			t.Fatalf("a request without wait while others wait: %v, want locked", err)
		}
	}
	if err := nodes[1].Unlock(ctx, "c", "d", first.Token); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if len(order) != n {
		t.Fatalf("%d of %d waiters got the lock", len(order), n)
	}
	for i, got := range order {
		if got != i {
			t.Fatalf("grant order %v, want 0..%d", order, n-1)
		}
	}
	if q := queued(t, store, "c", "d"); len(q) != 0 {
		t.Fatalf("%d queue records left", len(q))
	}
	var left []*truce.LockWaiter
	_ = store.View(ctx, func(tx truce.ReadTx) (err error) { left, err = tx.LockWaiters("c", "d"); return err })
	if len(left) != 0 {
		t.Fatalf("%d ended queue records left", len(left))
	}
}

// TestClusterLockMutualExclusion: workers on three nodes increment a
// counter under the lock, each read and write through a random node: no
// update is lost, and only the holder's token writes.
func TestClusterLockMutualExclusion(t *testing.T) {
	nodes, store := mustNodes(t, 3, truce.Options{})
	ctx := t.Context()
	mustPut(t, nodes[0], "c", "n", `{"n":0}`)
	const workers, rounds = 6, 5
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				node := func(k int) *truce.Service { return nodes[(w+r+k)%len(nodes)] }
				l, err := node(0).Lock(ctx, truce.LockRequest{Collection: "c", ID: "n", Owner: fmt.Sprint(w), TTL: time.Minute, Wait: time.Minute})
				if err != nil {
					errs <- err
					return
				}
				d, err := node(1).Get(ctx, "c", "n")
				if err != nil {
					errs <- err
					return
				}
				var n int
				fmt.Sscanf(string(d.Body), `{"n":%d}`, &n)
				if _, err := node(2).Put(ctx, "c", "n", fmt.Appendf(nil, `{"n":%d}`, n+1), truce.Precondition{LockToken: l.Token}, nil); err != nil {
					errs <- err
					return
				}
				if err := node(1).Unlock(ctx, "c", "n", l.Token); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got, want := bodyOf(t, nodes[1], "c", "n"), fmt.Sprintf(`{"n":%d}`, workers*rounds); got != want {
		t.Fatalf("counter %s, want %s: an update was lost", got, want)
	}
	if evs := lockEvents(t, store); len(evs) != 2*workers*rounds {
		t.Fatalf("%d lock events, want %d", len(evs), 2*workers*rounds)
	}
}

// TestClusterLockWaiterGone: a queue record whose node died (nobody renews
// it) holds up the queue only until it ends; a request that leaves the
// queue on one node lets the next, on another, through.
func TestClusterLockWaiterGone(t *testing.T) {
	defer truce.SetClusterTimings(300*time.Millisecond, 20*time.Millisecond, time.Second)()
	nodes, store := mustNodes(t, 2, truce.Options{})
	ctx := t.Context()

	// A dead node's request heads the queue of a free lock.
	err := store.Update(ctx, func(tx truce.Tx) error {
		return tx.PutLockWaiter(&truce.LockWaiter{Collection: "c", ID: "d", Ticket: 1, Waiter: "dead",
			ExpiresAt: time.Now().Add(1500 * time.Millisecond)})
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// It waits a second for the head's handoff, then gives up.
	if _, err := nodes[0].Lock(ctx, truce.LockRequest{Collection: "c", ID: "d"}); truce.ErrorCode(err) != truce.CodeLocked {
		t.Fatalf("a request without wait behind a waiter: %v, want locked", err)
	}
	l := mustLock(t, nodes[1], truce.LockRequest{Collection: "c", ID: "d", Owner: "next", Wait: 10 * time.Second})
	if waited := time.Since(start); waited < 1400*time.Millisecond || waited > 6*time.Second {
		t.Fatalf("the lock behind a dead waiter was granted after %s; want after its record ended", waited)
	}
	var left []*truce.LockWaiter
	_ = store.View(ctx, func(tx truce.ReadTx) (err error) { left, err = tx.LockWaiters("c", "d"); return err })
	if len(left) != 0 {
		t.Fatalf("queue records left after the grant: %+v", left)
	}

	// A waiter that outlives its record's lease renews it and keeps its
	// place; one that gives up on node 0 lets node 1's through.
	cctx, cancel := context.WithCancel(ctx)
	gone := make(chan error, 1)
	go func() {
		_, err := nodes[0].Lock(cctx, truce.LockRequest{Collection: "c", ID: "d", Owner: "quitter", Wait: time.Minute})
		gone <- err
	}()
	waitFor(t, func() bool { return len(queued(t, store, "c", "d")) == 1 })
	got := make(chan *truce.Lock, 1)
	go func() {
		l, err := nodes[1].Lock(ctx, truce.LockRequest{Collection: "c", ID: "d", Owner: "patient", Wait: time.Minute})
		if err != nil {
			t.Error(err)
		}
		got <- l
	}()
	waitFor(t, func() bool { return len(queued(t, store, "c", "d")) == 2 })
	time.Sleep(time.Second) // three leases: the records are renewed
	if q := queued(t, store, "c", "d"); len(q) != 2 || q[0].Ticket >= q[1].Ticket {
		t.Fatalf("queue after three leases: %+v", q)
	}
	cancel()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v", err)
	}
	if err := nodes[0].Unlock(ctx, "c", "d", l.Token); err != nil {
		t.Fatal(err)
	}
	select {
	case l := <-got:
		if l == nil || l.Owner != "patient" {
			t.Fatalf("the waiter behind the one that left got %+v", l)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter behind the one that left never got the lock")
	}
}

// TestClusterLockGrantedAtExpiry: a request on one node gets the lock when
// the lease of a holder on another ends.
func TestClusterLockGrantedAtExpiry(t *testing.T) {
	nodes, _ := mustNodes(t, 2, truce.Options{})
	held := mustLock(t, nodes[0], truce.LockRequest{Collection: "c", ID: "d", Owner: "ann", TTL: 200 * time.Millisecond})
	l := mustLock(t, nodes[1], truce.LockRequest{Collection: "c", ID: "d", Owner: "bob", Wait: 10 * time.Second})
	if time.Now().Before(held.ExpiresAt) || l.Fence <= held.Fence {
		t.Fatalf("granted %+v while %+v was held", l, held)
	}
}
