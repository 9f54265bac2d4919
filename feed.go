package truce

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"sync"
	"time"
)

// ChangeNotifier is an optional capability of a Store: it wakes change-feed
// readers when commits append events, so that they need not poll. A Store
// without it is polled every FeedPollInterval.
type ChangeNotifier interface {
	// Changed returns a channel that is closed once a commit made after
	// the call (one that may have appended events) is visible to Views.
	// Each call may return a new channel.
	Changed() <-chan struct{}
}

// FeedPollInterval is how often the feed reads the change log of a Store
// that is not a ChangeNotifier.
const FeedPollInterval = 250 * time.Millisecond

// Feed tunables. The ring holds the most recent events in memory; a
// subscriber whose position falls before it reads the durable log itself.
const (
	feedRingEvents = 8192
	feedRingBytes  = 32 << 20
	feedReadBatch  = 1000
	// feedPublishGap is the least time between two publications of the
	// hub. Under a stream of commits it makes each wake-up of the
	// subscribers carry the events of several commits, so that they make
	// fewer, larger writes (with 1,000 subscribers every wake-up costs
	// thousands of system calls); a commit after a quiet spell is
	// published at once.
	feedPublishGap = 5 * time.Millisecond
)

// Feed is the process-wide hub of the change feed. One goroutine, running
// while anyone subscribes, reads the events of new commits from the store
// once per wake-up into a ring of recent events, and tells the subscribers.
// Each subscriber then reads what it has not seen from the ring, at its own
// pace, from its own position; a subscriber whose position has fallen out
// of the ring reads the durable log itself until it catches up. So a slow
// subscriber holds up neither writers nor other subscribers, and since a
// position only moves over events that were read, none is lost or
// delivered twice.
type Feed struct {
	store Store

	mu      sync.RWMutex
	subs    int  // open subscriptions
	running bool // the hub goroutine runs
	// loaded says whether the ring reflects the log: ring holds the events
	// with seqs in [first, last], in order (seqs without events are gaps).
	loaded bool
	first  int64
	last   int64
	ring   []*FeedEvent
	bytes  int
	// ringEvents is the ring's capacity in events (feedRingEvents; tests
	// make it small).
	ringEvents int
	// wake is closed and replaced whenever the ring grows or (un)loads.
	wake chan struct{}
}

func newFeed(store Store) *Feed {
	return &Feed{store: store, wake: make(chan struct{}), ringEvents: feedRingEvents}
}

// Feed returns the service's change feed.
func (s *Service) Feed() *Feed { return s.feed }

// FeedFilter selects events. Zero fields select everything.
type FeedFilter struct {
	Collection string
	ID         string
	// Types lists the event types to deliver; empty means all.
	Types []EventType
	// Readable, when set, keeps only what a caller may read: the events
	// of the collections it accepts, and the transaction.committed events
	// whose every write is in one of them. Any other event without a
	// collection is left out, so that a type added later is not shown to
	// callers it may not concern before someone decides who may read it.
	Readable func(collection string) bool
}

func (f *FeedFilter) match(e *Event) bool {
	if f.Collection != "" && e.Collection != f.Collection {
		return false
	}
	if f.Readable != nil && !f.readable(e) {
		return false
	}
	if f.ID != "" && e.ID != f.ID {
		return false
	}
	return len(f.Types) == 0 || slices.Contains(f.Types, e.Type)
}

// readable reports whether Readable accepts everything e tells of.
func (f *FeedFilter) readable(e *Event) bool {
	if e.Collection != "" {
		return f.Readable(e.Collection)
	}
	if e.Type != EventTransactionCommitted {
		return false
	}
	var info commitEventInfo
	if err := json.Unmarshal(e.Info, &info); err != nil {
		return false
	}
	for _, w := range info.Writes {
		if !f.Readable(w.Collection) {
			return false
		}
	}
	return true
}

// ValidateEventTypes checks that each name is an event type (EventTypes).
func ValidateEventTypes(types []EventType) error {
	for _, t := range types {
		if !slices.Contains(EventTypes(), t) {
			return Errorf(CodeInvalidParameter, "types: %.60q is not an event type; use a comma-separated list of %v", string(t), EventTypes())
		}
	}
	return nil
}

// Subscription is one reader of the feed, at a position: the seq it has
// read through. It is not safe for concurrent use; Close it when done.
type Subscription struct {
	feed   *Feed
	filter FeedFilter
	pos    int64
	closed bool
}

// Subscribe opens a subscription that delivers the events after seq since
// that pass filter. A negative since means from now: the events committed
// after Subscribe returns. A since older than the retained log (its events
// may have been trimmed) is CodeEventsExpired; one past the last committed
// seq is CodeInvalidParameter, since events it would skip may come later.
func (f *Feed) Subscribe(ctx context.Context, since int64, filter FeedFilter) (*Subscription, error) {
	if err := ValidateEventTypes(filter.Types); err != nil {
		return nil, err
	}
	var trimmed, last int64
	err := f.store.View(ctx, func(tx ReadTx) (err error) {
		if trimmed, err = tx.EventsTrimmed(); err != nil {
			return err
		}
		last, err = tx.LastSeq()
		return err
	})
	if err != nil {
		return nil, err
	}
	switch {
	case since < 0:
		since = last
	case since < trimmed:
		return nil, expired(since, trimmed)
	case since > last:
		return nil, Errorf(CodeInvalidParameter, "seq %d is past the last event of this server (seq %d); resume from a seq the feed gave you, or subscribe from now", since, last)
	}
	f.mu.Lock()
	f.subs++
	f.mu.Unlock()
	return &Subscription{feed: f, filter: filter, pos: since}, nil
}

