package truce

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// SharedStore is an optional capability of a Store whose data several
// processes (truce nodes) may use at the same time, such as a database
// server. Over such a store the Service keeps no rule in its own memory:
// the queue of lock requests waiting for a document lives in the store
// (LockWaiter), and the right to run a request under an idempotency key is
// claimed in the store (ClaimIdempotency). A Store without the capability,
// or whose Shared reports false, belongs to one Service, which keeps both
// in memory, as it is faster.
type SharedStore interface {
	// Shared reports whether other processes may use the store's data at
	// the same time as this one.
	Shared() bool
}

// LockWaiter is one record of the queue that a SharedStore keeps, per
// document, of the lock requests waiting for its lock, whichever node they
// wait on. The request with the lowest Ticket among the live records is
// the head: the only one that may take the lock once it is free, so that
// requests are served in the order they joined the queue, across nodes.
type LockWaiter struct {
	Collection string
	ID         string
	// Ticket orders the queue. A request joins with a ticket above every
	// record of the queue, in the commit that reads them.
	Ticket int64
	// Waiter identifies the request (128 random bits), so that it knows
	// its own record.
	Waiter string
	// ExpiresAt is when the record stops counting unless the waiting
	// request renews it: a request whose node died leaves the queue by
	// itself.
	ExpiresAt time.Time
}

// Tunables of the shared lock queue.
var (
	// lockWaiterLease is how long a queue record counts without renewal;
	// the waiting request renews it when half of it is left. A request
	// whose node dies holds up the queue for at most this long.
	lockWaiterLease = 5 * time.Second
	// lockQueuePoll is how often a waiting request looks at the queue and
	// the lock without being woken: releases anywhere wake it at once (the
	// change feed's lock events), but a request that leaves the queue on
	// another node is noticed only by looking.
	lockQueuePoll = 100 * time.Millisecond
)

// queueState is what a waiting request sees of a document's lock and
// queue at one instant.
type queueState struct {
	lock  *Lock         // the live lock, or nil
	ended *Lock         // a lock record that has ended, or nil
	queue []*LockWaiter // the live records, in ticket order
	stale []*LockWaiter // the ended records
	mine  *LockWaiter   // the request's own live record, or nil
	last  int64         // the highest ticket of any record
}

func readQueue(tx ReadTx, collection, id, waiter string, now time.Time) (queueState, error) {
	var st queueState
	l, err := getLock(tx, collection, id)
	if err != nil {
		return st, err
	}
	if l != nil && l.LiveAt(now) {
		st.lock = l
	} else {
		st.ended = l
	}
	ws, err := tx.LockWaiters(collection, id)
	if err != nil {
		return st, err
	}
	for _, w := range ws {
		st.last = max(st.last, w.Ticket)
		if !now.Before(w.ExpiresAt) {
			st.stale = append(st.stale, w)
			continue
		}
		st.queue = append(st.queue, w)
		if w.Waiter == waiter {
			st.mine = w
		}
	}
	return st, nil
}

// canTake reports whether the request may take the lock now: it is free
// and nobody waits ahead of the request.
func (st *queueState) canTake() bool {
	return st.lock == nil && (len(st.queue) == 0 || st.queue[0] == st.mine)
}

// ahead counts the live records ahead of the request's own, or all of
// them when it has none.
func (st *queueState) ahead() int {
	for i, w := range st.queue {
		if w == st.mine {
			return i
		}
	}
	return len(st.queue)
}

// lockStep is what one look at the queue decided.
type lockStep struct {
	lock   *Lock       // taken
	holder *Lock       // the live holder, if any
	mine   *LockWaiter // the request's live record, if it has one
	ahead  int         // live records ahead of the request
}

