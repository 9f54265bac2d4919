package truce

import (
	"bytes"
	"context"
	"errors"
	"time"
)

// IdempotencyKey identifies a request that may be retried: the caller, the
// key the caller chose, and a fingerprint of the request itself.
type IdempotencyKey struct {
	Caller      string
	Key         string
	Fingerprint []byte
	// Stored is set by the Service once a write has stored its result as
	// the answer, in the write's own commit.
	Stored bool
}

// IdempotencyRecord is the stored answer to the first request that carried
// an Idempotency-Key. A write that committed stores its Result in the same
// atomic commit as the write; a request that changed nothing stores the
// answer it got (Status, ContentType, Body) afterwards.
type IdempotencyRecord struct {
	IdempotencyKey
	CreatedAt time.Time
	ExpiresAt time.Time
	// Result is the outcome of a committed write; nil otherwise.
	Result *WriteResult
	// Status, ContentType and Body are the raw answer when Result is nil.
	Status      int
	ContentType string
	Body        []byte
}

// Matches reports whether a request with the given fingerprint is the same
// request as the one recorded.
func (r *IdempotencyRecord) Matches(fingerprint []byte) bool {
	return bytes.Equal(r.Fingerprint, fingerprint)
}

type idemCtxKey struct{}

// WithIdempotency returns a context under which a Service write stores its
// result as the answer to k, in the same commit as the write.
func WithIdempotency(ctx context.Context, k *IdempotencyKey) context.Context {
	return context.WithValue(ctx, idemCtxKey{}, k)
}

func idempotencyFrom(ctx context.Context) *IdempotencyKey {
	k, _ := ctx.Value(idemCtxKey{}).(*IdempotencyKey)
	return k
}

// storeIdempotency records res as the answer to the context's key inside a
// write's transaction. A record already there means another request with
// the same key committed first: the write is refused so the caller replays.
func (s *Service) storeIdempotency(ctx context.Context, tx Tx, res WriteResult) error {
	k := idempotencyFrom(ctx)
	if k == nil {
		return nil
	}
	return s.putAnswer(tx, k, &IdempotencyRecord{Result: &res})
}

// putAnswer stores rec (its answer fields) as the answer to k inside a
// write's transaction, refusing when another request with the key
// committed first.
func (s *Service) putAnswer(tx Tx, k *IdempotencyKey, rec *IdempotencyRecord) error {
	now := s.now().UTC()
	old, err := tx.Idempotency(k.Caller, k.Key)
	switch {
	case err == nil && old.ExpiresAt.After(now):
		return Errorf(CodeIdempotencyKeyInUse, "another request with idempotency key %q committed first; retry to get its answer", k.Key)
	case err != nil && !errors.Is(err, ErrNoRecord):
		return err
	}
	rec.IdempotencyKey, rec.CreatedAt, rec.ExpiresAt = *k, now, now.Add(s.idemTTL)
	return tx.PutIdempotency(rec)
}

// Idempotency returns the live stored answer for a caller's key, or nil.
func (s *Service) Idempotency(ctx context.Context, caller, key string) (*IdempotencyRecord, error) {
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
		if !r.ExpiresAt.After(s.now()) {
			rec = nil
		}
		return nil
	})
	return rec, err
}

// SaveIdempotency stores the answer to a request that changed nothing (a
// refused write, a collection request), unless an answer is stored already.
func (s *Service) SaveIdempotency(ctx context.Context, k *IdempotencyKey, status int, contentType string, body []byte) error {
	return s.store.Update(ctx, func(tx Tx) error {
		now := s.now().UTC()
		old, err := tx.Idempotency(k.Caller, k.Key)
		if err == nil && old.ExpiresAt.After(now) {
			return nil
		}
		if err != nil && !errors.Is(err, ErrNoRecord) {
			return err
		}
		return tx.PutIdempotency(&IdempotencyRecord{IdempotencyKey: *k, CreatedAt: now, ExpiresAt: now.Add(s.idemTTL),
			Status: status, ContentType: contentType, Body: body})
	})
}

// SweepIdempotency deletes expired answers in small commits, so writers
// wait at most for one short batch. It returns how many it deleted.
func (s *Service) SweepIdempotency(ctx context.Context) (int, error) {
	return s.sweepExpired(ctx, Tx.DeleteExpiredIdempotency)
}
