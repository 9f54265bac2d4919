package truce_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/pebble"
)

// clock is a service clock that tests move forward.
type clock struct{ off atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) advance(d time.Duration) { c.off.Add(int64(d)) }
func lockSvc(store truce.Store, c *clock) *truce.Service {
	return truce.NewService(store, truce.Options{Now: c.now})
}

func mustLock(tb testing.TB, svc *truce.Service, r truce.LockRequest) *truce.Lock {
	tb.Helper()
	l, err := svc.Lock(context.Background(), r)
	if err != nil {
		tb.Fatalf("Lock(%s/%s): %v", r.Collection, r.ID, err)
	}
	return l
}

func wantCode(tb testing.TB, what string, err error, code truce.Code) *truce.Error {
	tb.Helper()
	var te *truce.Error
	if !errors.As(err, &te) || te.Code != code {
		tb.Fatalf("%s: got %v, want %s", what, err, code)
	}
	return te
}

// lockEvents returns the lock events of the change log as "type owner".
func lockEvents(tb testing.TB, store truce.Store) []string {
	tb.Helper()
	var out []string
	for _, e := range events(tb, store) {
		switch e.Type {
		case truce.EventLockAcquired, truce.EventLockReleased, truce.EventLockExpired:
			var info struct{ Owner string }
			if err := json.Unmarshal(e.Info, &info); err != nil {
				tb.Fatalf("event %d info %q: %v", e.Seq, e.Info, err)
			}
			out = append(out, string(e.Type)+" "+e.Collection+"/"+e.ID+" "+info.Owner)
		}
	}
	return out
}

// TestLockMutualExclusion: 16 goroutines each take the lock, read the
// counter, write it back plus one WITHOUT any version precondition, and
// release. The lock alone must keep every update.
func TestLockMutualExclusion(t *testing.T) {
	svc, store := mustService(t)
	ctx := context.Background()
	if _, err := svc.Put(ctx, "c", "n", []byte(`{"n":0}`), truce.Precondition{}, nil); err != nil {
		t.Fatal(err)
	}
	const workers, rounds = 16, 5
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				l, err := svc.Lock(ctx, truce.LockRequest{Collection: "c", ID: "n", Owner: fmt.Sprint("w", g), TTL: time.Minute, Wait: time.Minute})
				if err != nil {
					errs <- err
					return
				}
				d, err := svc.Get(ctx, "c", "n")
				if err != nil {
					errs <- err
					return
				}
				var v struct{ N int }
				_ = json.Unmarshal(d.Body, &v)
				if _, err := svc.Put(ctx, "c", "n", fmt.Appendf(nil, `{"n":%d}`, v.N+1), truce.Precondition{LockToken: l.Token}, nil); err != nil {
					errs <- err
					return
				}
				if err := svc.Unlock(ctx, "c", "n", l.Token); err != nil {
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
	d, err := svc.Get(ctx, "c", "n")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`{"n":%d}`, workers*rounds); string(d.Body) != want || d.Version != workers*rounds+1 {
		t.Fatalf("counter %s at version %d, want %s at version %d: an update was lost", d.Body, d.Version, want, workers*rounds+1)
	}
	evs := lockEvents(t, store)
	if len(evs) != 2*workers*rounds {
		t.Fatalf("%d lock events, want %d", len(evs), 2*workers*rounds)
	}
}

// TestLockFIFO: requests that wait get the lock in the order they came.
func TestLockFIFO(t *testing.T) {
	svc, _ := mustService(t)
	ctx := context.Background()
	first := mustLock(t, svc, truce.LockRequest{Collection: "c", ID: "d", Owner: "first", TTL: time.Minute})
	const n = 8
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := svc.Lock(ctx, truce.LockRequest{Collection: "c", ID: "d", Owner: fmt.Sprint(i), TTL: time.Minute, Wait: time.Minute})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			if err := svc.Unlock(ctx, "c", "d", l.Token); err != nil {
				t.Error(err)
			}
		}()
		waitFor(t, func() bool { return svc.LockWaiters("c", "d") == i+1 }) // queued before the next comes
	}
	// A request that does not wait must not overtake the queue either.
	if _, err := svc.Lock(ctx, truce.LockRequest{Collection: "c", ID: "d", TTL: time.Minute}); truce.ErrorCode(err) != truce.CodeLocked {
		t.Fatalf("a request without wait while others wait: %v, want locked", err)
	}
	if err := svc.Unlock(ctx, "c", "d", first.Token); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, got := range order {
		if got != i {
			t.Fatalf("grant order %v, want 0..%d", order, n-1)
		}
	}
	if len(order) != n {
		t.Fatalf("%d of %d waiters got the lock", len(order), n)
	}
}

