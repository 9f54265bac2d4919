package postgres

import "context"

// Setting returns the value of a setting on a connection of s's pool.
func Setting(s *Store, name string) (string, error) {
	var v string
	err := s.pool.QueryRow(context.Background(), "SELECT current_setting($1)", name).Scan(&v)
	return v, err
}

// StoreError is storeError, for the tests of its mapping.
var StoreError = storeError

// Waiting returns how many Updates of s wait for their turn (group.go).
func Waiting(s *Store) int {
	s.turns.mu.Lock()
	defer s.turns.mu.Unlock()
	return len(s.turns.waiters)
}

// SetReadsInFlight sets how many Documents of s may be in flight at once,
// the others waiting to go in batches (read_batch.go); s must not be in
// use.
func SetReadsInFlight(s *Store, n int) { s.reads.limit = n }

// BatchedReads returns how many Documents of s went in batches.
func BatchedReads(s *Store) int64 {
	s.reads.mu.Lock()
	defer s.reads.mu.Unlock()
	return s.reads.batched
}

// PrefetchHits returns how many read-aheads of s's Updates were answered
// by a prefetch (readahead.go).
func PrefetchHits(s *Store) int64 { return s.prefetchHits.Load() }