// OldestSeq returns the position that the oldest retained event follows:
// a Subscribe with this since delivers every event the feed still has.
func (f *Feed) OldestSeq(ctx context.Context) (int64, error) {
	var trimmed int64
	err := f.store.View(ctx, func(tx ReadTx) (err error) {
		trimmed, err = tx.EventsTrimmed()
		return err
	})
	return trimmed, err
}

func expired(since, trimmed int64) error {
	return Errorf(CodeEventsExpired, "seq %d is older than the change feed keeps (trimmed through seq %d); re-read the documents you follow, then subscribe again from now", since, trimmed)
}

// Subscribers returns the number of open subscriptions (for metrics).
func (f *Feed) Subscribers() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.subs
}

// SetReadable replaces the filter's Readable (nil: every collection).
// The events that Next and Read return from then on pass the new filter;
// those already returned are not looked at again, and Match tells which
// of them the new filter keeps. A caller whose grants change while it
// subscribes (its token's file was reloaded) calls it between reads.
func (s *Subscription) SetReadable(readable func(collection string) bool) {
	s.filter.Readable = readable
}

// Match reports whether e passes the subscription's filter as it is now.
func (s *Subscription) Match(e *FeedEvent) bool { return s.filter.match(e.Event) }

// Pos returns the seq the subscription has read through: every event up to
// it that passes the filter has been returned. Resuming from Pos loses and
// repeats nothing.
func (s *Subscription) Pos() int64 { return s.pos }

// Close ends the subscription. It may be called more than once.
func (s *Subscription) Close() {
	if s.closed {
		return
	}
	s.closed = true
	s.feed.mu.Lock()
	s.feed.subs--
	s.feed.mu.Unlock()
}

// Next returns up to limit events after the subscription's position that
// pass its filter, in seq order, and moves the position past them. It waits
// until there is at least one, or returns ctx's error. It returns
// CodeEventsExpired when the events it must read from the log were trimmed
// before it got to them.
func (s *Subscription) Next(ctx context.Context, limit int) ([]*FeedEvent, error) {
	for {
		wake, running := s.feed.wakeup()
		evs, caughtUp, err := s.read(ctx, limit)
		if err != nil || len(evs) > 0 {
			return evs, err
		}
		if !caughtUp {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			continue
		}
		if !running {
			s.feed.ensureHub()
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Read is Next without waiting: it returns what is there now, possibly
// nothing.
func (s *Subscription) Read(ctx context.Context, limit int) ([]*FeedEvent, error) {
	for {
		evs, caughtUp, err := s.read(ctx, limit)
		if err != nil || len(evs) > 0 || caughtUp {
			return evs, err
		}
	}
}

// read returns the matching events of one step: from the ring if it
// covers the position, else one batch of the log. caughtUp says that the
// position reached the newest event known.
func (s *Subscription) read(ctx context.Context, limit int) (evs []*FeedEvent, caughtUp bool, err error) {
	limit = max(limit, 1)
	f := s.feed
	f.mu.RLock()
	if f.loaded && s.pos+1 >= f.first {
		i := sort.Search(len(f.ring), func(i int) bool { return f.ring[i].Seq > s.pos })
		for ; i < len(f.ring) && len(evs) < limit; i++ {
			e := f.ring[i]
			s.pos = e.Seq
			if s.filter.match(e.Event) {
				evs = append(evs, e)
			}
		}
		if i == len(f.ring) && f.last > s.pos {
			s.pos = f.last // a gap of seqs without events
		}
		caughtUp = s.pos >= f.last
		f.mu.RUnlock()
		return evs, caughtUp, nil
	}
	f.mu.RUnlock()
	// Catch up from the log. The position moves only over events read,
	// and a View sees a contiguous prefix of the log, so nothing is skipped.
	var batch []*Event
	var end int64
	err = f.store.View(ctx, func(tx ReadTx) error {
		trimmed, err := tx.EventsTrimmed()
		if err != nil {
			return err
		}
		if s.pos < trimmed {
			return expired(s.pos, trimmed)
		}
		if batch, err = tx.Events(s.pos, feedReadBatch); err != nil || len(batch) == feedReadBatch {
			return err
		}
		// The whole rest of the log: seqs up to the end that carry no
		// event (a collection's settings) need no reading again.
		end, err = tx.LastSeq()
		return err
	})
	if err != nil {
		return nil, false, err
	}
	for _, e := range batch {
		if len(evs) == limit {
			return evs, false, nil
		}
		s.pos = e.Seq
		if s.filter.match(e) {
			evs = append(evs, newFeedEvent(e))
		}
	}
	s.pos = max(s.pos, end)
	return evs, len(batch) < feedReadBatch, nil
}

// wakeup returns the channel that the hub closes when it next publishes,
// and whether the hub runs. Many subscribers call it at once, so it takes
// the lock only for reading.
func (f *Feed) wakeup() (<-chan struct{}, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.wake, f.running
}