// lockShared is Lock over a SharedStore: the queue is in the store, so FIFO
// holds across nodes. The request first tries to take the lock; if it is
// held, or others wait for it, the request joins the queue in the same
// commit, and looks again whenever a lock event of the document is
// committed on any node (the change feed), a request leaves the queue on
// this node, the holder's lease ends, its own record needs renewing, and
// every lockQueuePoll. It leaves the queue when it takes the lock (in that
// commit), gives up, or its ctx ends.
func (s *Service) lockShared(ctx context.Context, collection, id, owner string, ttl, wait time.Duration) (*Lock, error) {
	key := refString(collection, id)
	waiter := newLockToken()
	// The watch of lock events starts only once the request must wait
	// (and then it looks once more), so a lock taken at once costs none.
	var release func()
	defer func() {
		if release != nil {
			release()
		}
	}()
	s.lockSignals.enter(key)
	defer s.lockSignals.exit(key)

	var mine *LockWaiter
	defer func() {
		if mine != nil {
			s.leaveQueue(ctx, mine)
		}
	}()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	if wait == 0 {
		// A request that does not wait never joins; when the lock is free
		// but others wait for it, it waits for the head's handoff (one
		// commit, as in process) to be refused naming the new holder.
		deadline.Reset(time.Second)
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for first := true; ; first = false {
		signal := s.lockSignals.channel(key)
		// A request that waits takes the lock or joins the queue in its
		// first look: an Update at once.
		st, err := s.lockLook(ctx, collection, id, owner, waiter, ttl, wait > 0, mine, first && wait > 0)
		if err != nil {
			return nil, err
		}
		if st.lock != nil {
			mine = nil // taken in the commit that removed the record
			s.lockSignals.signal(key)
			s.kickExpirer()
			return st.lock, nil
		}
		mine = st.mine
		if wait == 0 && st.holder != nil {
			return nil, s.lockedError(ctx, key, collection, id, st.holder, st.ahead)
		}
		if release == nil {
			release = s.lockWatch.acquire(ctx, s)
			continue // a release before the watch began is seen now
		}
		// Look again when the holder's lease ends or the record needs
		// renewing, whichever is first, and at the latest after a poll.
		now := s.now()
		next := lockQueuePoll/2 + rand.N(lockQueuePoll)
		if st.holder != nil {
			next = min(next, st.holder.ExpiresAt.Sub(now))
		}
		if mine != nil {
			next = min(next, mine.ExpiresAt.Sub(now)-lockWaiterLease/2)
		}
		if wait == 0 {
			next = min(next, 2*time.Millisecond)
		}
		timer.Reset(max(next, 0))
		select {
		case <-signal:
		case <-timer.C:
		case <-deadline.C:
			return nil, s.lockedError(ctx, key, collection, id, st.holder, st.ahead)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// lockLook looks at the lock and the queue in a View (unless direct), and
// commits what the request must do, if anything, in an Update that looks
// again: take the lock, join the queue (join), join it again after its
// record ended, or renew its record.
func (s *Service) lockLook(ctx context.Context, collection, id, owner, waiter string, ttl time.Duration, join bool, mine *LockWaiter, direct bool) (lockStep, error) {
	act := func(st *queueState, now time.Time) bool {
		switch {
		case st.canTake():
			return true
		case !join:
			return false
		case st.mine == nil:
			return true // join, or join again
		default:
			return st.mine.ExpiresAt.Sub(now) < lockWaiterLease/2
		}
	}
	var out lockStep
	acting := direct
	if !direct {
		err := s.store.View(ctx, func(tx ReadTx) error {
			now := s.lockTime()
			st, err := readQueue(tx, collection, id, waiter, now)
			if err != nil {
				return err
			}
			out = lockStep{holder: st.lock, mine: st.mine, ahead: st.ahead()}
			acting = act(&st, now)
			return nil
		})
		if err != nil || !acting {
			return out, err
		}
	}
	err := s.store.Update(ctx, func(tx Tx) error {
		now := s.lockTime()
		st, err := readQueue(tx, collection, id, waiter, now)
		if err != nil {
			return err
		}
		out = lockStep{holder: st.lock, mine: st.mine, ahead: st.ahead()}
		if !act(&st, now) {
			return nil
		}
		// Records whose request is gone are removed by whoever writes.
		for _, w := range st.stale {
			if err := tx.DeleteLockWaiter(collection, id, w.Ticket); err != nil {
				return err
			}
		}
		if !st.canTake() {
			w := &LockWaiter{Collection: collection, ID: id, Ticket: st.last + 1, Waiter: waiter,
				ExpiresAt: now.Add(lockWaiterLease)}
			if st.mine != nil {
				w.Ticket = st.mine.Ticket
			}
			out.mine = w
			return tx.PutLockWaiter(w)
		}
		if st.mine != nil {
			if err := tx.DeleteLockWaiter(collection, id, st.mine.Ticket); err != nil {
				return err
			}
		}
		l, err := takeLock(tx, st.ended, collection, id, owner, ttl, now)
		out = lockStep{lock: l}
		return err
	})
	if err != nil && mine != nil && out.mine == nil && out.lock == nil {
		out.mine = mine // the Update failed: the record may still be there
	}
	return out, err
}

// leaveQueue removes a request's queue record, after it gave up or its ctx
// ended, and wakes the requests of this node that wait behind it; those of
// other nodes notice at their next poll. If the store fails, the record
// ends by itself at its ExpiresAt.
func (s *Service) leaveQueue(ctx context.Context, w *LockWaiter) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockWaiterLease)
	defer cancel()
	err := s.store.Update(ctx, func(tx Tx) error {
		ws, err := tx.LockWaiters(w.Collection, w.ID)
		if err != nil {
			return err
		}
		for _, x := range ws {
			if x.Ticket == w.Ticket && x.Waiter == w.Waiter {
				return tx.DeleteLockWaiter(w.Collection, w.ID, w.Ticket)
			}
		}
		return nil
	})
	if err != nil {
		s.log.Warn("leaving the queue of a lock failed; the record ends by itself", "document", refString(w.Collection, w.ID), "err", err)
	}
	s.lockSignals.signal(refString(w.Collection, w.ID))
}

// lockSignals wakes the requests of this node that wait for a document's
// lock, whenever something may have changed: a lock event committed on
// any node (lockWatch), or a request of this node leaving the queue or
// taking the lock. It also counts them (LockWaiters).
type lockSignals struct {
	mu sync.Mutex
	ch map[string]chan struct{} // closed and removed by signal; guarded by mu
	n  map[string]int           // waiting requests; guarded by mu
}

func (l *lockSignals) enter(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == nil {
		l.n = make(map[string]int)
	}
	l.n[key]++
}

func (l *lockSignals) exit(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[key]--; l.n[key] <= 0 {
		delete(l.n, key)
	}
}

func (l *lockSignals) waiting(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n[key]
}

// channel returns a channel that signal(key) closes.
func (l *lockSignals) channel(key string) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ch == nil {
		l.ch = make(map[string]chan struct{})
	}
	c := l.ch[key]
	if c == nil {
		c = make(chan struct{})
		l.ch[key] = c
	}
	return c
}

func (l *lockSignals) signal(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c := l.ch[key]; c != nil {
		close(c)
		delete(l.ch, key)
	}
}

func (l *lockSignals) signalAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.ch {
		close(c)
	}
	clear(l.ch)
}

