package postgres

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/trucedb/truce"
)

// Records that truce reads and writes whole (collection settings,
// conflicts, idempotency answers, interactive transactions) are stored as
// JSON in a bytea column, beside the columns that the queries select or
// order by: JSON so that fields added to the truce types are stored without
// a migration, bytea so that their bytes (a JSON Schema, an answer) come
// back exactly.

// encodeSettings encodes a collection's settings without escaping HTML,
// so that a JSON Schema keeps its bytes.
func encodeSettings(c *truce.Collection) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c.Settings); err != nil {
		return nil, fmt.Errorf("postgres: encode collection %s: %w", c.Name, err)
	}
	return buf.Bytes(), nil
}

func decodeSettings(c *truce.Collection, v []byte) error {
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	if err := json.Unmarshal(v, &c.Settings); err != nil {
		return fmt.Errorf("postgres: corrupt collection %s: %w", c.Name, err)
	}
	return nil
}

// docRecord is a document inside a JSON record (an idempotency answer, a
// staged write). Times keep their nanoseconds there.
type docRecord struct {
	Collection string    `json:"c"`
	ID         string    `json:"i"`
	Version    int64     `json:"v"`
	Seq        int64     `json:"s"`
	Deleted    bool      `json:"del,omitempty"`
	CreatedAt  time.Time `json:"ct"`
	UpdatedAt  time.Time `json:"ut"`
	UpdatedBy  string    `json:"ub,omitempty"`
	Body       []byte    `json:"b"` // nil stays null
}

func toDocRecord(d *truce.Document) docRecord {
	return docRecord{Collection: d.Collection, ID: d.ID, Version: d.Version, Seq: d.Seq, Deleted: d.Deleted,
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(), UpdatedBy: d.UpdatedBy, Body: d.Body}
}

func (r docRecord) document() *truce.Document {
	return &truce.Document{Collection: r.Collection, ID: r.ID, Version: r.Version, Seq: r.Seq, Deleted: r.Deleted,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, UpdatedBy: r.UpdatedBy, Body: r.Body}
}

// Conflict implements truce.ReadTx.
func (t *tx) Conflict(id string) (*truce.Conflict, error) {
	var v []byte
	found, err := t.get("SELECT record FROM conflicts WHERE id = $1", []any{id}, &v)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, truce.ErrNoRecord
	}
	return decodeConflict(v)
}

func decodeConflict(v []byte) (*truce.Conflict, error) {
	var c truce.Conflict
	if err := json.Unmarshal(v, &c); err != nil {
		return nil, fmt.Errorf("postgres: corrupt conflict: %w", err)
	}
	if string(c.Proposed) == "null" { // a proposed delete
		c.Proposed = nil
	}
	return &c, nil
}

// Conflicts implements truce.ReadTx. Conflicts are few (each is a refused
// write someone must decide), so it filters them in id order here.
func (t *tx) Conflicts(f truce.ConflictFilter, after string, limit int) ([]*truce.Conflict, error) {
	if err := t.check(); err != nil || limit <= 0 {
		return nil, err
	}
	var out []*truce.Conflict
	err := t.query(func(rows pgx.Rows) error {
		for rows.Next() && len(out) < limit {
			var v []byte
			if err := rows.Scan(&v); err != nil {
				return err
			}
			c, err := decodeConflict(v)
			if err != nil {
				return err
			}
			if f.Match(c) {
				out = append(out, c)
			}
		}
		return nil
	}, "SELECT record FROM conflicts WHERE id > $1 ORDER BY id", after)
	return out, err
}

// PutConflict implements truce.Tx.
func (t *tx) PutConflict(c *truce.Conflict) error {
	if c.ID == "" {
		return fmt.Errorf("postgres: conflict without an id")
	}
	v, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return t.exec("INSERT INTO conflicts (id, record) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
		c.ID, v)
}

// idemRecord is the stored form of a truce.IdempotencyRecord.
type idemRecord struct {
	Fingerprint []byte     `json:"f"`
	CreatedAt   time.Time  `json:"t"`
	ExpiresAt   time.Time  `json:"x"`
	Document    *docRecord `json:"d,omitempty"`
	Created     bool       `json:"cr,omitempty"`
	MergedBase  int64      `json:"mb,omitempty"`
	MergedCur   int64      `json:"mc,omitempty"`
	Answer      []byte     `json:"a,omitempty"`
	Claim       string     `json:"cl,omitempty"`
}

