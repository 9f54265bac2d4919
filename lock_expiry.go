package truce

import (
	"context"
	"time"
)

// Locks end at their expiresAt without anyone's help: every check compares
// with the clock, so nothing needs to run for the lock to stop counting.
// What does need someone is the change log's lock.expired event and the
// removal of the record. The next lock operation on the document does both
// (liveLock, tryLock), and so does the expirer below for locks nobody
// touches again; either way the event and the removal share one commit, so
// every lock that ends unreleased gets exactly one lock.expired.

// lockExpiryBatch bounds the locks expired in one commit, so that writers
// wait at most for one short commit.
const lockExpiryBatch = 128

// lockExpiryIdle is the longest the expirer sleeps: a backstop for locks
// written by another process sharing the store. Over a SharedStore, the
// node that took a lock expires it; sharedLockExpiryIdle bounds how late
// another node does when that one died.
const lockExpiryIdle = time.Minute

var sharedLockExpiryIdle = 5 * time.Second

// ExpireLocks removes every lock that has ended, each with its lock.expired
// event, and wakes requests waiting for those documents. It returns how
// many it expired.
func (s *Service) ExpireLocks(ctx context.Context) (int, error) {
	total := 0
	for {
		var expired []*Lock
		err := s.store.Update(ctx, func(tx Tx) error {
			expired = expired[:0]
			now := s.lockTime()
			ls, err := tx.LocksByExpiry(now, lockExpiryBatch)
			if err != nil {
				return err
			}
			for _, l := range ls {
				if l.LiveAt(now) { // the store's until is inclusive; LiveAt is not
					continue
				}
				if err := expireLock(tx, l, now); err != nil {
					return err
				}
				expired = append(expired, l)
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += len(expired)
		s.upkeep.locks.Add(int64(len(expired)))
		for _, l := range expired {
			s.lockNotify(refString(l.Collection, l.ID))
		}
		if len(expired) < lockExpiryBatch {
			return total, nil
		}
	}
}

// nextLockExpiry returns when the earliest lock record ends; ok is false
// when there is none.
func (s *Service) nextLockExpiry(ctx context.Context) (at time.Time, ok bool, err error) {
	err = s.store.View(ctx, func(tx ReadTx) error {
		ls, err := tx.LocksByExpiry(time.Unix(1<<40, 0), 1)
		if err != nil || len(ls) == 0 {
			return err
		}
		at, ok = ls[0].ExpiresAt, true
		return nil
	})
	return at, ok, err
}

// runLockExpirer runs ExpireLocks whenever a lock ends, until ctx ends: it
// sleeps until the earliest expiry, or until a new lock is taken, and at
// most a minute. It runs beside the writers (Run), never on the write path.
func (s *Service) runLockExpirer(ctx context.Context) {
	idle := lockExpiryIdle
	if s.shared {
		idle = sharedLockExpiryIdle
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.lockKick:
		}
		wait := idle
		if _, err := s.ExpireLocks(ctx); err != nil {
			s.upkeepFailed(ctx, "expire locks", err)
			wait = time.Second // the store failed; try again soon
		} else if at, ok, err := s.nextLockExpiry(ctx); err != nil {
			s.upkeepFailed(ctx, "expire locks", err)
			wait = time.Second
		} else if ok {
			wait = min(max(at.Sub(s.now()), 0), idle)
		}
		t.Reset(wait)
	}
}

// kickExpirer tells the expirer that a lock was taken, which may end
// before the one it sleeps for.
func (s *Service) kickExpirer() {
	select {
	case s.lockKick <- struct{}{}:
	default:
	}
}
