package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/trucedb/truce"
)

var (
	errTxDone     = errors.New("postgres: transaction used after its function returned")
	errTxReadOnly = errors.New("postgres: write in a read-only transaction")
)

// tx is both the ReadTx of View and the Tx of Update, on one connection of
// the pool.
//
// Nothing is sent when the tx starts. Its first round trip carries the
// BEGIN (and, in an Update, the lock of the meta row, which reads the
// committed seq) before its first statement; writes are queued and go
// before the next read, or with the COMMIT: one round trip per read, plus
// one for the commit (see the package doc).
type tx struct {
	s     *Store
	ctx   context.Context
	conn  *pgxpool.Conn
	write bool // an Update's tx
	done  bool // fn has returned

	begun      bool  // the BEGIN has been sent
	wrote      bool  // a write has been queued
	locked     bool  // holds the Store's local write lock
	ended      bool  // the COMMIT succeeded
	commitSent bool  // the COMMIT has been sent
	err        error // the first failure of a statement; the tx is lost

	queue []queued // writes not sent yet
	ahead *readAhead

	// In an Update, once begun: seq and trimmed are the committed values
	// of the meta row, last the last seq allocated and trimmedTo the trim
	// mark as this Update leaves it.
	seq, last          int64
	trimmed, trimmedTo int64
}

type queued struct {
	sql  string
	args []any
}

// check says whether the tx may still be used.
func (t *tx) check() error {
	if t.done {
		return errTxDone
	}
	return t.err
}

// writer is check for a write.
func (t *tx) writer() error {
	if err := t.check(); err != nil {
		return err
	}
	if !t.write {
		return errTxReadOnly
	}
	return nil
}

// exec queues a write.
func (t *tx) exec(sql string, args ...any) error {
	if err := t.writer(); err != nil {
		return err
	}
	t.queue = append(t.queue, queued{sql, args})
	t.wrote = true
	t.ahead = nil // the write may change what was read ahead
	return nil
}

// query sends what is due (the BEGIN, the queued writes) and sql in one
// round trip, and calls scan with sql's rows. An empty sql sends only what
// is due. Any failure loses the tx.
func (t *tx) query(scan func(pgx.Rows) error, sql string, args ...any) error {
	if sql == "" {
		return t.roundTrip()
	}
	return t.roundTrip(stmt{sql, args, scan})
}

// stmt is a statement that reads, and what reads its rows.
type stmt struct {
	sql  string
	args []any
	scan func(pgx.Rows) error
}

