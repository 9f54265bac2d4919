package postgres

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/trucedb/truce/internal/broadcast"
)

// Durability. An Update that wrote commits asynchronously (SET LOCAL
// synchronous_commit = off): its COMMIT returns, and releases the lock of
// the meta row, as soon as the commit record is in the WAL buffers, not
// once it is on disk. The same round trip then runs sqlFlush, in a
// transaction of its own with synchronous_commit on, whose commit flushes
// the WAL through its own record, so through the Update's: Update returns
// only then. So the next Update may take the lock while this one's WAL is
// being flushed, and concurrent commits share fsyncs (group commit), which
// the lock held through a synchronous COMMIT would prevent.
//
// The price: a commit is visible to others before it is durable. So every
// View, every Update that ends without writing, and Store.Document check,
// in the round trip that ends them, that the WAL is flushed through the
// position it had then, which is past every commit they could see
// (sqlFlushed); if it is not, they wait a moment for the writers' flushes,
// then flush themselves (waitDurable). What a caller observes is thus
// durable before it hears of it, as the truce.Store contract requires.
//
// Store.Document has a shorter way, which spares most GETs that wait and
// round trip: a document row carries the seq of the commit that wrote it,
// and the commits that allocate seqs are serialized, so their commit
// records are in the WAL in seq order. Once this Store's commit that
// allocated seq N has found the WAL flushed (flushWatch.seq), every row
// with a seq at or below N is durable. That holds for the rows of the
// commits that allocated their seq; an Update that writes a document with
// a seq it did not allocate (no Service write does) commits synchronously
// instead, durable before it is visible (tx.foreignSeq).

// sqlFlush writes a WAL record in a transaction (a transactional logical
// message, which any wal_level allows and nothing reads, and which
// changes no table), and returns its position; committed with
// synchronous_commit on, that transaction waits until the WAL is flushed
// through its commit record, which follows.
const sqlFlush = "SELECT pg_logical_emit_message(true, 'truce', '')::text"

// sqlFlushed reports whether the WAL is flushed through its current end,
// and that end.
const sqlFlushed = "SELECT pg_current_wal_flush_lsn() >= pg_current_wal_insert_lsn(), pg_current_wal_insert_lsn()::text"

// durableWait bounds how long waitDurable waits for the commits in
// progress on this Store to flush the WAL far enough, before it asks the
// database (and flushes the WAL itself if needed): WAL that is no
// commit's (a page pruned by a read) waits for PostgreSQL's WAL writer,
// up to wal_writer_delay (200 ms), and other nodes' flushes are not heard.
const durableWait = time.Millisecond

// sqlEnsureFlushed flushes the WAL through $1 unless it is flushed already:
// the logical message, when written, makes the statement's transaction
// one that commits synchronously.
const sqlEnsureFlushed = "SELECT CASE WHEN pg_current_wal_flush_lsn() >= $1::pg_lsn THEN NULL " +
	"ELSE pg_logical_emit_message(true, 'truce', '') END"

type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// parseLSN parses a pg_lsn's text, two hexadecimal halves around a slash.
func parseLSN(s string) (uint64, bool) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return 0, false
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	return h<<32 | l, err1 == nil && err2 == nil
}

// flushWatch holds the WAL position through which this Store's own commits
// have found the WAL flushed, and wakes those who wait for it to grow, so
// that a reader waiting for durability while this node writes hears of
// the flushes without asking the database.
type flushWatch struct {
	lsn atomic.Uint64
	// seq is the last seq allocated by a commit of this Store that found
	// the WAL flushed through it; see above.
	seq atomic.Int64
	// grew wakes those who wait for lsn to grow.
	grew broadcast.Signal
}

// advance records that the WAL is flushed through lsn.
func (w *flushWatch) advance(lsn uint64) {
	for {
		old := w.lsn.Load()
		if lsn <= old {
			return
		}
		if w.lsn.CompareAndSwap(old, lsn) {
			break
		}
	}
	w.grew.Notify()
}

// advanceSeq records that the commit that allocated seq is durable.
func (w *flushWatch) advanceSeq(seq int64) {
	for {
		old := w.seq.Load()
		if seq <= old || w.seq.CompareAndSwap(old, seq) {
			return
		}
	}
}

// durableSeq reports whether a row written with seq is known durable.
func (w *flushWatch) durableSeq(seq *int64) bool {
	return seq != nil && *seq > 0 && *seq <= w.seq.Load()
}

func (w *flushWatch) grown() <-chan struct{} { return w.grew.Wait() }

// waitDurable returns once the WAL is flushed through lsn. self is 1 when
// the caller is an Update in progress, else 0.
func (s *Store) waitDurable(ctx context.Context, q querier, lsn string, self int32) error {
	target, ok := parseLSN(lsn)
	if ok && s.writers.Load() > self {
		// Each commit of this Store flushes the WAL and says how far.
		timer := time.NewTimer(durableWait)
		defer timer.Stop()
	wait:
		for s.flushed.lsn.Load() < target {
			grown := s.flushed.grown()
			if s.flushed.lsn.Load() >= target {
				break
			}
			select {
			case <-grown:
			case <-timer.C:
				break wait
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	if ok && s.flushed.lsn.Load() >= target {
		return nil
	}
	_, err := q.Exec(ctx, sqlEnsureFlushed, lsn)
	return err
}
