package truce

import (
	"bytes"
	"context"
	"errors"
	"time"
)

// IdempotencyKey identifies a request that may be retried: the caller, the
// key the caller chose, and a fingerprint of the request itself.
//
// The Service's writes take one as idem. When it is not nil, the write
// stores its answer under it in the write's own commit, so that a nil
// error means the answer is stored and a retry can replay it; the write
// is refused with CodeIdempotencyKeyInUse when another request with the
// key committed first. A nil idem stores nothing.
type IdempotencyKey struct {
	Caller      string
	Key         string
	Fingerprint []byte
	// Claim names the claim (ClaimIdempotency) under which the request
	// runs, "" for none. A stored record with a Claim and no answer is that
	// claim: a request with the key is running, on some node, until the
	// record's ExpiresAt unless renewed. A stored answer has no Claim.
	Claim string
}

// IdempotencyRecord is the stored answer to the first request that carried
// an idempotency key. A single-document write that committed stores its
// Result in the same atomic commit as the write; a batch or transaction
// call stores the Answer the transport encoded from its results, in its
// own commit too; a request that changed nothing stores the Answer it got
// afterwards (SaveIdempotency).
type IdempotencyRecord struct {
	IdempotencyKey
	CreatedAt time.Time
	ExpiresAt time.Time
	// Result is the outcome of a committed single-document write; nil
	// otherwise.
	Result *WriteResult
	// Answer is the answer as the transport encoded it, when Result is
	// nil. The Service and the Store keep its bytes as they were given;
	// only the transport that wrote them reads them.
	Answer []byte
}

// Matches reports whether a request with the given fingerprint is the same
// request as the one recorded.
func (r *IdempotencyRecord) Matches(fingerprint []byte) bool {
	return bytes.Equal(r.Fingerprint, fingerprint)
}

// claimedBy reports whether r is the claim under which k's request runs.
func (r *IdempotencyRecord) claimedBy(k *IdempotencyKey) bool {
	return r.Claim != "" && r.Claim == k.Claim
}

// putAnswer stores rec (its answer fields) as the answer to k inside a
// write's transaction, refusing when another request with the key
// committed first.
func (s *Service) putAnswer(tx Tx, k *IdempotencyKey, rec *IdempotencyRecord) error {
	now := s.now().UTC()
	old, err := tx.Idempotency(k.Caller, k.Key)
	switch {
	case err == nil && old.ExpiresAt.After(now) && !old.claimedBy(k):
		return Errorf(CodeIdempotencyKeyInUse, "another request with idempotency key %q committed first; retry to get its answer", k.Key)
	case err != nil && !errors.Is(err, ErrNoRecord):
		return err
	}
	rec.IdempotencyKey, rec.CreatedAt, rec.ExpiresAt = *k, now, now.Add(s.idemTTL)
	rec.Claim = ""
	return tx.PutIdempotency(rec)
}

// GetIdempotency returns the live stored answer for a caller's key, or nil.
func (s *Service) GetIdempotency(ctx context.Context, caller, key string) (*IdempotencyRecord, error) {
	var rec *IdempotencyRecord
	err := s.store.View(ctx, func(tx ReadTx) error {
		r, err := tx.Idempotency(caller, key)
		if errors.Is(err, ErrNoRecord) {
			rec = nil
			return nil
		}
		if err != nil {
			return err
		}
		rec = r
		if !r.ExpiresAt.After(s.now()) || r.Claim != "" {
			rec = nil // expired, or a claim, which holds no answer
		}
		return nil
	})
	return rec, err
}

// SaveIdempotency stores answer, as the transport encoded it, as the answer
// to k: for a request that changed nothing (a refused write) or whose write
// does not store its own answer (a collection or lock request), unless an
// answer is stored already.
func (s *Service) SaveIdempotency(ctx context.Context, k *IdempotencyKey, answer []byte) error {
	return s.store.Update(ctx, func(tx Tx) error {
		now := s.now().UTC()
		old, err := tx.Idempotency(k.Caller, k.Key)
		if err == nil && old.ExpiresAt.After(now) && !old.claimedBy(k) {
			return nil
		}
		if err != nil && !errors.Is(err, ErrNoRecord) {
			return err
		}
		rec := &IdempotencyRecord{IdempotencyKey: *k, CreatedAt: now, ExpiresAt: now.Add(s.idemTTL), Answer: answer}
		rec.Claim = ""
		return tx.PutIdempotency(rec)
	})
}

// SweepIdempotency deletes expired answers in small commits, so writers
// wait at most for one short batch. It returns how many it deleted.
func (s *Service) SweepIdempotency(ctx context.Context) (int, error) {
	n, err := s.sweepExpired(ctx, Tx.DeleteExpiredIdempotency)
	s.upkeep.idempotency.Add(int64(n))
	return n, err
}
