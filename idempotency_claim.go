package truce

import (
	"context"
	"errors"
	"sync"
	"time"
)

// idempotencyClaimLease is how long a claim in a shared store lasts
// without renewal; the request renews it every third of that while it
// runs. A request whose node dies keeps its key in use for at most this
// long.
var idempotencyClaimLease = 10 * time.Second

// IdempotencyClaim is the right of one request to run under an idempotency
// key, from ClaimIdempotency until Release.
type IdempotencyClaim struct {
	s    *Service
	k    IdempotencyKey
	slot string // the key of Service.claims, over a store that is not shared
	// stop ends the renewals of a claim in a shared store, and done is
	// closed when they have ended.
	stop context.CancelFunc
	done chan struct{}
	once sync.Once
}

// ClaimIdempotency claims k for a request that is about to run, so that
// another request with the same caller and key, on this node or any other
// over the same store, is refused with CodeIdempotencyKeyInUse until it
// ends. If an answer is stored under the key already, it returns that
// answer (the caller replays it, or refuses a request with another
// fingerprint) and no claim. Otherwise it sets k.Claim, which the caller
// passes on as the idem of the write that stores the answer (or to
// SaveIdempotency), and the caller must Release the claim once the request
// is answered.
//
// Over a store that is not shared, the claim is kept in memory and costs
// nothing; over a SharedStore it is a record in the store, written in a
// commit of its own and renewed while the request runs.
func (s *Service) ClaimIdempotency(ctx context.Context, k *IdempotencyKey) (*IdempotencyRecord, *IdempotencyClaim, error) {
	if !s.shared {
		slot := k.Caller + "\x00" + k.Key
		if _, busy := s.claims.LoadOrStore(slot, struct{}{}); busy {
			return nil, nil, errKeyInFlight(k.Key)
		}
		rec, err := s.GetIdempotency(ctx, k.Caller, k.Key)
		if err != nil || rec != nil {
			s.claims.Delete(slot)
			return rec, nil, err
		}
		return nil, &IdempotencyClaim{s: s, k: *k, slot: slot}, nil
	}
	claim := newLockToken()
	var rec *IdempotencyRecord
	err := s.store.Update(ctx, func(tx Tx) error {
		rec = nil
		now := s.now().UTC()
		old, err := tx.Idempotency(k.Caller, k.Key)
		switch {
		case err != nil && !errors.Is(err, ErrNoRecord):
			return err
		case err == nil && old.ExpiresAt.After(now) && old.Claim != "":
			return errKeyInFlight(k.Key)
		case err == nil && old.ExpiresAt.After(now):
			rec = old
			return nil
		}
		c := &IdempotencyRecord{IdempotencyKey: *k, CreatedAt: now, ExpiresAt: now.Add(idempotencyClaimLease)}
		c.Claim = claim
		return tx.PutIdempotency(c)
	})
	if err != nil || rec != nil {
		return rec, nil, err
	}
	k.Claim = claim
	c := &IdempotencyClaim{s: s, k: *k, done: make(chan struct{})}
	var rctx context.Context
	rctx, c.stop = context.WithCancel(context.WithoutCancel(ctx))
	go c.renew(rctx)
	return nil, c, nil
}

func errKeyInFlight(key string) error {
	e := Errorf(CodeIdempotencyKeyInUse, "a request with idempotency key %q is still in flight; retry after a second to get its answer", key)
	e.RetryAfter = time.Second
	return e
}

// renew extends the claim's lease every third of it until ctx ends or the
// record is no longer the claim (an answer replaced it).
func (c *IdempotencyClaim) renew(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(idempotencyClaimLease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		mine := true
		err := c.s.store.Update(ctx, func(tx Tx) error {
			old, err := tx.Idempotency(c.k.Caller, c.k.Key)
			if errors.Is(err, ErrNoRecord) || (err == nil && !old.claimedBy(&c.k)) {
				mine = false
				return nil
			}
			if err != nil {
				return err
			}
			r := *old
			r.ExpiresAt = c.s.now().UTC().Add(idempotencyClaimLease)
			return tx.PutIdempotency(&r)
		})
		if err != nil && ctx.Err() == nil {
			c.s.upkeepFailed(ctx, "renew an idempotency claim", err)
		}
		if !mine {
			return
		}
	}
}

// Release ends the claim: the key is free again unless an answer was
// stored under it, in which case the answer stays for retries. Call it once
// the request is answered; later calls do nothing.
func (c *IdempotencyClaim) Release(ctx context.Context) error {
	var err error
	c.once.Do(func() {
		if c.stop == nil {
			c.s.claims.Delete(c.slot)
			return
		}
		c.stop()
		<-c.done
		err = c.s.store.Update(context.WithoutCancel(ctx), func(tx Tx) error {
			old, err := tx.Idempotency(c.k.Caller, c.k.Key)
			if errors.Is(err, ErrNoRecord) {
				return nil
			}
			if err != nil || !old.claimedBy(&c.k) {
				return err
			}
			// A Tx cannot delete one record; an ended one is free, and
			// the sweep removes it.
			r := *old
			r.ExpiresAt = r.CreatedAt
			return tx.PutIdempotency(&r)
		})
	})
	return err
}
