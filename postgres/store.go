// Package postgres is truce's Store on PostgreSQL, for several truce nodes
// sharing one database: the tables (created and migrated by Open from the
// embedded SQL files in migrations/), the mapping of every record to them,
// the transaction machinery that makes each Update atomic, serializable and
// durable across nodes, and the change notifications between nodes
// (LISTEN/NOTIFY over the durable events table).
//
// # Transactions and the seq
//
// The contract of NextSeq (consecutive numbers, consumed only on commit)
// and of the change feed (a reader that has read the events up to seq N
// never later sees a commit appear with a seq at or below N) means that a
// transaction that allocates seq N+1 must wait until the one that took N
// has committed or rolled back, and that seqs become visible in order. A
// sequence or bigserial gives neither: numbers of rolled-back transactions
// are lost, and a later number may commit first. So the last seq lives in
// a row of the meta table, and an Update holds that row's lock from its
// first statement to its COMMIT. Everything else follows from that lock:
// Updates, on every node, run one at a time, each in READ COMMITTED, where
// every statement sees everything committed before the lock was granted
// and nothing can change underneath, so Updates are serializable without
// SSI's serialization failures (under SERIALIZABLE, every pair of
// concurrent Updates would conflict on the seq row and one would be rolled
// back and run again, which costs more than waiting). Seqs become visible
// in commit order, and a View, which reads one REPEATABLE READ snapshot,
// sees a prefix of them. Serialization failures and deadlocks cannot arise
// from truce's own statements, but an Update that meets one (from a
// trigger or an operator's statement) runs fn again, as the contract
// allows; one whose connection broke before its COMMIT was sent runs again
// on a new connection.
//
// The price is that Updates do not overlap, across nodes: throughput is
// bounded by one over the time the lock is held. To keep that time short:
//
//   - An Update sends nothing when fn starts: the BEGIN and the lock go
//     with its first read, its writes are queued and sent with its next
//     read or with the COMMIT, all pipelined in one round trip each
//     (pgx.Batch). A write thus reaches the server only when something
//     must read after it, so reads see the Update's own writes, and a
//     write's failure (a constraint) surfaces at the next read or at the
//     commit.
//   - The first read of a document's lock record, collection or current
//     version reads all three, which the Service reads one after the
//     other (readahead.go). A Service write is then two round trips under
//     the lock: the reads, and the writes with the COMMIT.
//   - The writes of a Service write (the document and its version, the
//     event) go with the move of the seq and the notification as one
//     statement (sqlCommitWrite): each statement costs the server CPU
//     beyond its execution.
//   - The Updates of one Store that wait for their turn while another
//     runs join its transaction instead of each committing (group.go):
//     the chain under the lock is then one round trip per Update, not
//     two and a hand-off between backends, and the COMMIT, the move of the
//     seq and the WAL flush are the group's.
//   - The round trips of a group also read ahead for the Updates waiting
//     to join it that said their document (UpdateDocument), so that a
//     member whose read-ahead stays exact makes no round trip of its own
//     (readahead.go).
//   - The COMMIT does not hold the lock through the WAL flush (durable.go):
//     it is asynchronous, and the same round trip then waits for a flush
//     through it, so that concurrent commits share fsyncs; readers wait for
//     the flush of what they saw before they answer.
//
// Taking the lock at NextSeq instead, after the reads, would need another
// isolation level for the reads before it (see above), and would not
// shorten the time under the lock: the reads are one round trip already.
// docs/benchmarks.md has the figures against the hand-written
// SELECT … UPDATE … WHERE version = $n pattern.
//
// Views and Store.Document never wait for the lock: a View is a READ ONLY
// REPEATABLE READ transaction begun with its first read, and
// Store.Document one round trip, which concurrent Documents share
// (read_batch.go).
//
// # Bodies
//
// A document's body is stored as the exact bytes truce was given (bytea):
// answers must be byte for byte, and jsonb keeps neither key order,
// duplicate keys, number spelling nor the escape \u0000, which bodies may
// hold. The documents table has a jsonb column, doc, for SQL queries of
// the future; truce does not fill it yet, since writing it would make
// PostgreSQL parse every body on the one path that is serialized, and
// truce's own indexes (unique, reference, secondary) are computed by truce
// and stored in their own tables.
//
// # Metrics
//
// A Store is a prometheus.Collector (metrics.go), which truce serve
// registers: its commit latency, its waits for the local write lock and
// for the seq lock (timed by the server, from BEGIN to the lock's grant),
// the Updates run again and why, and pgxpool's stats. The WAL flush wait
// is not measured apart from the commit: the COMMIT and sqlFlush share
// one pipelined round trip, whose results come back together.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/trucedb/truce"
	"github.com/trucedb/truce/internal/broadcast"
	"github.com/trucedb/truce/internal/drain"
)

