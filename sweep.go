package truce

import (
	"context"
	"time"
)

// sweepBatch bounds the records one sweeping commit deletes, so that writers
// wait at most for one short batch.
const sweepBatch = 256

// sweepExpired calls del in commits of up to sweepBatch records until a
// commit deletes fewer, and returns how many it deleted in all.
func (s *Service) sweepExpired(ctx context.Context, del func(tx Tx, now time.Time, limit int) (int, error)) (int, error) {
	total := 0
	for {
		n := 0
		err := s.store.Update(ctx, func(tx Tx) error {
			var err error
			n, err = del(tx, s.now(), sweepBatch)
			return err
		})
		total += n
		if err != nil || n < sweepBatch {
			return total, err
		}
	}
}
