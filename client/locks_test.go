package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/trucedb/truce/client"
)

// TestWithLockCounter: 16 clients each take the lock with WithLock, read
// the counter and write it back plus one with no version precondition at
// all: the lock alone must keep every update.
func TestWithLockCounter(t *testing.T) {
	c := mustClient(t, mustServe(t))
	ctx := testCtx(t)
	if _, err := c.Put(ctx, "c", "n", map[string]int{"n": 0}); err != nil {
		t.Fatal(err)
	}
	const workers = 16
	var wg sync.WaitGroup
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.WithLock(ctx, "c", "n", 10*time.Second, func(ctx context.Context, l *client.Lock) error {
				d, err := c.Get(ctx, "c", "n")
				if err != nil {
					return err
				}
				var v struct{ N int }
				if err := d.Decode(&v); err != nil {
					return err
				}
				_, err = c.Put(ctx, "c", "n", map[string]int{"n": v.N + 1}, client.LockToken(l.Token()))
				return err
			}, client.LockWait(time.Minute), client.LockOwner(fmt.Sprint("worker ", g)))
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	d, err := c.Get(ctx, "c", "n")
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ N int }
	if err := d.Decode(&v); err != nil || v.N != workers {
		t.Fatalf("counter %s, want %d: an update was lost", d.Raw, workers)
	}
}

// TestLockRenewsAndReportsLoss: a Lock outlives its ttl by renewing
// itself; when an administrator breaks it, Lost closes, WithLock's context
// ends with ErrLockLost, and the holder's next write is refused.
func TestLockRenewsAndReportsLoss(t *testing.T) {
	c := mustClient(t, mustServe(t))
	ctx := testCtx(t)
	l, err := c.Lock(ctx, "c", "d", 300*time.Millisecond, client.LockOwner("ann"))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // three ttls
	select {
	case <-l.Lost():
		t.Fatalf("lost while renewing: %v", l.Err())
	default:
	}
	if _, err := c.Put(ctx, "c", "d", map[string]int{"x": 1}, client.LockToken(l.Token())); err != nil {
		t.Fatalf("write with the token after three ttls: %v", err)
	}
	_, err = c.Lock(ctx, "c", "d", time.Second)
	var e *client.Error
	if !client.IsLocked(err) || !errors.As(err, &e) || e.RetryAfter <= 0 {
		t.Fatalf("a second Lock: %v", err)
	}
	info, err := c.GetLock(ctx, "c", "d")
	if err != nil || info.Owner != "ann" || info.ExpiresAt.IsZero() {
		t.Fatalf("GetLock: %+v %v", info, err)
	}
	if err := c.BreakLock(ctx, "c", "d"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Lost():
	case <-time.After(10 * time.Second):
		t.Fatal("the broken lock was not reported lost")
	}
	if !client.IsLockLost(l.Err()) || !errors.Is(l.Err(), client.ErrLockLost) {
		t.Fatalf("Err after loss: %v", l.Err())
	}
	if _, err := c.Put(ctx, "c", "d", map[string]int{"x": 2}, client.LockToken(l.Token())); !client.IsLockLost(err) {
		t.Fatalf("write with a lost lock's token: %v", err)
	}
	if err := l.Unlock(ctx); !client.IsLockLost(err) {
		t.Fatalf("Unlock of a lost lock: %v", err)
	}

	// WithLock: fn's context ends when the lock is lost.
	err = c.WithLock(ctx, "c", "d", 300*time.Millisecond, func(fctx context.Context, l *client.Lock) error {
		if err := c.BreakLock(ctx, "c", "d"); err != nil {
			return err
		}
		<-fctx.Done()
		if !errors.Is(context.Cause(fctx), client.ErrLockLost) {
			return fmt.Errorf("cause %v", context.Cause(fctx))
		}
		return nil
	})
	if !errors.Is(err, client.ErrLockLost) {
		t.Fatalf("WithLock after a loss: %v", err)
	}
	if _, err := c.GetLock(ctx, "c", "d"); !client.IsNotFound(err) {
		t.Fatalf("GetLock without a lock: %v", err)
	}
}

// TestLockWaitAndOptions: LockWait queues for a lock that is released; bad
// options are refused before any request.
func TestLockWaitAndOptions(t *testing.T) {
	c := mustClient(t, mustServe(t))
	ctx := testCtx(t)
	l, err := c.Lock(ctx, "c", "d", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		l2, err := c.Lock(ctx, "c", "d", time.Minute, client.LockWait(30*time.Second))
		if err == nil {
			err = l2.Unlock(ctx)
		}
		got <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if err := l.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("waiting Lock: %v", err)
	}
	if _, err := c.Put(ctx, "c", "d", json.RawMessage(`{}`), client.LockToken("")); err == nil {
		t.Fatal("LockToken(\"\") accepted")
	}
	if _, err := c.Get(ctx, "c", "d", client.LockToken("x")); err == nil {
		t.Fatal("Get took LockToken")
	}
	if _, err := c.Lock(ctx, "c", "d", time.Second, client.LockWait(-1)); err == nil {
		t.Fatal("negative LockWait accepted")
	}
}

// TestWriteRetriesPastALock: a write that meets someone else's lock is
// retried after Retry-After, with the same Idempotency-Key, and succeeds
// once the lock has ended: the 423 is not replayed.
func TestWriteRetriesPastALock(t *testing.T) {
	c := mustClient(t, mustServe(t))
	ctx := testCtx(t)
	l, err := c.Lock(ctx, "c", "d", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	l.Detach() // let it end by itself
	d, err := c.Put(ctx, "c", "d", map[string]int{"x": 1})
	if err != nil {
		t.Fatalf("a write retried past the lock's end: %v", err)
	}
	if d.Version != 1 {
		t.Fatalf("version %d", d.Version)
	}
}