func waitFor(tb testing.TB, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestLockWaitLeaves: a waiter whose context ends leaves the queue, and
// the one behind it is served; a wait that runs out is 423 with the
// holder's owner and expiry.
func TestLockWaitLeaves(t *testing.T) {
	svc, _ := mustService(t)
	ctx := context.Background()
	holder := mustLock(t, svc, truce.LockRequest{Collection: "c", ID: "d", Owner: "ann", TTL: time.Minute})

	cctx, cancel := context.WithCancel(ctx)
	gone := make(chan error, 1)
	go func() {
		_, err := svc.Lock(cctx, truce.LockRequest{Collection: "c", ID: "d", Owner: "quitter", Wait: time.Minute})
		gone <- err
	}()
	waitFor(t, func() bool { return svc.LockWaiters("c", "d") == 1 })
	got := make(chan *truce.Lock, 1)
	go func() {
		l, err := svc.Lock(ctx, truce.LockRequest{Collection: "c", ID: "d", Owner: "patient", Wait: time.Minute})
		if err != nil {
			t.Error(err)
		}
		got <- l
	}()
	waitFor(t, func() bool { return svc.LockWaiters("c", "d") == 2 })
	cancel()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v", err)
	}
	waitFor(t, func() bool { return svc.LockWaiters("c", "d") == 1 })

	start := time.Now()
	_, err := svc.Lock(ctx, truce.LockRequest{Collection: "c", ID: "d", Owner: "hasty", Wait: 50 * time.Millisecond})
	te := wantCode(t, "wait ran out", err, truce.CodeLocked)
	if te.LockOwner != "ann" || !te.LockExpiresAt.Equal(holder.ExpiresAt) || te.RetryAfter <= 0 || time.Since(start) < 50*time.Millisecond {
		t.Fatalf("423 after the wait: %+v", te)
	}
	if err := svc.Unlock(ctx, "c", "d", holder.Token); err != nil {
		t.Fatal(err)
	}
	if l := <-got; l == nil || l.Owner != "patient" {
		t.Fatalf("the waiter behind the one that left got %+v", l)
	}
	if n := svc.LockWaiters("c", "d"); n != 0 {
		t.Fatalf("%d waiters left", n)
	}
}

