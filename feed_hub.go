package truce

import (
	"context"
	"slices"
	"time"
)

// publishLocked wakes every waiting subscriber; f.mu is held for writing.
func (f *Feed) publishLocked() {
	close(f.wake)
	f.wake = make(chan struct{})
}

// ensureHub starts the hub goroutine unless it runs.
func (f *Feed) ensureHub() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.running && f.subs > 0 {
		f.running = true
		go f.run()
	}
}

// run is the hub: while anyone subscribes, it reads new events into the
// ring after every wake-up of the store (or every FeedPollInterval).
func (f *Feed) run() {
	ctx := context.Background()
	notifier, _ := f.store.(ChangeNotifier)
	backoff := 10 * time.Millisecond
	var published time.Time
	for {
		f.mu.Lock()
		if f.subs == 0 {
			// Nobody listens: stop, and forget the ring, which would go
			// stale. The next subscriber's hub starts afresh.
			f.running, f.loaded, f.ring, f.bytes = false, false, nil, 0
			f.publishLocked()
			f.mu.Unlock()
			return
		}
		loaded, last := f.loaded, f.last
		f.mu.Unlock()

		var changed <-chan struct{}
		if notifier != nil {
			changed = notifier.Changed()
		}
		var err error
		if !loaded {
			err = f.load(ctx)
		} else {
			if wait := feedPublishGap - time.Since(published); wait > 0 {
				time.Sleep(wait)
			}
			var n int
			n, err = f.pull(ctx, last)
			if n > 0 {
				published = time.Now()
			}
		}
		if err != nil {
			// The store fails (or closes): retry, slowly; subscribers keep
			// their positions and read the log themselves meanwhile.
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 10 * time.Millisecond
		if changed == nil {
			time.Sleep(FeedPollInterval)
			continue
		}
		select {
		case <-changed:
		case <-time.After(FeedPollInterval * 4):
			// A safety net: a wake-up lost to a store bug costs a second.
		}
	}
}

// load starts the ring empty at the log's current end.
func (f *Feed) load(ctx context.Context) error {
	var last int64
	err := f.store.View(ctx, func(tx ReadTx) (err error) {
		last, err = tx.LastSeq()
		return err
	})
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.loaded, f.first, f.last, f.ring, f.bytes = true, last+1, last, nil, 0
	f.publishLocked()
	f.mu.Unlock()
	return nil
}

// pull reads the events after last into the ring, batch by batch, and
// returns how many it read.
func (f *Feed) pull(ctx context.Context, last int64) (n int, err error) {
	for {
		var evs []*Event
		var end int64
		err := f.store.View(ctx, func(tx ReadTx) (err error) {
			if evs, err = tx.Events(last, feedReadBatch); err != nil {
				return err
			}
			if len(evs) < feedReadBatch {
				// Every seq up to the log's end is now accounted for,
				// including trailing seqs that carried no event.
				end, err = tx.LastSeq()
			}
			return err
		})
		if err != nil {
			return n, err
		}
		n += len(evs)
		if len(evs) > 0 {
			end = max(end, evs[len(evs)-1].Seq)
		}
		if end <= last {
			return n, nil
		}
		// Encode outside the lock, once for every subscriber.
		fevs := make([]*FeedEvent, len(evs))
		for i, e := range evs {
			fevs[i] = newFeedEvent(e)
		}
		f.mu.Lock()
		f.ring = append(f.ring, fevs...)
		for _, e := range fevs {
			f.bytes += eventSize(e)
		}
		f.last = end
		f.shrinkLocked()
		f.publishLocked()
		f.mu.Unlock()
		last = end
		if len(evs) < feedReadBatch {
			return n, nil
		}
	}
}

// shrinkLocked drops the oldest events beyond the ring's limits.
func (f *Feed) shrinkLocked() {
	if len(f.ring) <= f.ringEvents && f.bytes <= feedRingBytes {
		return
	}
	// Drop a quarter at a time, so that a full ring is not copied on
	// every commit.
	n := 0
	for n < len(f.ring) && (len(f.ring)-n > f.ringEvents*3/4 || f.bytes > feedRingBytes*3/4) {
		f.bytes -= eventSize(f.ring[n])
		n++
	}
	f.first = f.ring[n-1].Seq + 1
	clear(f.ring[:n])
	f.ring = slices.Clone(f.ring[n:])
}

func eventSize(e *FeedEvent) int {
	return 128 + len(e.Document) + len(e.Info) + len(e.json) + len(e.jsonNoDoc)
}
