package truce

import (
	"context"
	"errors"
	"strconv"
	"time"
	"unicode"
)

// LockRequest asks for the lock on one document.
type LockRequest struct {
	Collection string
	ID         string
	// Owner says who asks, for people (at most 200 printable characters);
	// "" is shown as "anonymous".
	Owner string
	// TTL is the lease; 0 means DefaultLockTTL. It is capped at the
	// Service's MaxLockTTL.
	TTL time.Duration
	// Wait is how long to wait, in FIFO order behind other waiting
	// requests, for another holder to release the lock or for its lease
	// to end; 0 means not at all. It is capped at MaxLockTTL.
	Wait time.Duration
}

// Lock takes the lock on a document for r.TTL and returns it with its
// token. The document need not exist: its holder alone may then create it.
// When another client holds the lock, Lock waits up to r.Wait for it, in
// FIFO order with the other requests that wait for it (on every node, over
// a SharedStore: the queue is then in the store), and returns
// CodeLocked (with the holder's owner and expiry) when the wait runs out.
// A request whose ctx ends leaves the queue at once.
//
// Taking the lock appends lock.acquired to the change log in the same
// commit; if a previous lock ended without anyone noticing, its
// lock.expired comes first.
func (s *Service) Lock(ctx context.Context, r LockRequest) (*Lock, error) {
	ttl, err := s.checkLockRequest(r.Collection, r.ID, r.Owner, r.TTL)
	if err != nil {
		return nil, err
	}
	if r.Wait < 0 {
		return nil, Errorf(CodeInvalidParameter, "wait must not be negative; give a duration such as \"10s\", or 0 not to wait")
	}
	wait := min(r.Wait, s.maxLockTTL)
	owner := r.Owner
	if owner == "" {
		owner = "anonymous"
	}
	if s.shared {
		return s.lockShared(ctx, r.Collection, r.ID, owner, ttl, wait)
	}
	key := refString(r.Collection, r.ID)
	w := s.lockWait.join(key)
	defer s.lockWait.leave(w)

	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	var expiry *time.Timer
	defer func() {
		if expiry != nil {
			expiry.Stop()
		}
	}()
	var holder *Lock
	var handoff *time.Timer
	for {
		var expired <-chan time.Time
		if s.lockWait.isHead(w) {
			l, h, err := s.tryLock(ctx, r.Collection, r.ID, owner, ttl)
			if err != nil || l != nil {
				return l, err
			}
			holder = h
			// Wake when the holder's lease ends, unless a release wakes
			// us first; a renewal is noticed at that time.
			d := h.ExpiresAt.Sub(s.now())
			if expiry == nil {
				expiry = time.NewTimer(d)
			} else {
				expiry.Reset(d)
			}
			expired = expiry.C
		}
		if wait == 0 && holder == nil {
			// Not at the head: earlier requests wait for this lock. If
			// it is free, the head is about to take it, and a request
			// that does not wait must neither overtake it nor be refused
			// by a lock nobody holds, so it waits for that handoff
			// (one commit) and is refused naming the new holder.
			if l, err := s.GetLock(ctx, r.Collection, r.ID); err == nil && l.LiveAt(s.now()) {
				return nil, s.lockedError(ctx, key, r.Collection, r.ID, l, 0)
			}
			if handoff == nil {
				handoff = time.NewTimer(time.Second)
				defer handoff.Stop()
			}
			select {
			case <-w.kick:
			case <-time.After(2 * time.Millisecond):
			case <-handoff.C:
				return nil, s.lockedError(ctx, key, r.Collection, r.ID, nil, s.lockWait.waiting(key)-1)
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			continue
		}
		if wait == 0 {
			return nil, s.lockedError(ctx, key, r.Collection, r.ID, holder, s.lockWait.waiting(key)-1)
		}
		select {
		case <-w.kick:
		case <-expired:
		case <-deadline.C:
			return nil, s.lockedError(ctx, key, r.Collection, r.ID, holder, s.lockWait.waiting(key)-1)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// tryLock takes the lock if no live lock is held, returning it; otherwise
// it returns the live holder and writes nothing.
func (s *Service) tryLock(ctx context.Context, collection, id, owner string, ttl time.Duration) (l, holder *Lock, err error) {
	err = s.store.Update(ctx, func(tx Tx) error {
		l, holder = nil, nil
		now := s.lockTime()
		old, err := getLock(tx, collection, id)
		if err != nil {
			return err
		}
		if old != nil && old.LiveAt(now) {
			holder = old
			return nil
		}
		l, err = takeLock(tx, old, collection, id, owner, ttl, now)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if l != nil {
		s.kickExpirer()
	}
	return l, holder, nil
}

// lockedError is the CodeLocked answer to a lock request that could not
// wait (longer), naming holder, or, when the request never reached the
// head of the queue, the lock as it is now, or else the ahead requests
// that wait before it.
func (s *Service) lockedError(ctx context.Context, key, collection, id string, holder *Lock, ahead int) error {
	now := s.now()
	if holder == nil || !holder.LiveAt(now) {
		if l, err := s.GetLock(ctx, collection, id); err == nil {
			holder = l
		}
	}
	if holder != nil && holder.LiveAt(now) {
		e := lockedBy(holder, now)
		e.Detail = key + " is locked by " + strconv.Quote(holder.Owner) + " until " + string(AppendTime(nil, holder.ExpiresAt)) +
			"; retry after that, or ask again with a longer wait to queue for it"
		return e
	}
	return &Error{Code: CodeLocked, RetryAfter: time.Second,
		Detail: key + ": " + strconv.Itoa(ahead) + " earlier lock requests are waiting for it; ask again with a wait to queue behind them"}
}

// lockedBy is the CodeLocked refusal of a write by someone who does not
// hold l.
func lockedBy(l *Lock, now time.Time) *Error {
	return &Error{Code: CodeLocked, LockOwner: l.Owner, LockExpiresAt: l.ExpiresAt, RetryAfter: l.ExpiresAt.Sub(now),
		Detail: refString(l.Collection, l.ID) + " is locked by " + strconv.Quote(l.Owner) + " until " +
			string(AppendTime(nil, l.ExpiresAt)) + "; write with the holder's lock token, or wait until the lock is released or ends"}
}

// checkLock is the lock rule of every write, inside the write's commit: a
// live lock admits only its own token; a token for a lock that is no
// longer held is refused, since whatever the holder read may have changed.
func (s *Service) checkLock(tx ReadTx, collection, id, token string) error {
	l, err := getLock(tx, collection, id)
	if err != nil {
		return err
	}
	now := s.lockTime()
	if l != nil && l.LiveAt(now) {
		if l.holds(token) {
			return nil
		}
		return lockedBy(l, now)
	}
	if token != "" {
		return errLockExpired(collection, id)
	}
	return nil
}

func errLockExpired(collection, id string) *Error {
	return Errorf(CodeLockExpired, "the lock token names no lock held on %s: it ended (its ttl passed, or it was released or broken); re-read the document, take the lock again and redo the change", refString(collection, id))
}

// RenewLock extends the lock whose token the caller holds to ttl from now
// (0 means DefaultLockTTL; capped at MaxLockTTL). A token of a lock that
// has ended is CodeLockExpired; another holder's lock is
// CodeLockTokenMismatch.
func (s *Service) RenewLock(ctx context.Context, collection, id, token string, ttl time.Duration) (*Lock, error) {
	ttl, err := s.checkLockRequest(collection, id, "", ttl)
	if err != nil {
		return nil, err
	}
	var l *Lock
	var refused error
	err = s.store.Update(ctx, func(tx Tx) error {
		l, refused = nil, nil
		now := s.lockTime()
		old, err := s.liveLock(tx, collection, id, now)
		switch {
		case err != nil:
			return err
		case old == nil:
			refused = errLockExpired(collection, id)
			return nil
		case !old.holds(token):
			return mismatch(old)
		}
		nl := *old
		nl.ExpiresAt = now.Add(ttl)
		l = &nl
		return tx.PutLock(l)
	})
	if err != nil {
		return nil, err
	}
	return l, refused
}

// Unlock releases the lock whose token the caller holds, appending
// lock.released. A token of a lock that has ended is CodeLockExpired;
// another holder's lock is CodeLockTokenMismatch. The first request
// waiting for the lock gets it at once.
func (s *Service) Unlock(ctx context.Context, collection, id, token string) error {
	if err := checkLockTarget(collection, id); err != nil {
		return err
	}
	if token == "" {
		return Errorf(CodeInvalidPrecondition, "releasing the lock on %s needs the lock token its lock request returned (or force, for an administrator)", refString(collection, id))
	}
	return s.release(ctx, collection, id, func(l *Lock) error {
		if !l.holds(token) {
			return mismatch(l)
		}
		return nil
	}, errLockExpired(collection, id))
}

// BreakLock releases whatever lock is held on a document, without its
// token: an administrator's tool for a holder that vanished. It appends
// lock.released with "forced": true; no live lock is CodeNotFound.
func (s *Service) BreakLock(ctx context.Context, collection, id string) error {
	if err := checkLockTarget(collection, id); err != nil {
		return err
	}
	return s.release(ctx, collection, id, nil, Errorf(CodeNotFound, "%s is not locked", refString(collection, id)))
}

// release removes the live lock of a document if allow (nil for a forced
// break) admits it; with no live lock it returns none.
func (s *Service) release(ctx context.Context, collection, id string, allow func(*Lock) error, none error) error {
	var refused error
	released := false
	err := s.store.Update(ctx, func(tx Tx) error {
		refused, released = nil, false
		now := s.lockTime()
		l, err := s.liveLock(tx, collection, id, now)
		if err != nil {
			return err
		}
		if l == nil {
			refused, released = none, true // an ended lock may have been cleared
			return nil
		}
		if allow != nil {
			if err := allow(l); err != nil {
				return err
			}
		}
		seq, err := tx.NextSeq()
		if err != nil {
			return err
		}
		if err := tx.DeleteLock(collection, id); err != nil {
			return err
		}
		released = true
		return tx.AppendEvent(&Event{Seq: seq, Type: EventLockReleased, Collection: collection, ID: id, Time: now,
			Info: lockInfo{Owner: l.Owner, Forced: allow == nil}.encode()})
	})
	if err == nil && released {
		s.lockNotify(refString(collection, id))
	}
	if err != nil {
		return err
	}
	return refused
}

// liveLock returns the live lock of a document, or nil. A lock that has
// ended but whose record remains is cleared on the way, with its
// lock.expired event.
func (s *Service) liveLock(tx Tx, collection, id string, now time.Time) (*Lock, error) {
	l, err := getLock(tx, collection, id)
	if err != nil || l == nil {
		return nil, err
	}
	if l.LiveAt(now) {
		return l, nil
	}
	return nil, expireLock(tx, l, now)
}

// GetLock returns the live lock of a document, or CodeNotFound. Its Token
// is left empty: holding the lock takes more than reading it.
func (s *Service) GetLock(ctx context.Context, collection, id string) (*Lock, error) {
	if err := checkLockTarget(collection, id); err != nil {
		return nil, err
	}
	var l *Lock
	err := s.store.View(ctx, func(tx ReadTx) error {
		var err error
		l, err = getLock(tx, collection, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	if l == nil || !l.LiveAt(s.lockTime()) {
		return nil, Errorf(CodeNotFound, "%s is not locked", refString(collection, id))
	}
	l.Token = ""
	return l, nil
}

// LockWaiters returns how many lock requests wait for the lock on a
// document in this process.
func (s *Service) LockWaiters(collection, id string) int {
	key := refString(collection, id)
	return s.lockWait.waiting(key) + s.lockSignals.waiting(key)
}

// lockNotify wakes the requests of this process that wait for a
// document's lock: it may be free.
func (s *Service) lockNotify(key string) {
	s.lockWait.notify(key)
	s.lockSignals.signal(key)
}

// CountLocks returns how many locks are live now, counting at most limit
// of the lock records (for metrics: it reads them all).
func (s *Service) CountLocks(ctx context.Context, limit int) (int, error) {
	n := 0
	err := s.store.View(ctx, func(tx ReadTx) error {
		ls, err := tx.LocksByExpiry(time.Unix(1<<40, 0), limit)
		if err != nil {
			return err
		}
		now := s.lockTime()
		for _, l := range ls {
			if l.LiveAt(now) {
				n++
			}
		}
		return nil
	})
	return n, err
}

// CountOpenConflicts returns how many recorded conflicts are open, by
// collection, reading at most limit of them (for metrics).
func (s *Service) CountOpenConflicts(ctx context.Context, limit int) (map[string]int, error) {
	counts := map[string]int{}
	err := s.store.View(ctx, func(tx ReadTx) error {
		cs, err := tx.Conflicts(ConflictFilter{Status: ConflictOpen}, "", limit)
		for _, c := range cs {
			counts[c.Collection]++
		}
		return err
	})
	return counts, err
}

// MaxLockTTL returns the cap on lock ttl and wait.
func (s *Service) MaxLockTTL() time.Duration { return s.maxLockTTL }

// expireLock removes a lock that has ended and appends its lock.expired
// event, in tx. Every lock that ends without release gets exactly one: the
// record and the event go in the same commit.
func expireLock(tx Tx, l *Lock, now time.Time) error {
	seq, err := tx.NextSeq()
	if err != nil {
		return err
	}
	if err := tx.DeleteLock(l.Collection, l.ID); err != nil {
		return err
	}
	exp := l.ExpiresAt
	return tx.AppendEvent(&Event{Seq: seq, Type: EventLockExpired, Collection: l.Collection, ID: l.ID, Time: now,
		Info: lockInfo{Owner: l.Owner, ExpiresAt: string(AppendTime(nil, exp))}.encode()})
}

func mismatch(l *Lock) error {
	return &Error{Code: CodeLockTokenMismatch, LockOwner: l.Owner, LockExpiresAt: l.ExpiresAt,
		Detail: "the lock token is not the token of the lock " + strconv.Quote(l.Owner) + " holds on " + refString(l.Collection, l.ID) +
			"; use the token your lock request returned (an administrator can break the lock with force)"}
}

// checkLockRequest validates a lock or renew request and returns its
// effective ttl.
func (s *Service) checkLockRequest(collection, id, owner string, ttl time.Duration) (time.Duration, error) {
	if err := checkLockTarget(collection, id); err != nil {
		return 0, err
	}
	if len(owner) > maxOwnerLen {
		return 0, Errorf(CodeInvalidParameter, "owner is %d bytes; at most %d are allowed", len(owner), maxOwnerLen)
	}
	for _, c := range owner {
		if !unicode.IsPrint(c) {
			return 0, Errorf(CodeInvalidParameter, "owner %.60q holds a control character; use printable text such as a user name", owner)
		}
	}
	switch {
	case ttl < 0:
		return 0, Errorf(CodeInvalidParameter, "ttl must be positive, such as \"30s\"; omit it for %s", DefaultLockTTL)
	case ttl == 0:
		ttl = DefaultLockTTL
	}
	return min(ttl, s.maxLockTTL), nil
}

func checkLockTarget(collection, id string) error {
	if err := checkCollectionName(collection); err != nil {
		return err
	}
	return checkID(id)
}

// getLock reads a document's lock record; nil when there is none.
func getLock(tx ReadTx, collection, id string) (*Lock, error) {
	l, err := tx.Lock(collection, id)
	if errors.Is(err, ErrNoRecord) {
		return nil, nil
	}
	return l, err
}