// TestLockGrantedAtExpiry: a waiter gets the lock when the holder's lease
// ends, with no release and no polling by anyone; the change log shows the
// expiry before the new acquisition.
func TestLockGrantedAtExpiry(t *testing.T) {
	svc, store := mustService(t)
	ctx := context.Background()
	old := mustLock(t, svc, truce.LockRequest{Collection: "c", ID: "d", Owner: "ann", TTL: 200 * time.Millisecond})
	l, err := svc.Lock(ctx, truce.LockRequest{Collection: "c", ID: "d", Owner: "bob", Wait: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if time.Now().Before(old.ExpiresAt) || l.Owner != "bob" || l.Fence <= old.Fence {
		t.Fatalf("granted %+v before %v", l, old.ExpiresAt)
	}
	want := []string{"lock.acquired c/d ann", "lock.expired c/d ann", "lock.acquired c/d bob"}
	if got := lockEvents(t, store); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("lock events %v, want %v", got, want)
	}
}

// TestLockExpiryAndFencing: a holder that stops renewing loses the lock at
// its TTL; another takes it over; the old holder's writes are refused (423
// while the new lock lives, 412 lock_expired after), and so are writes
// without a token while the lock lives.
func TestLockExpiryAndFencing(t *testing.T) {
	store := mustStore(t)
	c := &clock{}
	svc := lockSvc(store, c)
	ctx := context.Background()
	ann := mustLock(t, svc, truce.LockRequest{Collection: "c", ID: "d", Owner: "ann", TTL: 10 * time.Second})
	// Create under the lock: nobody else may create the document.
	if _, err := svc.Put(ctx, "c", "d", []byte(`{"by":"bob"}`), truce.Precondition{}, nil); truce.ErrorCode(err) != truce.CodeLocked {
		t.Fatalf("create by another while locked: %v", err)
	}
	if _, err := svc.Put(ctx, "c", "d", []byte(`{"by":"ann"}`), truce.Precondition{IfNoneMatch: []string{"*"}, LockToken: ann.Token}, nil); err != nil {
		t.Fatal(err)
	}
	// Preconditions still apply to the holder.
	if _, err := svc.Put(ctx, "c", "d", []byte(`{"by":"ann"}`), truce.Precondition{Version: 7, LockToken: ann.Token}, nil); truce.ErrorCode(err) != truce.CodeVersionConflict {
		t.Fatalf("stale version by the holder: %v", err)
	}
	if _, err := svc.RenewLock(ctx, "c", "d", ann.Token, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	c.advance(9 * time.Second)
	if _, err := svc.Put(ctx, "c", "d", []byte(`{"by":"ann"}`), truce.Precondition{LockToken: ann.Token}, nil); err != nil {
		t.Fatalf("the renewal did not extend the lease: %v", err)
	}
	c.advance(2 * time.Second) // ann stopped renewing: the lease is over
	if _, err := svc.GetLock(ctx, "c", "d"); truce.ErrorCode(err) != truce.CodeNotFound {
		t.Fatalf("GetLock after expiry: %v", err)
	}
	bob := mustLock(t, svc, truce.LockRequest{Collection: "c", ID: "d", Owner: "bob", TTL: 10 * time.Second})
	_, err := svc.Put(ctx, "c", "d", []byte(`{"by":"ann"}`), truce.Precondition{LockToken: ann.Token}, nil)
	if te := wantCode(t, "old holder while bob holds", err, truce.CodeLocked); te.LockOwner != "bob" {
		t.Fatalf("423 names %q", te.LockOwner)
	}
	if _, err := svc.RenewLock(ctx, "c", "d", ann.Token, time.Second); truce.ErrorCode(err) != truce.CodeLockTokenMismatch {
		t.Fatalf("renew with another's token: %v", err)
	}
	if err := svc.Unlock(ctx, "c", "d", ann.Token); truce.ErrorCode(err) != truce.CodeLockTokenMismatch {
		t.Fatalf("unlock with another's token: %v", err)
	}
	if err := svc.Unlock(ctx, "c", "d", bob.Token); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"put":    second(svc.Put(ctx, "c", "d", []byte(`{"by":"ann"}`), truce.Precondition{LockToken: ann.Token}, nil)),
		"delete": second(svc.Delete(ctx, "c", "d", truce.Precondition{LockToken: ann.Token}, nil)),
		"unlock": svc.Unlock(ctx, "c", "d", ann.Token),
		"renew":  second(svc.RenewLock(ctx, "c", "d", ann.Token, time.Second)),
	} {
		wantCode(t, name+" with an ended lock's token", err, truce.CodeLockExpired)
	}
	d, err := svc.Get(ctx, "c", "d")
	if err != nil || d.Version != 2 {
		t.Fatalf("document %+v, %v: a refused write changed it", d, err)
	}
	if _, err := svc.Put(ctx, "c", "d", []byte(`{"by":"anyone"}`), truce.Precondition{}, nil); err != nil {
		t.Fatalf("a write without a token once nobody holds the lock: %v", err)
	}
	want := []string{"lock.acquired c/d ann", "lock.expired c/d ann", "lock.acquired c/d bob", "lock.released c/d bob"}
	if got := lockEvents(t, store); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("lock events %v, want %v", got, want)
	}
}

func second[T any](_ T, err error) error { return err }

