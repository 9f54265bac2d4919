package postgres

import (
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
// collection/id, reading them if they were not read ahead already.
func (t *tx) readAhead(collection, id string) (*readAhead, error) {
	if a := t.ahead; a != nil && a.collection == collection && a.id == id {
		return a, t.check()
	}
	a := &readAhead{collection: collection, id: id}
	err := t.query(func(rows pgx.Rows) error {
		if !rows.Next() {
			return nil
		}
		var (
			l          truce.Lock
			token      *string
			c          truce.Collection
			cseq       *int64
			cCreated   *time.Time
			cUpdated   *time.Time
			nd         nullDocument
			acquiredAt *time.Time
			expiresAt  *time.Time
			fence      *int64
			owner      *string
		)
		dest := append([]any{&token, &owner, &acquiredAt, &expiresAt, &fence, &cseq, &cCreated, &cUpdated, &a.settings},
			nd.dest()...)
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if token != nil {
			l = truce.Lock{Collection: collection, ID: id, Token: *token, Owner: *owner,
				AcquiredAt: acquiredAt.UTC(), ExpiresAt: expiresAt.UTC(), Fence: *fence}
			a.lock = &l
		}
		if cseq != nil {
			c = truce.Collection{Name: collection, Seq: *cseq, CreatedAt: *cCreated, UpdatedAt: *cUpdated}
			a.coll = &c
		}
		a.doc = nd.document(collection, id)
		return nil
	}, sqlReadAhead, collection, id)
	if err != nil {
		return nil, err
	}
	t.ahead = a
	return a, nil
}
