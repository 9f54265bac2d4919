package truce

import (
	"context"
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

// BuildIndexStep runs one bounded step of the index builds of a
// collection, as BuildIndexes does, and reports whether any is left.
func BuildIndexStep(s *Service, ctx context.Context, collection string) (bool, error) {
	return s.buildIndexStep(ctx, collection)
}

// IndexName is the name under which the Store keeps the index of paths.
func IndexName(paths []string) string { return indexName(paths) }

// ServiceStore returns the Store a Service runs on.
func ServiceStore(s *Service) Store { return s.store }

// IndexKey returns the key of d in the index of paths.
func IndexKey(paths []string, d *Document) []byte {
	return keyOf(paths, paths, collatedPaths(d, paths), d.ID)
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
