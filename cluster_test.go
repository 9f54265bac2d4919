package truce_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/internal/pgtest"
	"github.com/trucedb/truce/pebble"
	"github.com/trucedb/truce/postgres"
)

// The root package's tests run through pgtest.Main, for the cluster tests'
// PostgreSQL.
func TestMain(m *testing.M) { pgtest.Main(m) }

// The tests in this file run several Services over one store: several
// truce nodes. Each runs twice (onBackends):
//   - over PostgreSQL, each node with a Store of its own (its own pool and
//     notification listener) on one database, as separate processes are;
//   - over one Pebble store in process, which says it is shared
//     (sharedStore), so that each Service keeps nothing that matters in its
//     own memory, as over a store that other processes share.

// sharedStore is a Pebble store that says it is shared (truce.SharedStore).
type sharedStore struct{ *pebble.Store }

func (sharedStore) Shared() bool { return true }

// nodesFunc returns n Services over one store, and a Store onto it for the
// test to look at what they wrote.
type nodesFunc func(tb testing.TB, n int, opts truce.Options) ([]*truce.Service, truce.Store)

// onBackends runs test over each kind of store that nodes share.
func onBackends(t *testing.T, test func(t *testing.T, mustNodes nodesFunc)) {
	t.Run("pebble", func(t *testing.T) { test(t, pebbleNodes) })
	t.Run("postgres", func(t *testing.T) { test(t, postgresNodes) })
}