// Idempotency implements truce.ReadTx.
func (t *tx) Idempotency(caller, key string) (*truce.IdempotencyRecord, error) {
	var v []byte
	found, err := t.get("SELECT record FROM idempotency WHERE caller = $1 AND key = $2",
		[]any{[]byte(caller), []byte(key)}, &v)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, truce.ErrNoRecord
	}
	var r idemRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("postgres: corrupt idempotency record: %w", err)
	}
	rec := &truce.IdempotencyRecord{
		IdempotencyKey: truce.IdempotencyKey{Caller: caller, Key: key, Fingerprint: r.Fingerprint, Claim: r.Claim},
		CreatedAt:      r.CreatedAt, ExpiresAt: r.ExpiresAt, Answer: r.Answer,
	}
	if r.Document != nil {
		rec.Result = &truce.WriteResult{Document: r.Document.document(), Created: r.Created}
		if r.MergedBase > 0 {
			rec.Result.Merged = &truce.MergeInfo{Base: r.MergedBase, Current: r.MergedCur}
		}
	}
	return rec, nil
}

// PutIdempotency implements truce.Tx.
func (t *tx) PutIdempotency(r *truce.IdempotencyRecord) error {
	rec := idemRecord{Fingerprint: r.Fingerprint, CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(), Answer: r.Answer, Claim: r.Claim}
	if res := r.Result; res != nil && res.Document != nil {
		d := toDocRecord(res.Document)
		rec.Document, rec.Created = &d, res.Created
		if m := res.Merged; m != nil {
			rec.MergedBase, rec.MergedCur = m.Base, m.Current
		}
	}
	v, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return t.exec("INSERT INTO idempotency (caller, key, expires_at, record) VALUES ($1, $2, $3, $4) "+
		"ON CONFLICT (caller, key) DO UPDATE SET expires_at = EXCLUDED.expires_at, record = EXCLUDED.record",
		[]byte(r.Caller), []byte(r.Key), r.ExpiresAt, v)
}

// DeleteExpiredIdempotency implements truce.Tx.
func (t *tx) DeleteExpiredIdempotency(now time.Time, limit int) (int, error) {
	return t.deleteExpired(`WITH d AS (DELETE FROM idempotency WHERE (caller, key) IN (
		SELECT caller, key FROM idempotency WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2) RETURNING 1)
		SELECT count(*) FROM d`, now, limit)
}

func (t *tx) deleteExpired(sql string, now time.Time, limit int) (int, error) {
	if err := t.writer(); err != nil || limit <= 0 {
		return 0, err
	}
	var n int
	_, err := t.get(sql, []any{now, limit}, &n)
	return n, err
}

// Lock implements truce.ReadTx.
func (t *tx) Lock(collection, id string) (*truce.Lock, error) {
	if err := checkDoc(collection, id); err != nil {
		return nil, err
	}
	if t.write {
		a, err := t.readAhead(collection, id)
		if err != nil {
			return nil, err
		}
		if a.lock == nil {
			return nil, truce.ErrNoRecord
		}
		l := *a.lock
		return &l, nil
	}
	l := &truce.Lock{Collection: collection, ID: id}
	found, err := t.get("SELECT token, owner, acquired_at, expires_at, fence FROM locks WHERE collection = $1 AND id = $2",
		[]any{collection, id}, &l.Token, &l.Owner, &l.AcquiredAt, &l.ExpiresAt, &l.Fence)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, truce.ErrNoRecord
	}
	l.AcquiredAt, l.ExpiresAt = l.AcquiredAt.UTC(), l.ExpiresAt.UTC()
	return l, nil
}

// LocksByExpiry implements truce.ReadTx.
func (t *tx) LocksByExpiry(until time.Time, limit int) ([]*truce.Lock, error) {
	if err := t.check(); err != nil || limit <= 0 {
		return nil, err
	}
	var out []*truce.Lock
	err := t.query(func(rows pgx.Rows) error {
		for rows.Next() {
			l := &truce.Lock{}
			if err := rows.Scan(&l.Collection, &l.ID, &l.Token, &l.Owner, &l.AcquiredAt, &l.ExpiresAt, &l.Fence); err != nil {
				return err
			}
			l.AcquiredAt, l.ExpiresAt = l.AcquiredAt.UTC(), l.ExpiresAt.UTC()
			out = append(out, l)
		}
		return nil
	}, "SELECT collection, id, token, owner, acquired_at, expires_at, fence FROM locks WHERE expires_at <= $1 "+
		"ORDER BY expires_at, collection, id LIMIT $2", until, limit)
	return out, err
}

