package postgres

import (
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/trucedb/truce"
)

var _ truce.SharedStore = (*Store)(nil)

// Shared implements truce.SharedStore: any number of truce nodes may use
// one database at the same time.
func (*Store) Shared() bool { return true }

// LockWaiters implements truce.ReadTx.
func (t *tx) LockWaiters(collection, id string) ([]*truce.LockWaiter, error) {
	if err := checkDoc(collection, id); err != nil {
		return nil, err
	}
	out := []*truce.LockWaiter{}
	err := t.query(func(rows pgx.Rows) error {
		for rows.Next() {
			w := &truce.LockWaiter{Collection: collection, ID: id}
			if err := rows.Scan(&w.Ticket, &w.Waiter, &w.ExpiresAt); err != nil {
				return err
			}
			w.ExpiresAt = w.ExpiresAt.UTC()
			out = append(out, w)
		}
		return nil
	}, "SELECT ticket, waiter, expires_at FROM lock_waiters WHERE collection = $1 AND id = $2 ORDER BY ticket", collection, id)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PutLockWaiter implements truce.Tx.
func (t *tx) PutLockWaiter(w *truce.LockWaiter) error {
	if err := checkDoc(w.Collection, w.ID); err != nil {
		return err
	}
	if w.Ticket <= 0 {
		return fmt.Errorf("postgres: lock queue ticket %d; tickets start at 1", w.Ticket)
	}
	return t.exec("INSERT INTO lock_waiters (collection, id, ticket, waiter, expires_at) VALUES ($1, $2, $3, $4, $5) "+
		"ON CONFLICT (collection, id, ticket) DO UPDATE SET waiter = EXCLUDED.waiter, expires_at = EXCLUDED.expires_at",
		w.Collection, w.ID, w.Ticket, w.Waiter, w.ExpiresAt)
}

// DeleteLockWaiter implements truce.Tx.
func (t *tx) DeleteLockWaiter(collection, id string, ticket int64) error {
	if err := checkDoc(collection, id); err != nil {
		return err
	}
	return t.exec("DELETE FROM lock_waiters WHERE collection = $1 AND id = $2 AND ticket = $3", collection, id, ticket)
}
