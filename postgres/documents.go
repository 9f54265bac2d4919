package postgres

import (
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"
	"github.com/trucedb/truce"
)

// Column lists and statements of documents and versions.
const (
	docCols     = "version, seq, deleted, created_at, updated_at, updated_by, body"
	sqlDocument = "SELECT " + docCols + " FROM documents WHERE collection = $1 AND id = $2"
	docColsOf   = "d.version, d.seq, d.deleted, d.created_at, d.updated_at, d.updated_by, d.body"
)

func scanDocument(rows pgx.Rows, d *truce.Document) error {
	if err := rows.Scan(&d.Version, &d.Seq, &d.Deleted, &d.CreatedAt, &d.UpdatedAt, &d.UpdatedBy, &d.Body); err != nil {
		return err
	}
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	return nil
}

// scanOneDocument reads the one row of a query of sqlDocument and closes
// rows; ErrNoRecord when there is none.
func scanOneDocument(rows pgx.Rows, collection, id string) (*truce.Document, error) {
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, truce.ErrNoRecord
	}
	d := &truce.Document{Collection: collection, ID: id}
	if err := scanDocument(rows, d); err != nil {
		return nil, err
	}
	rows.Close()
	return d, rows.Err()
}

// Collection implements truce.ReadTx.
func (t *tx) Collection(name string) (*truce.Collection, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	if !truce.ValidCollectionName(name) {
		return nil, truce.ErrNoRecord
	}
	if a := t.ahead; a != nil && a.collection == name {
		if a.coll == nil {
			return nil, truce.ErrNoRecord
		}
		c := *a.coll
		return &c, decodeSettings(&c, a.settings)
	}
	c := &truce.Collection{Name: name}
	var settings []byte
	found, err := t.get("SELECT seq, created_at, updated_at, settings FROM collections WHERE name = $1",
		[]any{name}, &c.Seq, &c.CreatedAt, &c.UpdatedAt, &settings)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, truce.ErrNoRecord
	}
	return c, decodeSettings(c, settings)
}

// Collections implements truce.ReadTx.
func (t *tx) Collections() ([]*truce.Collection, error) {
	var out []*truce.Collection
	err := t.query(func(rows pgx.Rows) error {
		for rows.Next() {
			c := &truce.Collection{}
			var settings []byte
			if err := rows.Scan(&c.Name, &c.Seq, &c.CreatedAt, &c.UpdatedAt, &settings); err != nil {
				return err
			}
			if err := decodeSettings(c, settings); err != nil {
				return err
			}
			out = append(out, c)
		}
		return nil
	}, "SELECT name, seq, created_at, updated_at, settings FROM collections ORDER BY name")
	return out, err
}

// CollectionStats implements truce.ReadTx. It counts the collection's rows,
// so it costs time in proportion to their number.
func (t *tx) CollectionStats(name string) (truce.CollectionStats, error) {
	var st truce.CollectionStats
	if err := t.check(); err != nil || !truce.ValidCollectionName(name) {
		return st, err
	}
	_, err := t.get("SELECT count(*) FILTER (WHERE NOT deleted), count(*) FILTER (WHERE deleted) FROM documents WHERE collection = $1",
		[]any{name}, &st.Documents, &st.Deleted)
	return st, err
}

// Document implements truce.ReadTx.
func (t *tx) Document(collection, id string) (*truce.Document, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	if !truce.ValidCollectionName(collection) || !truce.ValidID(id) {
		return nil, truce.ErrNoRecord
	}
	if t.write {
		a, err := t.readAhead(collection, id)
		if err != nil {
			return nil, err
		}
		if a.doc == nil {
			return nil, truce.ErrNoRecord
		}
		d := *a.doc
		return &d, nil
	}
	return t.oneDocument(sqlDocument, collection, id)
}

func (t *tx) oneDocument(sql, collection, id string, args ...any) (*truce.Document, error) {
	var d *truce.Document
	err := t.query(func(rows pgx.Rows) error {
		if !rows.Next() {
			return nil
		}
		d = &truce.Document{Collection: collection, ID: id}
		return scanDocument(rows, d)
	}, sql, append([]any{collection, id}, args...)...)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, truce.ErrNoRecord
	}
	return d, nil
}

// Documents implements truce.ReadTx.
func (t *tx) Documents(collection, after string, limit int) ([]*truce.Document, error) {
	if err := t.check(); err != nil || limit <= 0 || !truce.ValidCollectionName(collection) {
		return nil, err
	}
	var out []*truce.Document
	err := t.query(func(rows pgx.Rows) error {
		for rows.Next() {
			d := &truce.Document{Collection: collection}
			if err := rows.Scan(&d.ID, &d.Version, &d.Seq, &d.Deleted, &d.CreatedAt, &d.UpdatedAt, &d.UpdatedBy, &d.Body); err != nil {
				return err
			}
			d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
			out = append(out, d)
		}
		return nil
	}, "SELECT id, "+docCols+" FROM documents WHERE collection = $1 AND id > $2 AND NOT deleted ORDER BY id LIMIT $3",
		collection, after, limit)
	return out, err
}

