package pebble

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/trucedb/truce"
)

// Interactive transactions:
//
//	T\x00<id>                             the staged state (JSON of transactionRecord)
//	Y\x00<expiresAt unix ns BE8><id>      expiry index
//
// The expiry index lets the sweeper find expired transactions oldest first
// without reading live ones.
const (
	tagTransaction       = 'T'
	tagTransactionExpiry = 'Y'
)

func transactionKey(b []byte, id string) []byte { return append(appendTag(b, tagTransaction), id...) }

func transactionExpiryKey(b []byte, expires time.Time, id string) []byte {
	return append(binary.BigEndian.AppendUint64(appendTag(b, tagTransactionExpiry), uint64(expires.UnixNano())), id...)
}

// transactionRecord is the stored form of a truce.Transaction; staged documents
// are kept in the document encoding, with their collection and id beside.
type transactionRecord struct {
	ID string `json:"id"`
	// Owner is absent from records written before transactions had
	// owners: those load with none and stay usable by anyone, as they were
	// when begun, until they expire.
	Owner     string          `json:"o,omitempty"`
	CreatedAt time.Time       `json:"t"`
	ExpiresAt time.Time       `json:"x"`
	Rev       int64           `json:"r"`
	Seen      []truce.SeenDoc `json:"seen,omitempty"`
	Ops       []truce.Op      `json:"ops,omitempty"`
	Staged    []stagedDocJSON `json:"staged,omitempty"`
}

type stagedDocJSON struct {
	Col string `json:"c"`
	ID  string `json:"i"`
	Doc []byte `json:"d"`
}

// Transaction implements truce.ReadTx.
func (t *tx) Transaction(id string) (*truce.Transaction, error) {
	var out *truce.Transaction
	found, err := t.get(transactionKey(nil, id), func(v []byte) error {
		var r transactionRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("%w: transaction: %v", errCorrupt, err)
		}
		out = &truce.Transaction{ID: r.ID, Owner: r.Owner, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, Rev: r.Rev,
			Seen: r.Seen, Ops: r.Ops, Staged: make([]*truce.Document, len(r.Staged))}
		for i, s := range r.Staged {
			d, err := decodeDocument(s.Doc, s.Col, s.ID)
			if err != nil {
				return err
			}
			out.Staged[i] = d
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
	return out, nil
}

// PutTransaction implements truce.Tx.
func (t *tx) PutTransaction(tr *truce.Transaction) error {
	if tr.ID == "" {
		return fmt.Errorf("pebble: transaction without an id")
	}
	if len(tr.Staged) != len(tr.Ops) {
		return fmt.Errorf("pebble: transaction %s has %d ops but %d staged documents", tr.ID, len(tr.Ops), len(tr.Staged))
	}
	old, err := t.Transaction(tr.ID)
	if err != nil && err != truce.ErrNoRecord {
		return err
	}
	b, err := t.writer()
	if err != nil {
		return err
	}
	if old != nil {
		if err := b.Delete(transactionExpiryKey(nil, old.ExpiresAt, old.ID), nil); err != nil {
			return wrap("put transaction", err)
		}
	}
	r := transactionRecord{ID: tr.ID, Owner: tr.Owner, CreatedAt: tr.CreatedAt.UTC(), ExpiresAt: tr.ExpiresAt.UTC(), Rev: tr.Rev,
		Seen: tr.Seen, Ops: tr.Ops, Staged: make([]stagedDocJSON, len(tr.Staged))}
	for i, d := range tr.Staged {
		r.Staged[i] = stagedDocJSON{Col: d.Collection, ID: d.ID, Doc: appendDocument(nil, d)}
	}
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := b.Set(transactionKey(nil, tr.ID), v, nil); err != nil {
		return wrap("put transaction", err)
	}
	return wrap("put transaction", b.Set(transactionExpiryKey(nil, tr.ExpiresAt, tr.ID), nil, nil))
}

// DeleteTransaction implements truce.Tx.
func (t *tx) DeleteTransaction(id string) error {
	old, err := t.Transaction(id)
	if err == truce.ErrNoRecord {
		return nil
	}
	if err != nil {
		return err
	}
	b, err := t.writer()
	if err != nil {
		return err
	}
	if err := b.Delete(transactionExpiryKey(nil, old.ExpiresAt, id), nil); err != nil {
		return wrap("delete transaction", err)
	}
	return wrap("delete transaction", b.Delete(transactionKey(nil, id), nil))
}

// DeleteExpiredTransactions implements truce.Tx.
func (t *tx) DeleteExpiredTransactions(now time.Time, limit int) (int, error) {
	if err := t.beginScan(); err != nil {
		return 0, err
	}
	lower := appendTag(nil, tagTransactionExpiry)
	expired, err := t.expiredKeys(lower, now, limit)
	if err != nil || len(expired) == 0 {
		return 0, err
	}
	b, err := t.writer()
	if err != nil {
		return 0, err
	}
	for _, k := range expired {
		if len(k) < len(lower)+8 {
			return 0, fmt.Errorf("%w: transaction expiry key %q", errCorrupt, k)
		}
		if err := b.Delete(transactionKey(nil, string(k[len(lower)+8:])), nil); err != nil {
			return 0, wrap("sweep transactions", err)
		}
		if err := b.Delete(k, nil); err != nil {
			return 0, wrap("sweep transactions", err)
		}
	}
	return len(expired), nil
}