// Options configure a Store. The zero value is a good default for a server.
type Options struct {
	// Schema is the PostgreSQL schema that holds truce's tables, created by
	// Open if missing. Empty means "truce". Several truce deployments may
	// share a database under different schemas.
	Schema string
	// MaxConns bounds the connections of the pool. Zero means the
	// pool_max_conns of the URL if it has one, else four per processor
	// (GOMAXPROCS), at least 8: Updates run one at a time, so more
	// connections serve only reads, and PostgreSQL's max_connections
	// (100 by default) is shared by every node.
	MaxConns int32
	// Logger receives the notification listener's reconnections. Nil
	// discards them.
	Logger *slog.Logger
}

// DefaultSchema is the schema of Options.Schema's zero value.
const DefaultSchema = "truce"

// ErrClosed is returned by every method of a Store that has been closed.
var ErrClosed error = &truce.Error{Code: truce.CodeUnavailable, Detail: "the store is closed"}

// Store is a truce.Store in a PostgreSQL database. It is safe for
// concurrent use, and any number of Stores, in any number of processes,
// may share one database and schema.
type Store struct {
	pool    *pgxpool.Pool
	schema  string
	channel string // the NOTIFY channel of the schema
	log     *slog.Logger

	// flushed is how far this Store's commits found the WAL flushed; see
	// durable.go.
	flushed flushWatch
	// writers counts the Updates in progress.
	writers atomic.Int32
	// turns is the local write lock (group.go).
	turns turns
	// reads coalesces Documents (read_batch.go).
	reads reads
	// prefetchHits counts the read-aheads answered from a prefetch
	// (readahead.go), for the tests.
	prefetchHits atomic.Int64
	// changes wakes change-feed readers; see notify.go.
	changes  broadcast.Signal
	listen   sync.Once
	stopList context.CancelFunc // guarded by listen; nil until it ran
	listened chan struct{}      // closed when the listener has stopped

	// gate counts the transactions in progress, for Close to wait for.
	gate drain.Gate

	metrics storeMetrics // see metrics.go
}

var (
	_ truce.Store           = (*Store)(nil)
	_ truce.ChangeNotifier  = (*Store)(nil)
	_ truce.DocumentUpdater = (*Store)(nil)
)