// PutLock implements truce.Tx.
func (t *tx) PutLock(l *truce.Lock) error {
	if err := checkDoc(l.Collection, l.ID); err != nil {
		return err
	}
	return t.exec("INSERT INTO locks (collection, id, token, owner, acquired_at, expires_at, fence) "+
		"VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (collection, id) DO UPDATE SET token = EXCLUDED.token, "+
		"owner = EXCLUDED.owner, acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at, fence = EXCLUDED.fence",
		l.Collection, l.ID, l.Token, l.Owner, l.AcquiredAt, l.ExpiresAt, l.Fence)
}

// DeleteLock implements truce.Tx.
func (t *tx) DeleteLock(collection, id string) error {
	if err := checkDoc(collection, id); err != nil {
		return err
	}
	return t.exec("DELETE FROM locks WHERE collection = $1 AND id = $2", collection, id)
}

// transactionRecord is the stored form of a truce.Transaction.
type transactionRecord struct {
	Owner     string          `json:"o,omitempty"`
	CreatedAt time.Time       `json:"t"`
	ExpiresAt time.Time       `json:"x"`
	Rev       int64           `json:"r"`
	Seen      []truce.SeenDoc `json:"seen,omitempty"`
	Ops       []truce.Op      `json:"ops,omitempty"`
	Staged    []docRecord     `json:"staged,omitempty"`
}

// Transaction implements truce.ReadTx.
func (t *tx) Transaction(id string) (*truce.Transaction, error) {
	var v []byte
	found, err := t.get("SELECT record FROM transactions WHERE id = $1", []any{id}, &v)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, truce.ErrNoRecord
	}
	var r transactionRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("postgres: corrupt transaction %s: %w", id, err)
	}
	out := &truce.Transaction{ID: id, Owner: r.Owner, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, Rev: r.Rev,
		Seen: r.Seen, Ops: r.Ops, Staged: make([]*truce.Document, len(r.Staged))}
	for i, s := range r.Staged {
		out.Staged[i] = s.document()
	}
	return out, nil
}

// PutTransaction implements truce.Tx.
func (t *tx) PutTransaction(tr *truce.Transaction) error {
	if tr.ID == "" {
		return fmt.Errorf("postgres: transaction without an id")
	}
	if len(tr.Staged) != len(tr.Ops) {
		return fmt.Errorf("postgres: transaction %s has %d ops but %d staged documents", tr.ID, len(tr.Ops), len(tr.Staged))
	}
	r := transactionRecord{Owner: tr.Owner, CreatedAt: tr.CreatedAt.UTC(), ExpiresAt: tr.ExpiresAt.UTC(), Rev: tr.Rev,
		Seen: tr.Seen, Ops: tr.Ops, Staged: make([]docRecord, len(tr.Staged))}
	for i, d := range tr.Staged {
		r.Staged[i] = toDocRecord(d)
	}
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return t.exec("INSERT INTO transactions (id, expires_at, record) VALUES ($1, $2, $3) "+
		"ON CONFLICT (id) DO UPDATE SET expires_at = EXCLUDED.expires_at, record = EXCLUDED.record",
		tr.ID, tr.ExpiresAt, v)
}

// DeleteTransaction implements truce.Tx.
func (t *tx) DeleteTransaction(id string) error {
	return t.exec("DELETE FROM transactions WHERE id = $1", id)
}

// DeleteExpiredTransactions implements truce.Tx.
func (t *tx) DeleteExpiredTransactions(now time.Time, limit int) (int, error) {
	return t.deleteExpired(`WITH d AS (DELETE FROM transactions WHERE id IN (
		SELECT id FROM transactions WHERE expires_at <= $1 ORDER BY expires_at, id LIMIT $2) RETURNING 1)
		SELECT count(*) FROM d`, now, limit)
}