func mustStore(tb testing.TB) *pebble.Store {
	tb.Helper()
	store, err := pebble.Open(tb.TempDir(), pebble.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	return store
}

// TestLockSurvivesRestart: the lock is in the store, so a new process
// enforces it.
func TestLockSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	store, err := pebble.Open(dir, pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l := mustLock(t, truce.NewService(store, truce.Options{}), truce.LockRequest{Collection: "c", ID: "d", Owner: "ann", TTL: time.Minute})
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	store, err = pebble.Open(dir, pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	svc := truce.NewService(store, truce.Options{})
	if _, err := svc.Put(ctx, "c", "d", []byte(`{}`), truce.Precondition{}, nil); truce.ErrorCode(err) != truce.CodeLocked {
		t.Fatalf("write without the token after a restart: %v", err)
	}
	got, err := svc.GetLock(ctx, "c", "d")
	if err != nil || got.Owner != "ann" || !got.ExpiresAt.Equal(l.ExpiresAt) || got.Token != "" {
		t.Fatalf("GetLock after a restart: %+v, %v", got, err)
	}
	if _, err := svc.Put(ctx, "c", "d", []byte(`{}`), truce.Precondition{LockToken: l.Token}, nil); err != nil {
		t.Fatalf("write with the token after a restart: %v", err)
	}
}

// TestLockExpiredOnce: many locks end at once while the expirer, new lock
// requests, renewals and releases race to notice: each ended lock gets
// exactly one lock.expired.
func TestLockExpiredOnce(t *testing.T) {
	store := mustStore(t)
	c := &clock{}
	svc := lockSvc(store, c)
	ctx := context.Background()
	const docs = 40
	tokens := make([]string, docs)
	for i := range docs {
		tokens[i] = mustLock(t, svc, truce.LockRequest{Collection: "c", ID: fmt.Sprint("d", i), Owner: "old", TTL: time.Second}).Token
	}
	c.advance(2 * time.Second)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < docs; i += 2 {
				id := fmt.Sprint("d", i)
				switch g % 4 {
				case 0:
					_, _ = svc.ExpireLocks(ctx)
				case 1:
					_, _ = svc.Lock(ctx, truce.LockRequest{Collection: "c", ID: id, Owner: "new", TTL: time.Minute})
				case 2:
					_ = svc.Unlock(ctx, "c", id, tokens[i])
				case 3:
					_, _ = svc.RenewLock(ctx, "c", id, tokens[i], time.Second)
				}
			}
		}()
	}
	expCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = svc.Run(expCtx) }()
	wg.Wait()
	waitFor(t, func() bool {
		n := 0
		for _, e := range lockEvents(t, store) {
			if e[:len("lock.expired")] == "lock.expired" {
				n++
			}
		}
		return n >= docs
	})
	stop()
	<-done
	if _, err := svc.ExpireLocks(ctx); err != nil {
		t.Fatal(err)
	}
	expired := map[string]int{}
	for _, e := range lockEvents(t, store) {
		var typ, ref, owner string
		fmt.Sscan(e, &typ, &ref, &owner)
		if typ == "lock.expired" {
			expired[ref+" "+owner]++
		}
		if typ == "lock.released" && owner == "old" {
			t.Errorf("an ended lock was released: %s", e)
		}
	}
	for i := range docs {
		if n := expired[fmt.Sprintf("c/d%d old", i)]; n != 1 {
			t.Errorf("c/d%d: %d lock.expired events, want 1", i, n)
		}
	}
	if len(expired) != docs {
		t.Errorf("lock.expired for %v", expired)
	}
}