// pebbleNodes returns n Services over one shared Pebble store.
func pebbleNodes(tb testing.TB, n int, opts truce.Options) ([]*truce.Service, truce.Store) {
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

// postgresNodes returns n Services, each over a Store of its own on one
// new PostgreSQL database, and the first node's Store.
func postgresNodes(tb testing.TB, n int, opts truce.Options) ([]*truce.Service, truce.Store) {
	tb.Helper()
	url := pgtest.Start(tb)
	nodes := make([]*truce.Service, n)
	var first truce.Store
	for i := range nodes {
		s, err := postgres.Open(context.Background(), url, postgres.Options{MaxConns: 8})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { s.Close() })
		if first == nil {
			first = s
		}
		nodes[i] = truce.NewService(s, opts)
	}
	return nodes, first
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
func TestClusterLockFIFO(t *testing.T) { onBackends(t, testClusterLockFIFO) }

func testClusterLockFIFO(t *testing.T, mustNodes nodesFunc) {
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
func TestClusterLockMutualExclusion(t *testing.T) { onBackends(t, testClusterLockMutualExclusion) }

func testClusterLockMutualExclusion(t *testing.T, mustNodes nodesFunc) {
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
func TestClusterLockWaiterGone(t *testing.T) { onBackends(t, testClusterLockWaiterGone) }

func testClusterLockWaiterGone(t *testing.T, mustNodes nodesFunc) {
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
func TestClusterLockGrantedAtExpiry(t *testing.T) { onBackends(t, testClusterLockGrantedAtExpiry) }

func testClusterLockGrantedAtExpiry(t *testing.T, mustNodes nodesFunc) {
	nodes, _ := mustNodes(t, 2, truce.Options{})
	held := mustLock(t, nodes[0], truce.LockRequest{Collection: "c", ID: "d", Owner: "ann", TTL: 200 * time.Millisecond})
	l := mustLock(t, nodes[1], truce.LockRequest{Collection: "c", ID: "d", Owner: "bob", Wait: 10 * time.Second})
	if time.Now().Before(held.ExpiresAt) || l.Fence <= held.Fence {
		t.Fatalf("granted %+v while %+v was held", l, held)
	}
}

// TestClusterLockExpiredElsewhere: a lock taken on a node that then died
// (its Run no longer runs) gets its lock.expired from another node's Run,
// soon after it ends, though that node never heard of it.
func TestClusterLockExpiredElsewhere(t *testing.T) { onBackends(t, testClusterLockExpiredElsewhere) }

func testClusterLockExpiredElsewhere(t *testing.T, mustNodes nodesFunc) {
	defer truce.SetSharedLockExpiryIdle(100 * time.Millisecond)()
	nodes, store := mustNodes(t, 2, truce.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- nodes[1].Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	time.Sleep(50 * time.Millisecond) // node 1's expirer sleeps, knowing of no lock
	mustLock(t, nodes[0], truce.LockRequest{Collection: "c", ID: "d", Owner: "gone", TTL: 200 * time.Millisecond})
	waitFor(t, func() bool {
		evs := lockEvents(t, store)
		return len(evs) == 2
	})
	if evs := lockEvents(t, store); evs[1] != "lock.expired c/d gone" {
		t.Fatalf("lock events %q", evs)
	}
}

// TestClusterIdempotencyClaims: a request with an idempotency key claims it
// in the store, so that the same key on another node is in use while the
// request runs, and gets the stored answer once it is answered; a claim is
// never taken for an answer; a claim is renewed while its request runs,
// freed when it ends without an answer, and ends by itself when its node
// dies.
func TestClusterIdempotencyClaims(t *testing.T) { onBackends(t, testClusterIdempotencyClaims) }

func testClusterIdempotencyClaims(t *testing.T, mustNodes nodesFunc) {
	defer truce.SetClusterTimings(time.Second, 20*time.Millisecond, 300*time.Millisecond)()
	nodes, store := mustNodes(t, 2, truce.Options{})
	ctx := t.Context()
	a, b := nodes[0], nodes[1]
	key := func(name string) *truce.IdempotencyKey {
		return &truce.IdempotencyKey{Caller: "c", Key: name, Fingerprint: []byte(name)}
	}

	k := key("put")
	rec, claim, err := a.ClaimIdempotency(ctx, k)
	if err != nil || rec != nil || claim == nil || k.Claim == "" {
		t.Fatalf("first claim: %+v %+v %v", rec, claim, err)
	}
	_, _, err = b.ClaimIdempotency(ctx, key("put"))
	if te := wantCode(t, "the key on another node while its request runs", err, truce.CodeIdempotencyKeyInUse); te.RetryAfter <= 0 {
		t.Fatalf("in use without Retry-After: %+v", te)
	}
	if rec, err := b.GetIdempotency(ctx, "c", "put"); err != nil || rec != nil {
		t.Fatalf("a claim read as an answer: %+v %v", rec, err)
	}
	time.Sleep(time.Second) // three leases: the claim is renewed
	_, _, err = b.ClaimIdempotency(ctx, key("put"))
	wantCode(t, "the key after three leases of its running request", err, truce.CodeIdempotencyKeyInUse)
	// The same key without the claim is refused even by the write itself.
	if _, err := b.Put(ctx, "notes", "n", []byte(`{"by":"b"}`), truce.Precondition{}, key("put")); truce.ErrorCode(err) != truce.CodeIdempotencyKeyInUse {
		t.Fatalf("a write with the key but not the claim: %v", err)
	}
	res, err := a.Put(ctx, "notes", "n", []byte(`{"by":"a"}`), truce.Precondition{}, k)
	if err != nil {
		t.Fatal(err)
	}
	if err := claim.Release(ctx); err != nil {
		t.Fatal(err)
	}
	rec, claim, err = b.ClaimIdempotency(ctx, key("put"))
	if err != nil || claim != nil || rec == nil || rec.Result == nil || rec.Result.Document.Seq != res.Document.Seq || rec.Claim != "" {
		t.Fatalf("the retry on another node: %+v %+v %v", rec, claim, err)
	}

	// A request that stores no answer frees its key when it ends.
	_, claim, err = a.ClaimIdempotency(ctx, key("refused"))
	if err != nil || claim == nil {
		t.Fatal(err)
	}
	if err := claim.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, claim, err = b.ClaimIdempotency(ctx, key("refused")); err != nil || claim == nil {
		t.Fatalf("the key of a request that stored nothing: %v", err)
	}
	claim.Release(ctx)

	// A dead node's claim ends by itself.
	dead := key("dead")
	dead.Claim = "gone"
	err = store.Update(ctx, func(tx truce.Tx) error {
		now := time.Now().UTC()
		return tx.PutIdempotency(&truce.IdempotencyRecord{IdempotencyKey: *dead, CreatedAt: now, ExpiresAt: now.Add(300 * time.Millisecond)})
	})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = b.ClaimIdempotency(ctx, key("dead"))
	wantCode(t, "the key of a dead node's request", err, truce.CodeIdempotencyKeyInUse)
	waitFor(t, func() bool {
		_, c, err := b.ClaimIdempotency(ctx, key("dead"))
		if c != nil {
			c.Release(ctx)
		}
		return err == nil && c != nil
	})
}

// TestClusterIdempotencyOneRuns: clients that send one request with one
// key, concurrently, to three nodes, and retry while the key is in use,
// all get the answer of the one request that ran: for a write that stores
// its answer in its commit, and for a lock request, whose answer is stored
// after it.
func TestClusterIdempotencyOneRuns(t *testing.T) { onBackends(t, testClusterIdempotencyOneRuns) }

func testClusterIdempotencyOneRuns(t *testing.T, mustNodes nodesFunc) {
	nodes, store := mustNodes(t, 3, truce.Options{})
	ctx := t.Context()
	const clients = 9
	run := func(name string, do func(node *truce.Service, k *truce.IdempotencyKey) (string, error), answer func(*truce.IdempotencyRecord) string) []string {
		answers := make([]string, clients)
		var wg sync.WaitGroup
		for i := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				node := nodes[i%len(nodes)]
				for {
					k := &truce.IdempotencyKey{Caller: "c", Key: name, Fingerprint: []byte(name)}
					rec, claim, err := node.ClaimIdempotency(ctx, k)
					if truce.ErrorCode(err) == truce.CodeIdempotencyKeyInUse {
						time.Sleep(time.Millisecond)
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					if rec != nil {
						answers[i] = answer(rec)
						return
					}
					answers[i], err = do(node, k)
					claim.Release(ctx)
					if err != nil {
						t.Error(err)
					}
					return
				}
			}()
		}
		wg.Wait()
		return answers
	}
	same := func(what string, answers []string) {
		t.Helper()
		for _, a := range answers {
			if a == "" || a != answers[0] {
				t.Fatalf("%s: answers %q, want one answer", what, answers)
			}
		}
	}

	answers := run("create", func(node *truce.Service, k *truce.IdempotencyKey) (string, error) {
		d, err := node.CreateLocked(ctx, "notes", []byte(`{}`), "", k)
		if err != nil {
			return "", err
		}
		return d.ID, nil
	}, func(rec *truce.IdempotencyRecord) string { return rec.Result.Document.ID })
	same("create", answers)
	if st, err := nodes[0].ListCollections(ctx); err != nil || len(st) != 1 || st[0].Stats.Documents != 1 {
		t.Fatalf("documents after one create with one key: %+v %v", st, err)
	}

	answers = run("lock", func(node *truce.Service, k *truce.IdempotencyKey) (string, error) {
		l, err := node.Lock(ctx, truce.LockRequest{Collection: "notes", ID: "x", TTL: time.Minute})
		if err != nil {
			return "", err
		}
		return l.Token, node.SaveIdempotency(ctx, k, []byte(l.Token))
	}, func(rec *truce.IdempotencyRecord) string { return string(rec.Answer) })
	same("lock", answers)
	if evs := lockEvents(t, store); len(evs) != 1 {
		t.Fatalf("lock events after one lock request with one key: %v", evs)
	}
}

// TestClusterTransaction: an interactive transaction begun on one node is
// read, written and committed through others; a write committed on a third
// node to what it read makes its commit a conflict.
func TestClusterTransaction(t *testing.T) { onBackends(t, testClusterTransaction) }

func testClusterTransaction(t *testing.T, mustNodes nodesFunc) {
	nodes, _ := mustNodes(t, 3, truce.Options{})
	ctx := t.Context()
	a, b, c := nodes[0], nodes[1], nodes[2]
	mustPut(t, a, "acc", "x", `{"balance":100}`)
	mustPut(t, a, "acc", "y", `{"balance":0}`)

	id := mustBegin(t, a, time.Minute)
	if d, staged, err := b.TransactionGet(ctx, id, "acc", "x"); err != nil || staged || d.Version != 1 {
		t.Fatalf("read through b: %+v %v %v", d, staged, err)
	}
	stage(t, c, id, txPut("x", `{"balance":70}`, truce.Precondition{}))
	stage(t, a, id, txPut("y", `{"balance":30}`, truce.Precondition{}))
	if d, staged, err := b.TransactionGet(ctx, id, "acc", "x"); err != nil || !staged || string(d.Body) != `{"balance":70}` {
		t.Fatalf("a write staged through c, read through b: %+v %v %v", d, staged, err)
	}
	if res, err := b.CommitTransaction(ctx, id, nil, nil); err != nil || len(res) != 2 {
		t.Fatalf("commit through b: %v %+v", err, res)
	}
	if bodyOf(t, c, "acc", "x") != `{"balance":70}` || bodyOf(t, a, "acc", "y") != `{"balance":30}` {
		t.Fatal("the commit did not apply both writes")
	}
	if _, err := c.CommitTransaction(ctx, id, nil, nil); truce.ErrorCode(err) != truce.CodeTransactionExpired {
		t.Fatalf("a second commit through c: %v", err)
	}

	id = mustBegin(t, b, time.Minute)
	if _, _, err := a.TransactionGet(ctx, id, "acc", "x"); err != nil {
		t.Fatal(err)
	}
	stage(t, a, id, txPut("y", `{"balance":0}`, truce.Precondition{}))
	mustPut(t, c, "acc", "x", `{"balance":1}`)
	if _, err := b.CommitTransaction(ctx, id, nil, nil); truce.ErrorCode(err) != truce.CodeTransactionConflict {
		t.Fatalf("commit after another node changed what it read: %v", err)
	}
	if err := c.RollbackTransaction(ctx, mustBegin(t, a, time.Minute)); err != nil {
		t.Fatalf("rollback through another node: %v", err)
	}
}

// TestClusterSettings: what one node keeps of a collection's settings (its
// compiled schema) follows changes made through another node: a write is
// checked against the settings committed when it commits, whichever node
// changed them, and a collection dropped and made again elsewhere starts
// afresh.
func TestClusterSettings(t *testing.T) { onBackends(t, testClusterSettings) }

func testClusterSettings(t *testing.T, mustNodes nodesFunc) {
	nodes, _ := mustNodes(t, 2, truce.Options{})
	ctx := t.Context()
	a, b := nodes[0], nodes[1]
	schema := func(typ string) truce.Settings {
		return truce.Settings{Schema: []byte(`{"type":"object","properties":{"n":{"type":"` + typ + `"}}}`)}
	}
	mustSettings(t, a, "c", schema("integer"))
	mustPut(t, b, "c", "x", `{"n":1}`) // b compiles and keeps the schema
	if _, err := b.Put(ctx, "c", "x", []byte(`{"n":"one"}`), truce.Precondition{}, nil); truce.ErrorCode(err) != truce.CodeSchemaViolation {
		t.Fatalf("a string under the integer schema: %v", err)
	}
	mustSettings(t, a, "c", schema("string"))
	mustPut(t, b, "c", "x", `{"n":"one"}`)
	if _, err := b.Put(ctx, "c", "x", []byte(`{"n":1}`), truce.Precondition{}, nil); truce.ErrorCode(err) != truce.CodeSchemaViolation {
		t.Fatalf("an integer after a changed the schema to string: %v", err)
	}
	if err := a.DeleteCollection(ctx, "c", true); err != nil {
		t.Fatal(err)
	}
	mustSettings(t, a, "c", truce.Settings{Unique: []string{"n"}})
	mustPut(t, b, "c", "x", `{"n":1}`)
	if _, err := b.Put(ctx, "c", "y", []byte(`{"n":1}`), truce.Precondition{}, nil); truce.ErrorCode(err) != truce.CodeUniqueViolation {
		t.Fatalf("a duplicate under the unique rule set through a: %v", err)
	}
}

// TestClusterFeed: a subscriber on one node gets the events of commits on
// others, in seq order, with the ids the log gave them.
func TestClusterFeed(t *testing.T) { onBackends(t, testClusterFeed) }

func testClusterFeed(t *testing.T, mustNodes nodesFunc) {
	nodes, store := mustNodes(t, 3, truce.Options{})
	ctx := t.Context()
	sub, err := nodes[2].Feed().Subscribe(ctx, 0, truce.FeedFilter{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for i := range 6 {
		mustPut(t, nodes[i%2], "c", fmt.Sprint("d", i), `{}`)
	}
	var got []int64
	for len(got) < 6 {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		evs, err := sub.Next(wctx, 100)
		cancel()
		if err != nil {
			t.Fatalf("after %d events: %v", len(got), err)
		}
		for _, e := range evs {
			got = append(got, e.Seq)
		}
	}
	log := events(t, store)
	for i, seq := range got {
		if seq != log[i].Seq {
			t.Fatalf("seqs %v, the log has %d at %d", got, log[i].Seq, i)
		}
	}
}
