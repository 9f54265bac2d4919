package truce

import (
	"time"
)

// SetFeedRing sets the capacity of the feed's ring of recent events.
func SetFeedRing(f *Feed, events int) {
	f.mu.Lock()
	f.ringEvents = events
	f.mu.Unlock()
}

// FeedRingFirst returns the seq of the oldest event the ring may hold.
func FeedRingFirst(f *Feed) int64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.first
}

// SetTransactionSweepInterval sets how often Run sweeps expired
// transactions, and returns a func that restores it.
func SetTransactionSweepInterval(d time.Duration) (restore func()) {
	old := transactionSweepInterval
	transactionSweepInterval = d
	return func() { transactionSweepInterval = old }
}
