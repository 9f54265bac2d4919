package postgres

import (
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/trucedb/truce"
)

// Secondary indexes for queries (issue 20). The Service computes each
// document's keys; the store keeps entries (collection, index, key) → id in
// the index_entries table, whose primary key orders keys by their bytes
// (bytea compares as memcmp, then by length).

// IndexEntries returns up to limit entries of the secondary index named
// index of collection whose keys k satisfy from <= k < to (to == nil: no
// upper bound), in ascending order of key, or descending when reverse is
// true.
func (t *tx) IndexEntries(collection, index string, from, to []byte, reverse bool, limit int) ([]truce.IndexEntry, error) {
	if err := t.check(); err != nil || limit <= 0 {
		return nil, err
	}
	sql := "SELECT key, id FROM index_entries WHERE collection = $1 AND index_name = $2 AND key >= $3"
	args := []any{collection, index, nonNil(from)}
	if to != nil {
		sql += " AND key < $5"
	}
	if reverse {
		sql += " ORDER BY key DESC LIMIT $4"
	} else {
		sql += " ORDER BY key LIMIT $4"
	}
	args = append(args, limit)
	if to != nil {
		args = append(args, to)
	}
	var out []truce.IndexEntry
	err := t.query(func(rows pgx.Rows) error {
		for rows.Next() {
			var e truce.IndexEntry
			if err := rows.Scan(&e.Key, &e.ID); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	}, sql, args...)
	return out, err
}

// PutIndexEntry creates or replaces the entry of a secondary index with
// the given key.
func (t *tx) PutIndexEntry(collection, index string, key []byte, id string) error {
	if err := checkDoc(collection, id); err != nil {
		return err
	}
	if index == "" {
		return fmt.Errorf("postgres: index entry of %s/%s without an index name", collection, id)
	}
	return t.exec("INSERT INTO index_entries (collection, index_name, key, id) VALUES ($1, $2, $3, $4) "+
		"ON CONFLICT (collection, index_name, key) DO UPDATE SET id = EXCLUDED.id", collection, index, nonNil(key), id)
}

// DeleteIndexEntry removes the entry of a secondary index with the given
// key; removing one that does not exist is not an error.
func (t *tx) DeleteIndexEntry(collection, index string, key []byte) error {
	if err := checkCollection(collection); err != nil {
		return err
	}
	return t.exec("DELETE FROM index_entries WHERE collection = $1 AND index_name = $2 AND key = $3",
		collection, index, nonNil(key))
}

// DropIndex removes every entry of one secondary index.
func (t *tx) DropIndex(collection, index string) error {
	if err := checkCollection(collection); err != nil {
		return err
	}
	return t.exec("DELETE FROM index_entries WHERE collection = $1 AND index_name = $2", collection, index)
}
