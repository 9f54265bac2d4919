package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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

// sqlFlush writes a WAL record in a transaction (a transactional logical
// message, which any wal_level allows and nothing reads, and which
// changes no table); committed with synchronous_commit on, that
// transaction waits until the WAL is flushed through its commit record.
const sqlFlush = "SELECT pg_logical_emit_message(true, 'truce', '')"

// sqlFlushed reports whether the WAL is flushed through its current end,
// and that end.
const sqlFlushed = "SELECT pg_current_wal_flush_lsn() >= pg_current_wal_insert_lsn(), pg_current_wal_insert_lsn()::text"

// durableWaits are the pauses after which waitDurable looks whether others
// have flushed the WAL far enough, before it flushes it itself. The
// writers flush after each commit, so under writes the WAL is soon
// flushed; but WAL that is no commit's (a page pruned by a read) waits for
// PostgreSQL's WAL writer, up to wal_writer_delay (200 ms), and the last
// pause bounds how long a reader waits for it.
var durableWaits = []time.Duration{300 * time.Microsecond, time.Millisecond, 3 * time.Millisecond}

type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// waitDurable returns once the WAL is flushed through lsn.
func waitDurable(ctx context.Context, q querier, lsn string) error {
	for _, d := range durableWaits {
		timer := time.NewTimer(d)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		}
		var flushed bool
		if err := q.QueryRow(ctx, "SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn", lsn).Scan(&flushed); err != nil || flushed {
			return err
		}
	}
	_, err := q.Exec(ctx, sqlFlush)
	return err
}