// Open connects to the PostgreSQL database named by url (a postgres:// URL
// or a key=value connection string, as pgx takes), creates or migrates
// truce's tables in the schema, and returns the Store. It refuses a schema
// that a newer truce has migrated (ErrSchemaTooNew).
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	schema := opts.Schema
	if schema == "" {
		schema = DefaultSchema
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	switch {
	case opts.MaxConns > 0:
		cfg.MaxConns = opts.MaxConns
	case !strings.Contains(url, "pool_max_conns"):
		cfg.MaxConns = int32(max(8, 4*runtime.GOMAXPROCS(0)))
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	rp := cfg.ConnConfig.RuntimeParams
	rp["search_path"] = pgx.Identifier{schema}.Sanitize()
	if rp["application_name"] == "" {
		rp["application_name"] = "truce"
	}
	// Durability is the contract, whatever the server's default: a
	// server (or URL) that turned synchronous_commit off gets it on for
	// truce's connections; a stronger setting (remote_apply, for
	// synchronous replicas) is kept.
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		var sc string
		if err := conn.QueryRow(ctx, "SHOW synchronous_commit").Scan(&sc); err != nil {
			return err
		}
		if sc == "off" {
			_, err := conn.Exec(ctx, "SET synchronous_commit = on")
			return err
		}
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{
		pool:     pool,
		schema:   schema,
		channel:  channelName(schema),
		log:      opts.Logger,
		listened: make(chan struct{}),
		metrics:  newStoreMetrics(),
		reads:    reads{limit: readsInFlight()},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if err := migrate(ctx, pool, schema); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// begin registers a transaction in progress, so that Close waits for it.
func (s *Store) begin() error {
	if !s.gate.Enter() {
		return ErrClosed
	}
	return nil
}

// end ends what begin registered.
func (s *Store) end() { s.gate.Leave() }

// View runs fn in a read-only transaction on one snapshot, taken at fn's
// first read. It returns fn's error, or the store's if it failed.
func (s *Store) View(ctx context.Context, fn func(truce.ReadTx) error) error {
	if err := s.begin(); err != nil {
		return err
	}
	defer s.end()
	conn, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	t := &tx{s: s, ctx: ctx, conn: conn}
	defer t.release()
	err = fn(t)
	t.done = true
	if t.err != nil {
		t.end(false)
		if unreachable(t.err) {
			s.pool.Reset()
		}
		return storeError(ctx, "view", t.err)
	}
	// What fn read must be durable before anyone hears of it, even
	// through fn's error.
	if cerr := t.end(true); cerr != nil {
		return storeError(ctx, "view", cerr)
	}
	return err
}

// Document reads the current version of one document in one statement,
// which it may share with other Documents (read_batch.go).
func (s *Store) Document(ctx context.Context, collection, id string) (*truce.Document, error) {
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.end()
	if !truce.ValidCollectionName(collection) || !truce.ValidID(id) {
		return nil, truce.ErrNoRecord
	}
	d, err := s.document(ctx, collection, id)
	if err == nil && d == nil {
		err = truce.ErrNoRecord
	}
	return d, err
}

// sqlStoreDocument reads a document (NULLs when it is absent) and, as
// sqlFlushed does, whether everything it could see is durable.
const sqlStoreDocument = `SELECT f.flushed, f.lsn, ` + docColsOf + `
FROM (SELECT pg_current_wal_flush_lsn() >= pg_current_wal_insert_lsn() AS flushed,
	pg_current_wal_insert_lsn()::text AS lsn) AS f
LEFT JOIN documents d ON d.collection = $1 AND d.id = $2`

// maxAttempts bounds how often Update runs fn again after a serialization
// failure or a deadlock.
const maxAttempts = 20

// Update runs fn in a read-write transaction and commits what it wrote if
// it returns nil. Updates run one at a time, across every Store sharing
// the schema (see the package doc). Update returns once the commit is
// durable. fn runs again after a serialization failure or a deadlock;
// when the database cannot be reached, Update returns a truce.Error with
// CodeUnavailable (and nothing was committed, unless the connection broke
// during the COMMIT: the Detail then says that the outcome is unknown).
func (s *Store) Update(ctx context.Context, fn func(truce.Tx) error) error {
	return s.updateDoc(ctx, nil, fn)
}

// UpdateDocument implements truce.DocumentUpdater: Update, for fn's
// first reads of collection/id, which may be prefetched (readahead.go).
func (s *Store) UpdateDocument(ctx context.Context, collection, id string, fn func(truce.Tx) error) error {
	var key *docKey
	if truce.ValidCollectionName(collection) && truce.ValidID(id) {
		key = &docKey{collection, id}
	}
	return s.updateDoc(ctx, key, fn)
}

// updateDoc is Update, for key's document when key is not nil.
func (s *Store) updateDoc(ctx context.Context, key *docKey, fn func(truce.Tx) error) error {
	if err := s.begin(); err != nil {
		return err
	}
	defer s.end()
	s.writers.Add(1)
	defer s.writers.Add(-1)
	start := time.Now()
	backoff := time.Millisecond
	broken := 0
	solo := false
	for attempt := 1; ; attempt++ {
		err, again := s.update(ctx, key, fn, start, solo)
		if errors.Is(err, errGroupRerun) {
			// Not this Update's failure (group.go): run again at once,
			// alone.
			if attempt < maxAttempts {
				solo = true
				s.metrics.retries.WithLabelValues(retryGroup).Inc()
				continue
			}
			return &truce.Error{Code: truce.CodeUnavailable, Detail: "the store's group commits kept failing; try again"}
		}
		if errors.Is(err, errBrokenConn) {
			// A connection of the pool was found broken before the
			// COMMIT was sent: nothing was committed, and the pool has
			// been emptied; another connection may work (a restarted
			// server), a new one at most once more.
			if broken++; broken > 2 {
				return err.(*brokenConnError).err
			}
			again = true
		}
		if !again || attempt == maxAttempts {
			if b, ok := err.(*brokenConnError); ok {
				return b.err
			}
			return err
		}
		s.metrics.retries.WithLabelValues(retryReason(err)).Inc()
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return storeError(ctx, "update", ctx.Err())
		}
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

// update makes one attempt of Update, which started at start; again says
// whether to make another. An attempt that is solo neither joins a group
// nor leaves its transaction open for the next Update (group.go).
func (s *Store) update(ctx context.Context, key *docKey, fn func(truce.Tx) error, start time.Time, solo bool) (err error, again bool) {
	if err := ctx.Err(); err != nil {
		return err, false
	}
	// The connection is taken before the turn, as a turn held while
	// waiting for the pool (busy with reads) would hold up every Update;
	// one handed a group gives it back.
	conn, err := s.acquire(ctx)
	if err != nil {
		return err, false
	}
	t := &tx{s: s, ctx: ctx, conn: conn, write: true, solo: solo}
	g, held, werr := s.takeTurn(t, solo, key)
	if !held {
		conn.Release()
		return storeError(ctx, "update", werr), false
	}
	if g == nil {
		if werr != nil {
			s.passTurn()
			conn.Release()
			return storeError(ctx, "update", werr), false
		}
		g = newGroup(t)
	} else {
		conn.Release()
		t = g.t
		t.ctx = ctx
	}
	t.locked = true
	mark := t.join(g)
	ferr := werr
	settled := false
	defer func() {
		if !settled { // fn panicked
			t.done = true
			t.end(false)
			g.finish(errGroupRerun)
			t.release()
		}
	}()
	if ferr == nil {
		ferr = fn(t)
	}
	t.done = true
	settled = true
	if t.err != nil {
		// The transaction is lost, with every member's writes.
		inherited := t.inherited
		t.end(false)
		broken := unreachable(t.err) && ctx.Err() == nil
		if broken {
			s.pool.Reset()
		}
		g.finish(errGroupRerun)
		t.release()
		switch {
		case inherited && g.members > 1:
			return errGroupRerun, true
		case broken:
			return &brokenConnError{storeError(ctx, "update", t.err)}, false
		}
		return storeError(ctx, "update", t.err), retryable(t.err)
	}
	group := s.grouping(ferr != nil)
	if ferr != nil && g.members == 1 {
		// Alone: fn's error may tell of what it read, which must be
		// durable.
		err := t.end(false)
		g.finish(errGroupRerun)
		t.release()
		if err != nil {
			return storeError(ctx, "update", err), false
		}
		return ferr, false
	}
	if ferr != nil {
		if t.memberSent {
			// Part of its writes are in the transaction: roll them all
			// back, and run every member again.
			t.end(false)
			g.finish(errGroupRerun)
			t.release()
			return errGroupRerun, true
		}
		t.undo(mark)
	}
	if group && !solo && g.members < maxGroup && t.pending() && s.handOff(g) {
		// The next Update carries on; this one's outcome is the group's.
		select {
		case <-g.done:
		case <-ctx.Done():
			return storeError(ctx, "update", ctx.Err()), false
		}
		if g.err != nil {
			return g.err, errors.Is(g.err, errGroupRerun)
		}
		if ferr == nil {
			s.metrics.commit.Observe(time.Since(start).Seconds())
		}
		return ferr, false
	}
	if g.members > 1 {
		// The commit is the group's: one member's context ending does
		// not abandon the others' writes.
		var cancel context.CancelFunc
		t.ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
	}
	if err := t.commit(); err != nil {
		inherited := t.inherited && g.members > 1
		t.end(false)
		if unreachable(err) {
			s.pool.Reset()
		}
		var out error
		switch {
		case retryable(err):
			out = storeError(ctx, "commit", err)
			again = true
		case unreachable(err) && t.commitSent:
			out = &truce.Error{Code: truce.CodeUnavailable, Detail: "the connection to PostgreSQL broke during a commit, whose outcome is unknown: " + err.Error()}
		default:
			out = storeError(ctx, "commit", err)
		}
		unknown := unreachable(err) && t.commitSent
		if unknown {
			g.finish(out)
		} else {
			g.finish(errGroupRerun)
		}
		t.release()
		if inherited && !unknown {
			// The failure may be an earlier member's write, which this
			// commit was the first to carry.
			return errGroupRerun, true
		}
		return out, again
	}
	if t.commitSent && ferr == nil {
		s.metrics.commit.Observe(time.Since(start).Seconds())
	}
	if t.last > t.seq {
		s.changes.Notify()
	}
	g.finish(nil)
	t.release()
	return ferr, false
}

// acquire takes a connection from the pool.
func (s *Store) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, storeError(ctx, "connect", err)
	}
	return conn, nil
}

// Ping reports whether the store is open and the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.begin(); err != nil {
		return err
	}
	defer s.end()
	if err := s.pool.Ping(ctx); err != nil {
		return storeError(ctx, "ping", err)
	}
	return nil
}

