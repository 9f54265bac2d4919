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

// SetClusterTimings sets the lease of a lock queue record, the poll of a
// waiting lock request and the lease of an idempotency claim over a shared
// store, and returns a func that restores them.
func SetClusterTimings(waiterLease, queuePoll, claimLease time.Duration) (restore func()) {
	a, b, c := lockWaiterLease, lockQueuePoll, idempotencyClaimLease
	lockWaiterLease, lockQueuePoll, idempotencyClaimLease = waiterLease, queuePoll, claimLease
	return func() { lockWaiterLease, lockQueuePoll, idempotencyClaimLease = a, b, c }
}

// SetSharedLockExpiryIdle sets the longest sleep of the lock expirer over
// a shared store, and returns a func that restores it.
func SetSharedLockExpiryIdle(d time.Duration) (restore func()) {
	old := sharedLockExpiryIdle
	sharedLockExpiryIdle = d
	return func() { sharedLockExpiryIdle = old }
}