// roundTrip sends what is due and stmts in one round trip, and scans their
// rows. Any failure loses the tx.
func (t *tx) roundTrip(stmts ...stmt) error {
	if err := t.check(); err != nil {
		return err
	}
	b := &pgx.Batch{}
	t.prelude(b)
	for _, q := range stmts {
		b.Queue(q.sql, q.args...)
	}
	if b.Len() == 0 {
		return nil
	}
	if !t.begun {
		if err := t.lockLocal(); err != nil {
			t.err = err
			return err
		}
	}
	br := t.conn.SendBatch(t.ctx, b)
	err := t.readPrelude(br)
	for _, q := range stmts {
		if err != nil {
			break
		}
		var rows pgx.Rows
		if rows, err = br.Query(); err == nil {
			err = q.scan(rows)
			rows.Close()
			if err == nil {
				err = rows.Err()
			}
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.err = err
	}
	return err
}

// prelude queues, at the head of b, what must precede the next statement.
func (t *tx) prelude(b *pgx.Batch) {
	if !t.begun {
		if t.write {
			b.Queue("BEGIN ISOLATION LEVEL READ COMMITTED")
			b.Queue("SELECT seq, trimmed FROM meta WHERE id = 1 FOR NO KEY UPDATE")
		} else {
			b.Queue("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
		}
	}
	for _, q := range t.queue {
		b.Queue(q.sql, q.args...)
	}
}

// readPrelude reads the results of what prelude queued.
func (t *tx) readPrelude(br pgx.BatchResults) error {
	if !t.begun {
		t.begun = true
		if _, err := br.Exec(); err != nil {
			return err
		}
		if t.write {
			if err := br.QueryRow().Scan(&t.seq, &t.trimmed); err != nil {
				return fmt.Errorf("lock the meta row: %w", err)
			}
			t.last, t.trimmedTo = t.seq, t.trimmed
		}
	}
	n := len(t.queue)
	t.queue = t.queue[:0]
	for range n {
		if _, err := br.Exec(); err != nil {
			return err
		}
	}
	return nil
}

// begin makes sure the BEGIN (and an Update's lock) has been sent.
func (t *tx) begin() error {
	if err := t.check(); err != nil {
		return err
	}
	if t.begun {
		return nil
	}
	return t.query(nil, "")
}

// commit ends an Update that fn let commit. If it wrote anything, it sends
// the queued writes, the new meta row, the notification and the COMMIT in
// one round trip, followed by a statement that makes the commit durable
// (see durable.go); else it ends the transaction as a View does.
func (t *tx) commit() error {
	if !t.begun && len(t.queue) == 0 {
		return nil // fn did nothing
	}
	meta := t.last != t.seq || t.trimmedTo != t.trimmed
	if !t.wrote && !meta {
		return t.end(true)
	}
	// One statement moves the meta row, notifies the listeners (sent
	// only if the transaction commits; they read the events table, so the
	// payload is only a hint) and makes the commit asynchronous.
	b := &pgx.Batch{}
	t.prelude(b)
	switch {
	case t.last > t.seq:
		b.Queue("WITH m AS (UPDATE meta SET seq = $1, trimmed = $2 WHERE id = 1) "+
			"SELECT pg_notify($3, $4), set_config('synchronous_commit', 'off', true)",
			t.last, t.trimmedTo, t.s.channel, strconv.FormatInt(t.last, 10))
	case meta:
		b.Queue("WITH m AS (UPDATE meta SET seq = $1, trimmed = $2 WHERE id = 1) "+
			"SELECT set_config('synchronous_commit', 'off', true)", t.last, t.trimmedTo)
	default:
		b.Queue("SELECT set_config('synchronous_commit', 'off', true)")
	}
	b.Queue("COMMIT")
	b.Queue(sqlFlush)
	if !t.begun {
		if err := t.lockLocal(); err != nil {
			return err
		}
	}
	t.commitSent = true
	br := t.conn.SendBatch(t.ctx, b)
	// The COMMIT is on its way: the next Update of this Store may send its
	// lock request, to wait in PostgreSQL for this COMMIT only.
	t.unlockLocal()
	err := t.readPrelude(br)
	if err == nil {
		_, err = br.Exec()
	}
	if err == nil {
		ct, cerr := br.Exec()
		if err = cerr; err == nil && ct.String() != "COMMIT" {
			err = fmt.Errorf("the transaction was rolled back (%s)", ct)
		}
		if err == nil {
			t.ended = true
		}
	}
	var flushedTo string
	if err == nil {
		err = br.QueryRow().Scan(&flushedTo)
	}
	// Close reads up to the end of the implicit transaction of sqlFlush,
	// whose commit flushes the WAL through this one's.
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if lsn, ok := parseLSN(flushedTo); ok && err == nil {
		t.s.flushed.advance(lsn)
	}
	return err
}

// end ends the transaction if the COMMIT did not (committing a View when
// commit is true, else rolling back) and, unless the tx failed, waits
// until what it read is durable (durable.go). The connection stays the
// tx's: release returns it.
func (t *tx) end(commit bool) error {
	if !t.begun || t.ended {
		return nil
	}
	sql := "ROLLBACK"
	if commit && t.err == nil {
		sql = "COMMIT"
	}
	if t.err != nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.ctx), 5*time.Second)
		defer cancel()
		_, err := t.conn.Exec(ctx, sql)
		return err
	}
	b := &pgx.Batch{}
	b.Queue(sql)
	b.Queue(sqlFlushed)
	br := t.conn.SendBatch(t.ctx, b)
	_, err := br.Exec()
	if err == nil {
		t.ended = true
	}
	var flushed bool
	var lsn string
	if err == nil {
		err = br.QueryRow().Scan(&flushed, &lsn)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err == nil && !flushed {
		self := int32(0)
		if t.write {
			self = 1
		}
		err = t.s.waitDurable(t.ctx, t.conn, lsn, self)
	}
	return err
}

// release returns the connection to the pool, which closes it if it was
// left inside a transaction.
func (t *tx) release() {
	t.unlockLocal()
	t.conn.Release()
}

// lockLocal takes the Store's local write lock, which an Update holds from
// its first round trip until its COMMIT is sent. The lock of the meta row
// serializes Updates by itself; this one makes the Updates of one Store
// queue in Go rather than in PostgreSQL, where each of many waiters on
// one row costs CPU at every commit (BenchmarkUpdate: the server's CPU per
// update grew with the clients). So at most one Update per node waits for
// the row.
func (t *tx) lockLocal() error {
	if !t.write || t.locked {
		return nil
	}
	select {
	case t.s.wlock <- struct{}{}:
		t.locked = true
		return nil
	case <-t.ctx.Done():
		return t.ctx.Err()
	}
}

func (t *tx) unlockLocal() {
	if t.locked {
		t.locked = false
		<-t.s.wlock
	}
}

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

