package truce_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/trucedb/truce"
)

// The Service's clock may jump, backwards or forwards, as a wall clock does
// when NTP steps it or an operator sets it. These tests jump the clock given
// as Options.Now and check what must not depend on it: the order of
// versions and of the change feed, the fencing of locks, and resuming the
// feed.

// TestClockJumpVersionsKeepOrder: versions, ETags and history stay in
// commit order whichever way the clock jumps between writes; only
// _updatedAt follows the clock.
func TestClockJumpVersionsKeepOrder(t *testing.T) {
	store := mustStore(t)
	c := &clock{}
	svc := lockSvc(store, c)
	ctx := context.Background()
	jumps := []time.Duration{0, -time.Hour, 3 * time.Hour, -24 * time.Hour, time.Minute, -time.Second}
	etags := map[string]bool{}
	for i, j := range jumps {
		c.advance(j)
		r, err := svc.Put(ctx, "c", "d", fmt.Appendf(nil, `{"n":%d}`, i), truce.Precondition{}, nil)
		if err != nil {
			t.Fatalf("write %d after a jump of %s: %v", i, j, err)
		}
		if r.Document.Version != int64(i+1) {
			t.Fatalf("write %d after a jump of %s got version %d", i, j, r.Document.Version)
		}
		if etags[r.Document.ETag()] {
			t.Fatalf("ETag %s given out twice", r.Document.ETag())
		}
		etags[r.Document.ETag()] = true
	}
	d, err := svc.Get(ctx, "c", "d")
	if err != nil || d.Version != int64(len(jumps)) || string(d.Body) != fmt.Sprintf(`{"n":%d}`, len(jumps)-1) {
		t.Fatalf("current: %+v %v", d, err)
	}
	page, err := svc.ListVersions(ctx, "c", "d", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range page.Items {
		if want := int64(len(jumps) - i); v.Version != want {
			t.Fatalf("history item %d is version %d, want %d (newest first, by version)", i, v.Version, want)
		}
	}
	last := int64(0)
	for _, e := range events(t, store) {
		if e.Seq <= last {
			t.Fatalf("event seq %d after %d", e.Seq, last)
		}
		last = e.Seq
	}
}

// TestClockJumpLockFencing: a forward jump may end a lease early by the
// wall clock, but never lets two holders write: the next holder's fence is
// higher and the old token is refused, also after the clock jumps back. A
// backward jump lengthens a lease; it never ends one early.
func TestClockJumpLockFencing(t *testing.T) {
	store := mustStore(t)
	c := &clock{}
	svc := lockSvc(store, c)
	ctx := context.Background()
	put := func(who, token string) error {
		_, err := svc.Put(ctx, "c", "d", []byte(`{"by":"`+who+`"}`), truce.Precondition{LockToken: token}, nil)
		return err
	}
	ann := mustLock(t, svc, truce.LockRequest{Collection: "c", ID: "d", Owner: "ann", TTL: time.Minute})
	if err := put("ann", ann.Token); err != nil {
		t.Fatal(err)
	}
	// Backwards: the lease goes on; others are still refused.
	c.advance(-time.Hour)
	wantCode(t, "a write without the token after a backward jump", put("eve", ""), truce.CodeLocked)
	if err := put("ann", ann.Token); err != nil {
		t.Fatalf("the holder after a backward jump: %v", err)
	}
	// Forwards past the lease: bob takes the lock, with a higher fence.
	c.advance(2 * time.Hour)
	bob := mustLock(t, svc, truce.LockRequest{Collection: "c", ID: "d", Owner: "bob", TTL: time.Minute})
	if bob.Fence <= ann.Fence {
		t.Fatalf("bob's fence %d is not above ann's %d", bob.Fence, ann.Fence)
	}
	wantCode(t, "the old holder after a forward jump", put("ann", ann.Token), truce.CodeLocked)
	// And back again: ann's lease looks live by the clock, but bob holds
	// the lock; ann's token stays refused.
	c.advance(-2 * time.Hour)
	wantCode(t, "the old holder after the clock came back", put("ann", ann.Token), truce.CodeLocked)
	if err := put("bob", bob.Token); err != nil {
		t.Fatalf("bob after the clock came back: %v", err)
	}
	if err := svc.Unlock(ctx, "c", "d", bob.Token); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "the old holder once the lock is released", put("ann", ann.Token), truce.CodeLockExpired)
	d, err := svc.Get(ctx, "c", "d")
	if err != nil || d.Version != 3 || string(d.Body) != `{"by":"bob"}` {
		t.Fatalf("the document: %+v %v: a refused write changed it", d, err)
	}
}

// TestClockJumpFeedResume: the change feed is ordered by seq, not time:
// writes across clock jumps are delivered in commit order, and a resume
// from any seq gets exactly the events after it.
func TestClockJumpFeedResume(t *testing.T) {
	store := mustStore(t)
	c := &clock{}
	svc := lockSvc(store, c)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const n = 30
	for i := range n {
		if i%3 == 1 {
			c.advance(-37 * time.Minute)
		} else if i%3 == 2 {
			c.advance(time.Hour)
		}
		if _, err := svc.Put(ctx, "c", fmt.Sprint("d", i%7), fmt.Appendf(nil, `{"i":%d}`, i), truce.Precondition{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, since := range []int64{0, 1, 13, n - 1, n} {
		sub, err := svc.Feed().Subscribe(ctx, since, truce.FeedFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for int64(len(got)) < n-since {
			evs, err := sub.Next(ctx, 100)
			if err != nil {
				t.Fatalf("resume from %d after %v: %v", since, got, err)
			}
			for _, e := range evs {
				got = append(got, e.Seq)
			}
		}
		sub.Close()
		for i, s := range got {
			if s != since+1+int64(i) {
				t.Fatalf("resume from %d: %v", since, got)
			}
		}
	}
}
