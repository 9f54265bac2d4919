package postgres

import (
	"errors"
	"slices"
	"sync"
	"time"
)

// Group commit. The Updates of one Store run one at a time (the local
// write lock, here the turn), and each of them holds the seq lock in
// PostgreSQL for two round trips: its reads, then its writes and COMMIT;
// the next one's lock request waits in PostgreSQL for that COMMIT. Under
// load that chain of hand-offs (PostgreSQL to Go, Go to PostgreSQL, one
// backend to the next) bounds the throughput of every node together, and
// every Update pays for a transaction, a move of the seq row and a WAL
// flush of its own.
//
// So an Update that wrote, and finds other Updates of this Store waiting
// for their turn, does not commit: it hands its transaction to the next
// one, which runs its fn in the same transaction (its reads see the
// writes before it, as they would once committed, and its first round
// trip carries them), and so on, up to maxGroup Updates; the last one
// commits them all at once, and each returns once that commit is durable,
// as Update promises. The group is serial: each fn runs after the one
// before has returned, as if each had committed in turn.
//
// A member whose fn fails leaves nothing: the writes it queued, which no
// round trip has carried yet, are dropped, and the seqs it allocated are
// given back (tx.join, tx.undo). Its error returns once the group has
// committed, since it may tell of what the members before it wrote. A
// member whose fn failed after a round trip carried some of its writes
// cannot be undone without a savepoint, and would be rare (no Service
// write reads after it writes): the group is rolled back, and every
// member runs again alone (errGroupRerun), as do they all when the group's
// transaction fails for any reason, the error then returned to the member
// whose statement it was (or, when that cannot be told, run again alone
// too).

// Contention. Where Updates conflict (many clients changing one
// document, each with If-Match), a group is a loss: the members after the
// one that wrote the document fail its precondition, having waited for
// their turn, and the write becomes visible to readers only when the whole
// group commits, so the clients' next reads are stale for longer and fail
// in turn (peerbench's update-hot, one node: half the updates a second of
// Updates committed one by one). So a Store groups only while few of its
// Updates' functions fail: failRate, a moving average over its recent
// Updates, below maxFailRate.
const (
	maxFailRate = 0.2
	failWeight  = 1.0 / 32 // of the newest Update in failRate
)

// grouping records whether the fn of the Update that holds the turn
// failed, and reports whether the Store groups Updates now. Only the
// holder of the turn calls it.
func (s *Store) grouping(failed bool) bool {
	f := 0.0
	if failed {
		f = 1
	}
	s.turns.failRate += failWeight * (f - s.turns.failRate)
	return s.turns.failRate < maxFailRate
}

// maxGroup bounds the Updates committed together: each waits for all
// those after it in the group.
const maxGroup = 16

// errGroupRerun is the outcome of a group that did not commit, for reasons
// that need not be its members' own: each runs again, alone.
var errGroupRerun = errors.New("postgres: the group commit failed; run again")

// group is one PostgreSQL transaction shared by consecutive Updates.
type group struct {
	t       *tx
	members int
	done    chan struct{} // closed when the group has ended
	err     error         // valid once done: nil when committed durably
}

func newGroup(t *tx) *group { return &group{t: t, done: make(chan struct{})} }

// finish records the group's outcome and wakes its members.
func (g *group) finish(err error) {
	g.err = err
	close(g.done)
}

// turns is the local write lock: at most one Update of the Store runs at a
// time, the others wait in FIFO order. The holder passes the turn on
// either alone, or with an open group for the next to join.
type turns struct {
	mu      sync.Mutex
	busy    bool
	waiters []waiter
	// failRate is read and written by the holder of the turn only
	// (grouping).
	failRate float64
}

// waiter is an Update waiting for its turn.
type waiter struct {
	ch   chan *group // buffered 1
	solo bool        // joins no group
	key  *docKey     // the document it is for, if it said (UpdateDocument)
}

// waitingKeys returns the documents of the first n Updates waiting for
// their turn, those that said theirs and are not in skip, up to the first
// that joins no group.
func (s *Store) waitingKeys(n int, skip map[docKey]*readAhead) []docKey {
	q := &s.turns
	q.mu.Lock()
	defer q.mu.Unlock()
	var keys []docKey
	for i, w := range q.waiters {
		if i >= n || w.solo {
			break
		}
		if w.key == nil || skip[*w.key] != nil || slices.Contains(keys, *w.key) {
			continue
		}
		keys = append(keys, *w.key)
	}
	return keys
}

// takeTurn waits for the turn. It returns with the turn held (held) and the
// group handed with it, if any; err is ctx's when it ended first, in
// which case the turn may still have been handed meanwhile (held).
func (s *Store) takeTurn(t *tx, solo bool, key *docKey) (g *group, held bool, err error) {
	q := &s.turns
	start := time.Now()
	q.mu.Lock()
	if !q.busy {
		q.busy = true
		q.mu.Unlock()
		s.metrics.localWait.Observe(0)
		return nil, true, nil
	}
	ch := make(chan *group, 1)
	q.waiters = append(q.waiters, waiter{ch, solo, key})
	q.mu.Unlock()
	select {
	case g = <-ch:
		s.metrics.localWait.Observe(time.Since(start).Seconds())
		return g, true, nil
	case <-t.ctx.Done():
	}
	q.mu.Lock()
	for i, w := range q.waiters {
		if w.ch == ch {
			q.waiters = append(q.waiters[:i], q.waiters[i+1:]...)
			q.mu.Unlock()
			return nil, false, t.ctx.Err()
		}
	}
	q.mu.Unlock()
	// The turn was handed to this Update as its context ended.
	return <-ch, true, t.ctx.Err()
}

// passTurn passes the turn to the next waiter, without a group, or frees
// it.
func (s *Store) passTurn() {
	q := &s.turns
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.waiters) == 0 {
		q.busy = false
		return
	}
	w := q.waiters[0]
	q.waiters = q.waiters[1:]
	w.ch <- nil
}

// handOff passes the turn with g to the next waiter, if there is one that
// may join a group.
func (s *Store) handOff(g *group) bool {
	q := &s.turns
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.waiters) == 0 || q.waiters[0].solo {
		return false
	}
	w := q.waiters[0]
	q.waiters = q.waiters[1:]
	w.ch <- g
	return true
}

// memberMark is the state of a group's transaction when a member joined,
// to which tx.undo returns it.
type memberMark struct {
	last, trimmedTo   int64
	wrote, foreignSeq bool
}

// join makes t the transaction of a new member (fn not run yet), with ctx.
func (t *tx) join(g *group) memberMark {
	g.members++
	t.members = g.members
	t.done, t.memberSent, t.mark = false, false, len(t.queue)
	t.inherited = len(t.queue) > 0
	t.from = t.last
	t.ahead = nil
	return memberMark{last: t.last, trimmedTo: t.trimmedTo, wrote: t.wrote, foreignSeq: t.foreignSeq}
}

// undo drops what the member queued, which no round trip has carried
// (memberSent false), and the seqs it allocated.
func (t *tx) undo(m memberMark) {
	t.queue = t.queue[:t.mark]
	t.last, t.trimmedTo, t.wrote, t.foreignSeq = m.last, m.trimmedTo, m.wrote, m.foreignSeq
	t.ahead = nil
}

// pending reports whether the transaction has something to commit.
func (t *tx) pending() bool {
	return t.begun && (t.wrote || t.last != t.seq || t.trimmedTo != t.trimmed)
}
