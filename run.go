package truce

import (
	"context"
	"time"

	"golang.org/x/sync/errgroup"
)

// transactionSweepInterval is how often Run deletes the state of expired
// interactive transactions. An expired transaction is refused at once
// whether or not it was swept; sweeping only gives its space back.
var transactionSweepInterval = 10 * time.Second

// documentExpiryInterval is how often Run deletes the documents whose
// _expiresAt has passed; until then, reads already answer as if they were
// deleted (expiry.go).
var documentExpiryInterval = 5 * time.Second

// Run does the Service's background upkeep until ctx ends, and returns nil
// once all of it has stopped. Every program that serves writes runs it
// beside them, and stops it before closing the Store:
//
//   - it appends lock.expired for every lock that ends unreleased, at the
//     moment it ends (without Run, only the next lock operation on the
//     document notices);
//   - it deletes stored answers to idempotency keys once they expire;
//   - it deletes the state of interactive transactions past their TTL;
//   - it trims the change log to Options.EventRetention;
//   - it builds the indexes added to collections that have documents
//     (BuildIndexes), and resumes the builds a restart interrupted.
//
// A failure of the store is logged to Options.Logger and retried; it does
// not stop Run.
func (s *Service) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		s.runLockExpirer(ctx)
		return nil
	})
	g.Go(func() error {
		s.runIndexBuilder(ctx)
		return nil
	})
	g.Go(func() error {
		s.every(ctx, "sweep idempotency answers", min(time.Minute, s.idemTTL), func() error {
			_, err := s.SweepIdempotency(ctx)
			return err
		})
		return nil
	})
	g.Go(func() error {
		s.every(ctx, "delete expired documents", documentExpiryInterval, func() error {
			_, err := s.ExpireDocuments(ctx)
			return err
		})
		return nil
	})
	g.Go(func() error {
		s.every(ctx, "sweep expired transactions", transactionSweepInterval, func() error {
			_, err := s.SweepTransactions(ctx)
			return err
		})
		return nil
	})
	if r := s.retention; r.MaxAge > 0 || r.MaxCount > 0 {
		g.Go(func() error {
			s.every(ctx, "trim the change log", eventTrimInterval(r), func() error {
				_, err := s.TrimEvents(ctx, r)
				return err
			})
			return nil
		})
	}
	return g.Wait()
}

// eventTrimInterval is how often Run trims the change log: every minute, or
// sooner for a short retention age, so that events do not outlive it by
// much.
func eventTrimInterval(r EventRetention) time.Duration {
	if r.MaxAge > 0 {
		return min(time.Minute, max(r.MaxAge/4, 100*time.Millisecond))
	}
	return time.Minute
}

// every calls fn at once and then every interval until ctx ends, logging
// its failures as what.
func (s *Service) every(ctx context.Context, what string, interval time.Duration, fn func() error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := fn(); err != nil {
			s.upkeepFailed(ctx, what, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// upkeepFailed logs a failure of background work, unless it failed because
// Run is stopping.
func (s *Service) upkeepFailed(ctx context.Context, what string, err error) {
	if ctx.Err() != nil {
		return
	}
	s.log.Warn("background work failed; retrying", "work", what, "err", err)
}

// UpkeepStats counts what a Service's upkeep (Run, or the methods it calls)
// has done since the Service was made. Over a store that several nodes
// share, each node counts its own.
type UpkeepStats struct {
	// LocksExpired counts the locks that ended unreleased and were removed
	// with their lock.expired event (ExpireLocks).
	LocksExpired int64
	// TransactionsExpired counts the interactive transactions deleted past
	// their TTL (SweepTransactions).
	TransactionsExpired int64
	// IdempotencyExpired counts the stored Idempotency-Key answers deleted
	// past their TTL (SweepIdempotency).
	IdempotencyExpired int64
}

// UpkeepStats returns the counts of the Service's upkeep so far.
func (s *Service) UpkeepStats() UpkeepStats {
	return UpkeepStats{
		LocksExpired:        s.upkeep.locks.Load(),
		TransactionsExpired: s.upkeep.transactions.Load(),
		IdempotencyExpired:  s.upkeep.idempotency.Load(),
	}
}