// TestLockRequests: validation, defaults and caps, inspection without the
// token, and force-break.
func TestLockRequests(t *testing.T) {
	store := mustStore(t)
	svc := truce.NewService(store, truce.Options{MaxLockTTL: time.Minute})
	ctx := context.Background()
	for name, r := range map[string]truce.LockRequest{
		"negative ttl":  {Collection: "c", ID: "d", TTL: -time.Second},
		"negative wait": {Collection: "c", ID: "d", Wait: -time.Second},
		"bad owner":     {Collection: "c", ID: "d", Owner: "a\nb"},
		"bad id":        {Collection: "c", ID: "a/b"},
		"bad coll":      {Collection: "C", ID: "d"},
	} {
		if _, err := svc.Lock(ctx, r); err == nil || truce.ErrorCode(err) == truce.CodeInternal {
			t.Errorf("%s: %v, want a 400-class error", name, err)
		}
	}
	l := mustLock(t, svc, truce.LockRequest{Collection: "c", ID: "d"})
	if d := l.ExpiresAt.Sub(l.AcquiredAt); d != truce.DefaultLockTTL || l.Owner != "anonymous" || len(l.Token) != 32 {
		t.Fatalf("default lock %+v", l)
	}
	r, err := svc.RenewLock(ctx, "c", "d", l.Token, time.Hour)
	if err != nil || r.ExpiresAt.Sub(r.AcquiredAt) > time.Minute+time.Second {
		t.Fatalf("renew past the cap: %+v, %v", r, err)
	}
	if err := svc.BreakLock(ctx, "c", "d"); err != nil {
		t.Fatal(err)
	}
	if err := svc.BreakLock(ctx, "c", "d"); truce.ErrorCode(err) != truce.CodeNotFound {
		t.Fatalf("break without a lock: %v", err)
	}
	if _, err := svc.Put(ctx, "c", "d", []byte(`{}`), truce.Precondition{}, nil); err != nil {
		t.Fatalf("write after a break: %v", err)
	}
	evs := events(t, store)
	last := evs[len(evs)-2]
	if last.Type != truce.EventLockReleased || string(last.Info) != `{"owner":"anonymous","forced":true}` {
		t.Fatalf("break event %+v %s", last, last.Info)
	}
}

// TestLockExpirer: a lock nobody touches again gets its lock.expired from
// the expirer, which wakes for the lock's expiry rather than polling.
func TestLockExpirer(t *testing.T) {
	svc, store := mustService(t)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = svc.Run(ctx) }()
	defer func() { stop(); <-done }()
	l := mustLock(t, svc, truce.LockRequest{Collection: "c", ID: "d", Owner: "ann", TTL: 150 * time.Millisecond})
	want := []string{"lock.acquired c/d ann", "lock.expired c/d ann"}
	waitFor(t, func() bool { return fmt.Sprint(lockEvents(t, store)) == fmt.Sprint(want) })
	if time.Now().Before(l.ExpiresAt) {
		t.Fatal("lock.expired before the lock ended")
	}
	var left []*truce.Lock
	if err := store.View(context.Background(), func(tx truce.ReadTx) error {
		var err error
		left, err = tx.LocksByExpiry(time.Now().Add(time.Hour), 10)
		return err
	}); err != nil || len(left) != 0 {
		t.Fatalf("lock records left: %v %v", left, err)
	}
}

// TestLockFencesConcurrentWriters: while one client holds the lock, many
// writers without its token race the holder's own writes; every one of
// theirs is refused and every one of the holder's lands, in one unbroken
// run of versions.
func TestLockFencesConcurrentWriters(t *testing.T) {
	svc, _ := mustService(t)
	ctx := context.Background()
	if _, err := svc.Put(ctx, "c", "d", []byte(`{"by":"nobody"}`), truce.Precondition{}, nil); err != nil {
		t.Fatal(err)
	}
	l := mustLock(t, svc, truce.LockRequest{Collection: "c", ID: "d", Owner: "holder", TTL: time.Minute})
	const others, writes = 8, 20
	var wg sync.WaitGroup
	var landed atomic.Int64
	for g := range others + 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pre, body := truce.Precondition{}, []byte(`{"by":"other"}`)
			if g == others {
				pre, body = truce.Precondition{LockToken: l.Token}, []byte(`{"by":"holder"}`)
			}
			for range writes {
				_, err := svc.Put(ctx, "c", "d", body, pre, nil)
				switch {
				case g == others && err != nil:
					t.Errorf("the holder's write: %v", err)
				case g != others && truce.ErrorCode(err) != truce.CodeLocked:
					t.Errorf("a write without the token: %v, want locked", err)
				case err == nil:
					landed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	cur, err := svc.Get(ctx, "c", "d")
	if err != nil {
		t.Fatal(err)
	}
	if landed.Load() != writes || cur.Version != writes+1 {
		t.Fatalf("%d writes landed, document at version %d; want %d and %d", landed.Load(), cur.Version, writes, writes+1)
	}
	for v := int64(2); v <= writes+1; v++ {
		d, err := svc.GetVersion(ctx, "c", "d", v)
		if err != nil || string(d.Body) != `{"by":"holder"}` {
			t.Fatalf("version %d: %s %v", v, d.Body, err)
		}
	}
}
