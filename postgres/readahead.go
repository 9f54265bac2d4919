package postgres

import (
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

// readAhead returns the lock record, collection and current version of
// collection/id, reading them if they were not read ahead already.
func (t *tx) readAhead(collection, id string) (*readAhead, error) {
	if a := t.ahead; a != nil && a.collection == collection && a.id == id {
		return a, t.check()
	}
	a := &readAhead{collection: collection, id: id}
	err := t.roundTrip(
		stmt{"SELECT token, owner, acquired_at, expires_at, fence FROM locks WHERE collection = $1 AND id = $2",
			[]any{collection, id}, func(rows pgx.Rows) error {
				if !rows.Next() {
					return nil
				}
				l := &truce.Lock{Collection: collection, ID: id}
				if err := rows.Scan(&l.Token, &l.Owner, &l.AcquiredAt, &l.ExpiresAt, &l.Fence); err != nil {
					return err
				}
				l.AcquiredAt, l.ExpiresAt = l.AcquiredAt.UTC(), l.ExpiresAt.UTC()
				a.lock = l
				return nil
			}},
		stmt{"SELECT seq, created_at, updated_at, settings FROM collections WHERE name = $1",
			[]any{collection}, func(rows pgx.Rows) error {
				if !rows.Next() {
					return nil
				}
				c := &truce.Collection{Name: collection}
				if err := rows.Scan(&c.Seq, &c.CreatedAt, &c.UpdatedAt, &a.settings); err != nil {
					return err
				}
				a.coll = c
				return nil
			}},
		stmt{sqlDocument, []any{collection, id}, func(rows pgx.Rows) error {
			if !rows.Next() {
				return nil
			}
			d := &truce.Document{Collection: collection, ID: id}
			if err := scanDocument(rows, d); err != nil {
				return err
			}
			a.doc = d
			return nil
		}},
	)
	if err != nil {
		return nil, err
	}
	t.ahead = a
	return a, nil
}
