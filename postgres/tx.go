package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
	locked     bool  // holds the Store's local write lock (its turn)
	ended      bool  // the COMMIT succeeded
	commitSent bool  // the COMMIT has been sent
	foreignSeq bool  // a document was written with a seq this Update did not allocate
	err        error // the first failure of a statement; the tx is lost

	queue []queued // writes not sent yet
	ahead *readAhead
	// prefetch holds what was read ahead for the Updates waiting to join
	// the group, while it stays exact (readahead.go).
	prefetch map[docKey]*readAhead
	solo     bool // the attempt joins no group and hands its transaction to none
	members  int  // of the group, this member included

	// In a group (group.go): the writes of the current member start at
	// queue[mark]; memberSent says a round trip carried some of them;
	// inherited that the queue holds earlier members' writes that no
	// round trip has carried yet; from is the last seq before the
	// member's own.
	mark       int
	sent       int // the statements prelude made of the queue
	memberSent bool
	inherited  bool
	from       int64

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
	// The statement is encoded only when sent, later: keep the bytes as
	// they are now, in case the caller reuses its buffers.
	for i, a := range args {
		if b, ok := a.([]byte); ok && b != nil {
			args[i] = bytes.Clone(b)
		}
	}
	t.queue = append(t.queue, queued{sql, args})
	t.wrote = true
	t.ahead = nil // the write may change what was read ahead
	if len(t.prefetch) > 0 {
		switch sql {
		case sqlPutDocument:
			delete(t.prefetch, docKey{args[0].(string), args[1].(string)})
		case sqlAppendEvent, sqlTrimVersions:
			// Neither changes a lock record, a collection or a document.
		default:
			clear(t.prefetch)
		}
	}
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
	if p, ok := t.prefetchStmt(); ok && (b.Len() > 0 || len(stmts) > 0) {
		stmts = append(stmts, p)
	}
	for _, q := range stmts {
		b.Queue(q.sql, q.args...)
	}
	if b.Len() == 0 {
		return nil
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
		return err
	}
	t.inherited = false
	return nil
}

// prelude queues, at the head of b, what must precede the next statement.
func (t *tx) prelude(b *pgx.Batch) {
	if !t.begun {
		if t.write {
			b.Queue("BEGIN ISOLATION LEVEL READ COMMITTED")
			b.Queue(sqlLockMeta)
		} else {
			b.Queue("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
		}
	}
	t.sent = 0
	for i := 0; i < len(t.queue); i++ {
		q := t.queue[i]
		if q.sql == sqlPutDocument && i+1 < len(t.queue) && t.queue[i+1].sql == sqlAppendEvent {
			// A document and its event (a Service write of a group
			// member, group.go): one statement instead of two.
			i++
			q = queued{sqlWriteDocument, append(q.args, t.queue[i].args...)}
		}
		b.Queue(q.sql, q.args...)
		t.sent++
	}
}

// sqlLockMeta locks the meta row (the seq lock) and reads it, with the
// time the lock took: the outer SELECT's clock_timestamp() is evaluated
// once the subquery has locked the row, and now() is the time of the
// BEGIN, which PostgreSQL ran just before, from the same pipeline.
const sqlLockMeta = "SELECT seq, trimmed, extract(epoch FROM clock_timestamp() - now())::float8 " +
	"FROM (SELECT seq, trimmed FROM meta WHERE id = 1 FOR NO KEY UPDATE) AS m"

// readPrelude reads the results of what prelude queued.
func (t *tx) readPrelude(br pgx.BatchResults) error {
	if !t.begun {
		t.begun = true
		if _, err := br.Exec(); err != nil {
			return err
		}
		if t.write {
			var waited float64
			if err := br.QueryRow().Scan(&t.seq, &t.trimmed, &waited); err != nil {
				return fmt.Errorf("lock the meta row: %w", err)
			}
			t.s.metrics.seqWait.Observe(max(waited, 0))
			t.last, t.trimmedTo, t.from = t.seq, t.trimmed, t.seq
		}
	}
	if len(t.queue) > t.mark {
		t.memberSent = true
	}
	n := t.sent
	t.queue, t.mark, t.sent = t.queue[:0], 0, 0
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
	if n := len(t.queue); n >= 2 && t.last > t.seq && !t.foreignSeq &&
		t.queue[n-2].sql == sqlPutDocument && t.queue[n-1].sql == sqlAppendEvent {
		// A Service write: one statement instead of three, each of which
		// costs the server more than its execution.
		args := append(append(t.queue[n-2].args, t.queue[n-1].args...),
			t.last, t.trimmedTo, t.s.channel, strconv.FormatInt(t.last, 10))
		t.queue = t.queue[:n-2]
		t.prelude(b)
		b.Queue(sqlCommitWrite, args...)
		return t.sendCommit(b)
	}
	t.prelude(b)
	async := "set_config('synchronous_commit', 'off', true)"
	if t.foreignSeq {
		// Synchronous: its rows must be durable once visible (durable.go).
		async = "current_setting('synchronous_commit')"
	}
	switch {
	case t.last > t.seq:
		b.Queue("WITH m AS (UPDATE meta SET seq = $1, trimmed = $2 WHERE id = 1) "+
			"SELECT pg_notify($3, $4), "+async,
			t.last, t.trimmedTo, t.s.channel, strconv.FormatInt(t.last, 10))
	case meta:
		b.Queue("WITH m AS (UPDATE meta SET seq = $1, trimmed = $2 WHERE id = 1) "+
			"SELECT "+async, t.last, t.trimmedTo)
	default:
		b.Queue("SELECT " + async)
	}
	return t.sendCommit(b)
}

// sendCommit sends b, which holds what is due and the statement that moves
// the meta row, with the COMMIT and sqlFlush, and reads their results.
func (t *tx) sendCommit(b *pgx.Batch) error {
	b.Queue("COMMIT")
	b.Queue(sqlFlush)
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
		t.s.flushed.advanceSeq(t.last)
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
	// Not held while waiting for durability below, which other Updates'
	// commits may bring.
	t.unlockLocal()
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

// unlockLocal passes on the Store's local write lock (group.go's turn),
// which an Update holds from its start until its COMMIT is sent, or until
// it hands its transaction to the next Update. The lock of the meta row
// serializes Updates by itself; this one makes the Updates of one Store
// queue in Go rather than in PostgreSQL, where each of many waiters on
// one row costs CPU at every commit (BenchmarkUpdate: the server's CPU per
// update grew with the clients). So at most one Update per node waits for
// the row.
func (t *tx) unlockLocal() {
	if t.locked {
		t.locked = false
		t.s.passTurn()
	}
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