// lockWatch follows the change feed's lock events while requests of this
// node wait in a shared queue, and signals their documents: that is how a
// release, break or expiry on another node reaches them. One subscription
// serves every waiting request of the Service.
type lockWatch struct {
	mu     sync.Mutex
	users  int                // guarded by mu
	cancel context.CancelFunc // ends the running watch; guarded by mu
	ready  chan struct{}      // closed once the running watch subscribed; guarded by mu
}

// acquire starts the watch unless it runs, waits until it is subscribed
// (so that every lock event committed after acquire returns is seen), and
// returns the function that ends the caller's use of it.
func (w *lockWatch) acquire(ctx context.Context, s *Service) (release func()) {
	w.mu.Lock()
	if w.users++; w.users == 1 {
		wctx, cancel := context.WithCancel(context.Background())
		w.cancel, w.ready = cancel, make(chan struct{})
		go w.run(wctx, s, w.ready)
	}
	ready := w.ready
	w.mu.Unlock()
	select {
	case <-ready:
	case <-ctx.Done():
	}
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.users--; w.users == 0 {
			w.cancel()
		}
	}
}

// run subscribes to the lock events and signals their documents until ctx
// ends. When the feed fails, it wakes every waiting request (which then
// look for themselves) and subscribes again.
func (w *lockWatch) run(ctx context.Context, s *Service, ready chan struct{}) {
	filter := FeedFilter{Types: []EventType{EventLockAcquired, EventLockReleased, EventLockExpired}}
	backoff := 10 * time.Millisecond
	for ctx.Err() == nil {
		sub, err := s.feed.Subscribe(ctx, -1, filter)
		if err == nil {
			backoff = 10 * time.Millisecond
			err = w.follow(ctx, s, sub, ready)
			sub.Close()
		}
		if ctx.Err() != nil {
			break
		}
		s.lockSignals.signalAll()
		s.upkeepFailed(ctx, "follow lock events", err)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
	select {
	case <-ready:
	default:
		close(ready)
	}
}

func (w *lockWatch) follow(ctx context.Context, s *Service, sub *Subscription, ready chan struct{}) error {
	select {
	case <-ready:
	default:
		close(ready)
	}
	for {
		evs, err := sub.Next(ctx, 256)
		if err != nil {
			return err
		}
		for _, e := range evs {
			s.lockSignals.signal(refString(e.Collection, e.ID))
		}
	}
}

// takeLock writes a new lock on a document whose lock is free, clearing an
// ended one first (ended may be nil), with its lock.acquired event.
func takeLock(tx Tx, ended *Lock, collection, id, owner string, ttl time.Duration, now time.Time) (*Lock, error) {
	if ended != nil {
		if err := expireLock(tx, ended, now); err != nil {
			return nil, err
		}
	}
	seq, err := tx.NextSeq()
	if err != nil {
		return nil, err
	}
	nl := &Lock{Collection: collection, ID: id, Token: newLockToken(), Owner: owner,
		AcquiredAt: now, ExpiresAt: now.Add(ttl), Fence: seq}
	if err := tx.PutLock(nl); err != nil {
		return nil, err
	}
	if err := tx.AppendEvent(&Event{Seq: seq, Type: EventLockAcquired, Collection: collection, ID: id, Time: now,
		Info: lockInfo{Owner: owner, ExpiresAt: string(AppendTime(nil, nl.ExpiresAt)), Fence: seq}.encode()}); err != nil {
		return nil, err
	}
	return nl, nil
}
