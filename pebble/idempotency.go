package pebble

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/trucedb/truce"
)

// The answers to Idempotency-Keys:
//
//	i\x00<uvarint len(caller)><caller><key>                        the record (JSON)
//	x\x00<expiresAt unix ns BE8><uvarint len(caller)><caller><key>  expiry index
//
// The expiry index lets the sweeper find expired records oldest first
// without reading live ones.
const (
	tagIdempotency = 'i'
	tagIdemExpiry  = 'x'
)

func appendCallerKey(b []byte, caller, key string) []byte {
	b = binary.AppendUvarint(b, uint64(len(caller)))
	return append(append(b, caller...), key...)
}

func idempotencyKey(b []byte, caller, key string) []byte {
	return appendCallerKey(appendTag(b, tagIdempotency), caller, key)
}

func idemExpiryKey(b []byte, expires time.Time, caller, key string) []byte {
	b = binary.BigEndian.AppendUint64(appendTag(b, tagIdemExpiry), uint64(expires.UnixNano()))
	return appendCallerKey(b, caller, key)
}

// idemRecord is the stored form of a truce.IdempotencyRecord.
type idemRecord struct {
	Caller      string    `json:"c"`
	Key         string    `json:"k"`
	Fingerprint []byte    `json:"f"`
	CreatedAt   time.Time `json:"t"`
	ExpiresAt   time.Time `json:"x"`
	Created     bool      `json:"cr,omitempty"`
	Document    []byte    `json:"d,omitempty"` // appendDocument of the result
	DocCol      string    `json:"dc,omitempty"`
	DocID       string    `json:"di,omitempty"`
	MergedBase  int64     `json:"mb,omitempty"`
	MergedCur   int64     `json:"mc,omitempty"`
	Answer      []byte    `json:"a,omitempty"`
	Claim       string    `json:"cl,omitempty"`
	legacyAnswer
}

// legacyAnswer is how records written before the answer became opaque
// bytes kept it: the status, content type and body the http package gave.
// Such a record may still be live (for the idempotency TTL after it was
// written, 24 hours by default), and forgetting it would let a retry apply
// its write a second time. So it is still read, and its answer handed on
// as the JSON of these three members, which is how the http package
// encodes the answers it stores (its storedAnswer). Nothing writes these
// fields any more.
type legacyAnswer struct {
	Status      int    `json:"s,omitempty"`
	ContentType string `json:"ct,omitempty"`
	Body        []byte `json:"b,omitempty"`
}

// Idempotency implements truce.ReadTx.
func (t *tx) Idempotency(caller, key string) (*truce.IdempotencyRecord, error) {
	t.key = idempotencyKey(t.key[:0], caller, key)
	var rec *truce.IdempotencyRecord
	found, err := t.get(t.key, func(v []byte) error {
		var r idemRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("%w: idempotency record: %v", errCorrupt, err)
		}
		rec = &truce.IdempotencyRecord{
			IdempotencyKey: truce.IdempotencyKey{Caller: r.Caller, Key: r.Key, Fingerprint: r.Fingerprint, Claim: r.Claim},
			CreatedAt:      r.CreatedAt, ExpiresAt: r.ExpiresAt, Answer: r.Answer,
		}
		if r.Answer == nil && r.Status != 0 {
			a, err := json.Marshal(r.legacyAnswer)
			if err != nil {
				return err
			}
			rec.Answer = a
		}
		if r.Document != nil {
			d, err := decodeDocument(r.Document, r.DocCol, r.DocID)
			if err != nil {
				return err
			}
			rec.Result = &truce.WriteResult{Document: d, Created: r.Created}
			if r.MergedBase > 0 {
				rec.Result.Merged = &truce.MergeInfo{Base: r.MergedBase, Current: r.MergedCur}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	t.observeAll() // the record carries no seq
	if !found {
		return nil, truce.ErrNoRecord
	}
	return rec, nil
}

// PutIdempotency implements truce.Tx.
func (t *tx) PutIdempotency(r *truce.IdempotencyRecord) error {
	old, err := t.Idempotency(r.Caller, r.Key)
	if err != nil && err != truce.ErrNoRecord {
		return err
	}
	b, err := t.writer()
	if err != nil {
		return err
	}
	if old != nil {
		if err := b.Delete(idemExpiryKey(nil, old.ExpiresAt, old.Caller, old.Key), nil); err != nil {
			return wrap("put idempotency", err)
		}
	}
	rec := idemRecord{Caller: r.Caller, Key: r.Key, Fingerprint: r.Fingerprint, CreatedAt: r.CreatedAt.UTC(),
		ExpiresAt: r.ExpiresAt.UTC(), Answer: r.Answer, Claim: r.Claim}
	if res := r.Result; res != nil && res.Document != nil {
		rec.Document, rec.Created = appendDocument(nil, res.Document), res.Created
		rec.DocCol, rec.DocID = res.Document.Collection, res.Document.ID
		if m := res.Merged; m != nil {
			rec.MergedBase, rec.MergedCur = m.Base, m.Current
		}
	}
	v, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := b.Set(idempotencyKey(nil, r.Caller, r.Key), v, nil); err != nil {
		return wrap("put idempotency", err)
	}
	return wrap("put idempotency", b.Set(idemExpiryKey(nil, r.ExpiresAt, r.Caller, r.Key), nil, nil))
}

// DeleteExpiredIdempotency implements truce.Tx.
func (t *tx) DeleteExpiredIdempotency(now time.Time, limit int) (int, error) {
	if err := t.beginScan(); err != nil {
		return 0, err
	}
	lower := appendTag(nil, tagIdemExpiry)
	expired, err := t.expiredKeys(lower, now, limit)
	if err != nil || len(expired) == 0 {
		return 0, err
	}
	b, err := t.writer()
	if err != nil {
		return 0, err
	}
	for _, k := range expired {
		rest := k[len(lower)+8:]
		n, w := binary.Uvarint(rest)
		if w <= 0 || uint64(len(rest)-w) < n {
			return 0, fmt.Errorf("%w: idempotency expiry key %q", errCorrupt, k)
		}
		caller, key := string(rest[w:w+int(n)]), string(rest[w+int(n):])
		if err := b.Delete(idempotencyKey(nil, caller, key), nil); err != nil {
			return 0, wrap("sweep idempotency", err)
		}
		if err := b.Delete(k, nil); err != nil {
			return 0, wrap("sweep idempotency", err)
		}
	}
	return len(expired), nil
}

// expiredKeys returns up to limit keys of the expiry index whose keys start
// with prefix and continue with a big-endian UnixNano time, for the times
// not after now, earliest first.
func (t *tx) expiredKeys(prefix []byte, now time.Time, limit int) ([][]byte, error) {
	upper := binary.BigEndian.AppendUint64(append([]byte(nil), prefix...), uint64(now.UnixNano())+1)
	var keys [][]byte
	err := t.scan(prefix, upper, nil, false, func(k, _ []byte) (bool, error) {
		keys = append(keys, append([]byte(nil), k...))
		return len(keys) < limit, nil
	})
	return keys, err
}
