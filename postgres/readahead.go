package postgres

import (
	"fmt"
	"maps"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/trucedb/truce"
)

// Read-ahead. A write of the Service reads, one after the other, the
// document's lock record, its collection and the document itself, and
// every read is a round trip made while the Update holds the seq lock
// (store.go). So in an Update, the first read of any of the three for a
// document reads all three in one round trip, and the next ones are
// answered from what it read. The answers stay exact: nothing else writes
// while the Update holds the lock, and any write of the Update forgets
// them (tx.exec).

// readAhead holds what was read ahead for one document; nil fields are
// absent records.
type readAhead struct {
	collection, id string
	lock           *truce.Lock
	coll           *truce.Collection
	settings       []byte
	doc            *truce.Document
}

// sqlReadAhead reads a document's lock record, collection and current
// version in one row, NULLs for those that do not exist.
const sqlReadAhead = `SELECT l.token, l.owner, l.acquired_at, l.expires_at, l.fence,
	c.seq, c.created_at, c.updated_at, c.settings,
	d.version, d.seq, d.deleted, d.created_at, d.updated_at, d.updated_by, d.body
FROM (VALUES (1)) AS one (x)
LEFT JOIN locks l ON l.collection = $1 AND l.id = $2
LEFT JOIN collections c ON c.name = $1
LEFT JOIN documents d ON d.collection = $1 AND d.id = $2`

// nullDocument scans the columns docCols of a document that may be
// absent (all NULL).
type nullDocument struct {
	version, seq         *int64
	deleted              *bool
	createdAt, updatedAt *time.Time
	updatedBy            *string
	body                 []byte
}

func (n *nullDocument) dest() []any {
	return []any{&n.version, &n.seq, &n.deleted, &n.createdAt, &n.updatedAt, &n.updatedBy, &n.body}
}

// document returns the document scanned, nil if it is absent.
func (n *nullDocument) document(collection, id string) *truce.Document {
	if n.version == nil {
		return nil
	}
	return &truce.Document{Collection: collection, ID: id, Version: *n.version, Seq: *n.seq, Deleted: *n.deleted,
		CreatedAt: n.createdAt.UTC(), UpdatedAt: n.updatedAt.UTC(), UpdatedBy: *n.updatedBy, Body: n.body}
}

// readAhead returns the lock record, collection and current version of
// collection/id, reading them if they were not read ahead already (by
// this member, or for it: prefetch).
func (t *tx) readAhead(collection, id string) (*readAhead, error) {
	if a := t.ahead; a != nil && a.collection == collection && a.id == id {
		return a, t.check()
	}
	if a := t.prefetch[docKey{collection, id}]; a != nil {
		if err := t.check(); err != nil {
			return nil, err
		}
		t.ahead = a
		t.s.prefetchHits.Add(1)
		return a, nil
	}
	a := &readAhead{collection: collection, id: id}
	err := t.query(func(rows pgx.Rows) error {
		if !rows.Next() {
			return nil
		}
		return a.scan(rows)
	}, sqlReadAhead, collection, id)
	if err != nil {
		return nil, err
	}
	t.ahead = a
	return a, nil
}

// aheadRow scans the columns of sqlReadAhead, after those in prefix.
type aheadRow struct {
	token, owner          *string
	acquiredAt, expiresAt *time.Time
	fence, cseq           *int64
	cCreated, cUpdated    *time.Time
	settings              []byte
	nd                    nullDocument
}

func (r *aheadRow) dest(prefix ...any) []any {
	return append(append(prefix, &r.token, &r.owner, &r.acquiredAt, &r.expiresAt, &r.fence,
		&r.cseq, &r.cCreated, &r.cUpdated, &r.settings), r.nd.dest()...)
}

// fill sets a's records from the row scanned.
func (r *aheadRow) fill(a *readAhead) {
	if r.token != nil {
		a.lock = &truce.Lock{Collection: a.collection, ID: a.id, Token: *r.token, Owner: *r.owner,
			AcquiredAt: r.acquiredAt.UTC(), ExpiresAt: r.expiresAt.UTC(), Fence: *r.fence}
	}
	if r.cseq != nil {
		a.coll = &truce.Collection{Name: a.collection, Seq: *r.cseq, CreatedAt: *r.cCreated, UpdatedAt: *r.cUpdated}
	}
	a.settings = r.settings
	a.doc = r.nd.document(a.collection, a.id)
}

// scan reads one row of sqlReadAhead into a.
func (a *readAhead) scan(rows pgx.Rows) error {
	var r aheadRow
	if err := rows.Scan(r.dest()...); err != nil {
		return err
	}
	r.fill(a)
	return nil
}

// Prefetch. The Updates of a Store that wait for their turn will, if the
// group commit lets them, run in the transaction of the one that holds it
// (group.go), each beginning with a read-ahead. Those that said which
// document they are for (UpdateDocument) have it read for them in a round
// trip of the group that is made anyway (the BEGIN and the lock, or an
// earlier member's read), as one more statement of its pipeline
// (sqlPrefetch): a member whose read-ahead was prefetched reads nothing in
// PostgreSQL, and its writes wait for the COMMIT or the next member's
// round trip. What was prefetched stays exact: it was read under the seq
// lock, after every write queued before it, and a later write that may
// change it forgets it (tx.exec).

// sqlPrefetch is sqlReadAhead for many documents ($1 their collections, $2
// their ids), one row each, numbered from 1 in the order given.
const sqlPrefetch = `SELECT k.n, l.token, l.owner, l.acquired_at, l.expires_at, l.fence,
	c.seq, c.created_at, c.updated_at, c.settings,
	d.version, d.seq, d.deleted, d.created_at, d.updated_at, d.updated_by, d.body
FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k (collection, id, n)
LEFT JOIN locks l ON l.collection = k.collection COLLATE "C" AND l.id = k.id COLLATE "C"
LEFT JOIN collections c ON c.name = k.collection COLLATE "C"
LEFT JOIN documents d ON d.collection = k.collection COLLATE "C" AND d.id = k.id COLLATE "C"`

// prefetchStmt returns the statement that reads ahead for the Updates
// waiting for their turn that said their document and would join this
// group, and were not read for already; ok is false when there are none.
func (t *tx) prefetchStmt() (stmt, bool) {
	if !t.write || t.solo || t.s.turns.failRate >= maxFailRate {
		return stmt{}, false
	}
	keys := t.s.waitingKeys(maxGroup-t.members, t.prefetch)
	if len(keys) == 0 {
		return stmt{}, false
	}
	cols, ids := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		cols[i], ids[i] = k.collection, k.id
	}
	return stmt{sqlPrefetch, []any{cols, ids}, func(rows pgx.Rows) error {
		got := make(map[docKey]*readAhead, len(keys))
		for rows.Next() {
			var (
				r aheadRow
				n int64
			)
			if err := rows.Scan(r.dest(&n)...); err != nil {
				return err
			}
			if n < 1 || n > int64(len(keys)) {
				return fmt.Errorf("postgres: a prefetch answered for a key it did not ask")
			}
			k := keys[n-1]
			a := &readAhead{collection: k.collection, id: k.id}
			r.fill(a)
			got[k] = a
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if t.prefetch == nil {
			t.prefetch = make(map[docKey]*readAhead, len(got))
		}
		maps.Copy(t.prefetch, got)
		return nil
	}}, true
}