// Close waits for the transactions in progress, then stops the listener
// and closes the connections. Every later call returns ErrClosed.
func (s *Store) Close() error {
	if !s.gate.Close() {
		return ErrClosed
	}
	s.stopListener()
	s.pool.Close()
	return nil
}

// errBrokenConn marks the failure of an Update whose connection broke
// before its COMMIT was sent.
var errBrokenConn = errors.New("postgres: connection broken before the commit")

// brokenConnError is the failure of an Update whose connection broke before
// its COMMIT was sent: the store's error, which Update returns if it does
// not try again, and errBrokenConn for Update to see.
type brokenConnError struct{ err error }

func (e *brokenConnError) Error() string { return e.err.Error() }
func (e *brokenConnError) Unwrap() []error {
	return []error{e.err, errBrokenConn}
}

// retryable reports whether err is a failure after which the transaction
// may simply run again: a serialization failure or a deadlock.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// unreachable reports whether err means that the database could not be
// reached or the connection broke, rather than a refused statement.
func unreachable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// connection_exception, insufficient_resources (too many
		// connections) and operator_intervention (shutdown, crash
		// recovery, cannot_connect_now).
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "53") || strings.HasPrefix(pe.Code, "57P")
	}
	var ce *pgconn.ConnectError
	return errors.As(err, &ce) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) ||
		errors.Is(err, pgx.ErrTxClosed) || isConnClosed(err)
}

func isConnClosed(err error) bool {
	s := err.Error()
	return strings.Contains(s, "conn closed") || strings.Contains(s, "unexpected EOF") ||
		strings.Contains(s, "connection reset") || strings.Contains(s, "broken pipe") ||
		strings.Contains(s, "connection refused") || strings.Contains(s, "closed pool")
}

// storeError describes a failure of the database: ctx's error when ctx
// ended, a truce.Error with CodeUnavailable when the database could not be
// reached or the connection broke, else the error wrapped.
func storeError(ctx context.Context, op string, err error) error {
	var te *truce.Error
	if errors.As(err, &te) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || (ctx.Err() != nil && pgconn.Timeout(err)) {
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("postgres: %s: %w", op, cerr)
		}
	}
	if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Code == "53100" { // disk_full
		return &truce.Error{Code: truce.CodeInsufficientStorage, RetryAfter: 5 * time.Second,
			Detail: fmt.Sprintf("PostgreSQL's disk is full (%s: %v); nothing was written: free space on the database server, then retry", op, err)}
	}
	if unreachable(err) {
		return &truce.Error{Code: truce.CodeUnavailable, Detail: fmt.Sprintf("PostgreSQL is not reachable (%s: %v); try again", op, err)}
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}