// get runs a query that returns at most one row, scanning it with dest;
// found says whether there was one.
func (t *tx) get(sql string, args []any, dest ...any) (found bool, err error) {
	err = t.query(func(rows pgx.Rows) error {
		if !rows.Next() {
			return nil
		}
		found = true
		return rows.Scan(dest...)
	}, sql, args...)
	return found, err
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

// Events implements truce.ReadTx.
func (t *tx) Events(after int64, limit int) ([]*truce.Event, error) {
	if err := t.check(); err != nil || limit <= 0 {
		return nil, err
	}
	var out []*truce.Event
	err := t.query(func(rows pgx.Rows) error {
		for rows.Next() {
			e := &truce.Event{}
			var typ string
			if err := rows.Scan(&e.Seq, &typ, &e.Collection, &e.ID, &e.Version, &e.ETag, &e.Time, &e.ConflictID,
				&e.Info, &e.Document); err != nil {
				return err
			}
			e.Type, e.Time = truce.EventType(typ), e.Time.UTC()
			out = append(out, e)
		}
		return nil
	}, "SELECT seq, type, collection, id, version, etag, time, conflict_id, info, document FROM events "+
		"WHERE seq > $1 ORDER BY seq LIMIT $2", after, limit)
	return out, err
}

// LastSeq implements truce.ReadTx. Inside an Update it includes the seqs
// that the Update allocated, as reads there include its own writes.
func (t *tx) LastSeq() (int64, error) {
	if t.write {
		if err := t.begin(); err != nil {
			return 0, err
		}
		return t.last, nil
	}
	var seq int64
	_, err := t.get("SELECT seq FROM meta WHERE id = 1", nil, &seq)
	return seq, err
}

// EventsTrimmed implements truce.ReadTx.
func (t *tx) EventsTrimmed() (int64, error) {
	if t.write {
		if err := t.begin(); err != nil {
			return 0, err
		}
		return t.trimmedTo, nil
	}
	var seq int64
	_, err := t.get("SELECT trimmed FROM meta WHERE id = 1", nil, &seq)
	return seq, err
}

// NextSeq implements truce.Tx. The seq is written to the meta row at the
// commit, so an Update that fails consumes nothing.
func (t *tx) NextSeq() (int64, error) {
	if err := t.writer(); err != nil {
		return 0, err
	}
	if err := t.begin(); err != nil {
		return 0, err
	}
	t.last++
	return t.last, nil
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

// PutDocument implements truce.Tx.
func (t *tx) PutDocument(d *truce.Document) error {
	if err := checkDoc(d.Collection, d.ID); err != nil {
		return err
	}
	if d.Version <= 0 {
		return fmt.Errorf("postgres: document %s/%s has version %d; versions start at 1", d.Collection, d.ID, d.Version)
	}
	return t.exec(sqlPutDocument, d.Collection, d.ID, d.Version, d.Seq, d.Deleted, d.CreatedAt, d.UpdatedAt,
		d.UpdatedBy, d.Body)
}

// TrimVersions implements truce.Tx.
func (t *tx) TrimVersions(collection, id string, keepFrom int64) error {
	if err := checkDoc(collection, id); err != nil {
		return err
	}
	if keepFrom <= 1 {
		return t.writer()
	}
	return t.exec("DELETE FROM versions WHERE collection = $1 AND id = $2 AND version < $3", collection, id, keepFrom)
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

// AppendEvent implements truce.Tx. It refuses a seq that this Update did
// not allocate, which would overwrite or pre-empt another commit's event.
func (t *tx) AppendEvent(e *truce.Event) error {
	if err := t.writer(); err != nil {
		return err
	}
	if !t.begun || e.Seq <= t.seq || e.Seq > t.last {
		return fmt.Errorf("postgres: event seq %d was not allocated by this transaction (NextSeq)", e.Seq)
	}
	return t.exec("INSERT INTO events (seq, type, collection, id, version, etag, time, conflict_id, info, document) "+
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
		e.Seq, string(e.Type), e.Collection, e.ID, e.Version, e.ETag, e.Time, e.ConflictID, e.Info, e.Document)
}

// TrimEvents implements truce.Tx.
func (t *tx) TrimEvents(through int64) error {
	if err := t.writer(); err != nil {
		return err
	}
	if err := t.begin(); err != nil {
		return err
	}
	if through > t.last {
		return fmt.Errorf("postgres: trim events through %d: the last seq is %d", through, t.last)
	}
	if through <= t.trimmedTo {
		return nil
	}
	t.trimmedTo = through
	return t.exec("DELETE FROM events WHERE seq <= $1", through)
}

// nonNil returns b, or an empty slice for nil, which pgx would send as
// NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func checkCollection(col string) error {
	if !truce.ValidCollectionName(col) {
		return fmt.Errorf("postgres: invalid collection name %.80q", col)
	}
	return nil
}

func checkDoc(col, id string) error {
	if err := checkCollection(col); err != nil {
		return err
	}
	if !truce.ValidID(id) {
		return fmt.Errorf("postgres: invalid document id %.80q", id)
	}
	return nil
}

func checkReference(r truce.Reference) error {
	if err := checkDoc(r.From.Collection, r.From.ID); err != nil {
		return err
	}
	return checkDoc(r.To.Collection, r.To.ID)
}