// Version implements truce.ReadTx.
func (t *tx) Version(collection, id string, version int64) (*truce.Document, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	if !truce.ValidCollectionName(collection) || !truce.ValidID(id) || version <= 0 {
		return nil, truce.ErrNoRecord
	}
	return t.oneDocument("SELECT "+docCols+" FROM versions WHERE collection = $1 AND id = $2 AND version = $3",
		collection, id, version)
}

// Versions implements truce.ReadTx.
func (t *tx) Versions(collection, id string, before int64, limit int) ([]*truce.Document, error) {
	if err := t.check(); err != nil || limit <= 0 || !truce.ValidCollectionName(collection) || !truce.ValidID(id) {
		return nil, err
	}
	if before <= 0 {
		before = math.MaxInt64
	}
	var out []*truce.Document
	err := t.query(func(rows pgx.Rows) error {
		for rows.Next() {
			d := &truce.Document{Collection: collection, ID: id}
			if err := scanDocument(rows, d); err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	}, "SELECT "+docCols+" FROM versions WHERE collection = $1 AND id = $2 AND version < $3 ORDER BY version DESC LIMIT $4",
		collection, id, before, limit)
	return out, err
}

// UniqueHolder implements truce.ReadTx.
func (t *tx) UniqueHolder(collection, field string, value []byte) (string, error) {
	if err := t.check(); err != nil {
		return "", err
	}
	if !truce.ValidCollectionName(collection) {
		return "", truce.ErrNoRecord
	}
	var id string
	found, err := t.get("SELECT id FROM uniques WHERE collection = $1 AND field = $2 AND value = $3",
		[]any{collection, []byte(field), nonNil(value)}, &id)
	if err != nil {
		return "", err
	}
	if !found {
		return "", truce.ErrNoRecord
	}
	return id, nil
}

// Referrers implements truce.ReadTx.
func (t *tx) Referrers(collection, id string, limit int) ([]truce.Reference, error) {
	if err := t.check(); err != nil || limit <= 0 || !truce.ValidCollectionName(collection) || !truce.ValidID(id) {
		return nil, err
	}
	var out []truce.Reference
	err := t.query(func(rows pgx.Rows) error {
		for rows.Next() {
			r := truce.Reference{To: truce.DocRef{Collection: collection, ID: id}}
			var field []byte
			if err := rows.Scan(&r.From.Collection, &r.From.ID, &field); err != nil {
				return err
			}
			r.From.Field = string(field)
			out = append(out, r)
		}
		return nil
	}, "SELECT from_collection, from_id, field FROM refs WHERE to_collection = $1 AND to_id = $2 "+
		"ORDER BY from_collection, from_id, field LIMIT $3", collection, id, limit)
	return out, err
}

// PutCollection implements truce.Tx.
func (t *tx) PutCollection(c *truce.Collection) error {
	if err := checkCollection(c.Name); err != nil {
		return err
	}
	settings, err := encodeSettings(c)
	if err != nil {
		return err
	}
	return t.exec("INSERT INTO collections (name, seq, created_at, updated_at, settings) VALUES ($1, $2, $3, $4, $5) "+
		"ON CONFLICT (name) DO UPDATE SET seq = EXCLUDED.seq, created_at = EXCLUDED.created_at, "+
		"updated_at = EXCLUDED.updated_at, settings = EXCLUDED.settings",
		c.Name, c.Seq, c.CreatedAt, c.UpdatedAt, settings)
}

// DropCollection implements truce.Tx.
func (t *tx) DropCollection(name string) error {
	if err := checkCollection(name); err != nil {
		return err
	}
	return t.exec(`WITH d AS (DELETE FROM documents WHERE collection = $1),
		v AS (DELETE FROM versions WHERE collection = $1),
		u AS (DELETE FROM uniques WHERE collection = $1),
		i AS (DELETE FROM index_entries WHERE collection = $1)
		DELETE FROM collections WHERE name = $1`, name)
}

// sqlPutDocument writes the current document and its version in one
// statement.
const sqlPutDocument = `WITH cur AS (
	INSERT INTO documents (collection, id, version, seq, deleted, created_at, updated_at, updated_by, body)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
	ON CONFLICT (collection, id) DO UPDATE SET version = EXCLUDED.version, seq = EXCLUDED.seq,
		deleted = EXCLUDED.deleted, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,
		updated_by = EXCLUDED.updated_by, body = EXCLUDED.body)
INSERT INTO versions (collection, id, version, seq, deleted, created_at, updated_at, updated_by, body)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (collection, id, version) DO UPDATE SET seq = EXCLUDED.seq, deleted = EXCLUDED.deleted,
	created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by,
	body = EXCLUDED.body`

// sqlWriteDocumentCTEs writes a document ($1 to $9) and its version, as
// sqlPutDocument does; the statements below add to it.
const sqlWriteDocumentCTEs = `WITH cur AS (
	INSERT INTO documents (collection, id, version, seq, deleted, created_at, updated_at, updated_by, body)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
	ON CONFLICT (collection, id) DO UPDATE SET version = EXCLUDED.version, seq = EXCLUDED.seq,
		deleted = EXCLUDED.deleted, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,
		updated_by = EXCLUDED.updated_by, body = EXCLUDED.body),
ver AS (
	INSERT INTO versions (collection, id, version, seq, deleted, created_at, updated_at, updated_by, body)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
	ON CONFLICT (collection, id, version) DO UPDATE SET seq = EXCLUDED.seq, deleted = EXCLUDED.deleted,
		created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by,
		body = EXCLUDED.body)`

// sqlCommitWrite is the commit statement of an Update whose last writes
// are a PutDocument and its AppendEvent (every Service write): it writes
// the document, its version and its event, moves the meta row, notifies
// and makes the commit asynchronous, as sqlPutDocument, sqlAppendEvent and
// the statement of tx.commit would in three (see tx.commit).
const sqlCommitWrite = sqlWriteDocumentCTEs + `,
ev AS (
	INSERT INTO events (seq, type, collection, id, version, etag, time, conflict_id, info, document)
	VALUES ($10, $11, $12, $13, $14, $15, $16, $17, $18, $19)),
m AS (UPDATE meta SET seq = $20, trimmed = $21 WHERE id = 1)
SELECT pg_notify($22, $23), set_config('synchronous_commit', 'off', true)`

// sqlWriteDocument writes a document, its version and its event: the
// statements sqlPutDocument and sqlAppendEvent in one.
const sqlWriteDocument = sqlWriteDocumentCTEs + `
INSERT INTO events (seq, type, collection, id, version, etag, time, conflict_id, info, document)
VALUES ($10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`

// PutDocument implements truce.Tx.
func (t *tx) PutDocument(d *truce.Document) error {
	if err := checkDoc(d.Collection, d.ID); err != nil {
		return err
	}
	if d.Version <= 0 {
		return fmt.Errorf("postgres: document %s/%s has version %d; versions start at 1", d.Collection, d.ID, d.Version)
	}
	if !t.begun || d.Seq <= t.seq || d.Seq > t.last {
		t.foreignSeq = true
	}
	return t.exec(sqlPutDocument, d.Collection, d.ID, d.Version, d.Seq, d.Deleted, d.CreatedAt, d.UpdatedAt,
		d.UpdatedBy, d.Body)
}

const sqlTrimVersions = "DELETE FROM versions WHERE collection = $1 AND id = $2 AND version < $3"

// TrimVersions implements truce.Tx.
func (t *tx) TrimVersions(collection, id string, keepFrom int64) error {
	if err := checkDoc(collection, id); err != nil {
		return err
	}
	if keepFrom <= 1 {
		return t.writer()
	}
	return t.exec(sqlTrimVersions, collection, id, keepFrom)
}

// PutUnique implements truce.Tx.
func (t *tx) PutUnique(collection, field string, value []byte, id string) error {
	if err := checkDoc(collection, id); err != nil {
		return err
	}
	return t.exec("INSERT INTO uniques (collection, field, value, id) VALUES ($1, $2, $3, $4) "+
		"ON CONFLICT (collection, field, value) DO UPDATE SET id = EXCLUDED.id",
		collection, []byte(field), nonNil(value), id)
}

// DeleteUnique implements truce.Tx.
func (t *tx) DeleteUnique(collection, field string, value []byte) error {
	if err := checkCollection(collection); err != nil {
		return err
	}
	return t.exec("DELETE FROM uniques WHERE collection = $1 AND field = $2 AND value = $3",
		collection, []byte(field), nonNil(value))
}

// PutReference implements truce.Tx.
func (t *tx) PutReference(r truce.Reference) error {
	if err := checkReference(r); err != nil {
		return err
	}
	return t.exec("INSERT INTO refs (to_collection, to_id, from_collection, from_id, field) VALUES ($1, $2, $3, $4, $5) "+
		"ON CONFLICT DO NOTHING", r.To.Collection, r.To.ID, r.From.Collection, r.From.ID, []byte(r.From.Field))
}

// DeleteReference implements truce.Tx.
func (t *tx) DeleteReference(r truce.Reference) error {
	if err := checkReference(r); err != nil {
		return err
	}
	return t.exec("DELETE FROM refs WHERE to_collection = $1 AND to_id = $2 AND from_collection = $3 "+
		"AND from_id = $4 AND field = $5", r.To.Collection, r.To.ID, r.From.Collection, r.From.ID, []byte(r.From.Field))
}
