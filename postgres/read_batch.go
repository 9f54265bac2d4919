package postgres

import (
	"context"
	"errors"
	"runtime"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/trucedb/truce"
)

// Read coalescing. A Store.Document is one statement in a round trip of
// its own, and under load most of what it costs, in Go and in PostgreSQL,
// is that round trip and statement (a write and reads on the socket each
// side, the Bind, Execute and Sync) rather than the lookup. So a Store
// lets at most reads.limit of its Documents run at once, each its own
// statement as before, and those that start while that many are in flight
// wait together, to be read by one statement (sqlStoreDocuments) as soon
// as one in flight ends, in a goroutine of their own (runBatch).
//
// A batch takes readers until its statement is sent, and none after, so
// every read in it began before the statement was sent, whose snapshot
// holds every write acknowledged before it: each read sees every write
// acknowledged before it began, as alone (linearizable). The check that
// what it saw is durable (durable.go) is the batch's, once for all.

// readsInFlight is reads.limit's default: one per processor, which keeps
// the pool's other connections for Views and Updates.
func readsInFlight() int { return max(1, runtime.GOMAXPROCS(0)) }

// readBatch is Documents waiting to be read by one statement.
type readBatch struct {
	keys []docKey
	// waiting counts the members not gone (their context ended); when
	// none is left, the statement is canceled (cancel, once set).
	// Guarded by reads.mu.
	waiting int
	cancel  context.CancelFunc

	done chan struct{}     // closed once docs and err are set
	docs []*truce.Document // one per key, nil where absent
	err  error
}

type docKey struct{ collection, id string }

// reads coalesces a Store's Documents.
type reads struct {
	limit    int // Documents and batches in flight at most; set by Open
	mu       sync.Mutex
	inFlight int        // Documents and batches in flight
	batched  int64      // reads that went in batches, for the tests
	next     *readBatch // takes readers until it is sent; guarded by mu
}

// document reads a document through the coalescing above: at once when
// fewer than reads.limit are in flight, else with the next batch.
func (s *Store) document(ctx context.Context, collection, id string) (*truce.Document, error) {
	r := &s.reads
	r.mu.Lock()
	if r.inFlight < r.limit {
		r.inFlight++
		r.mu.Unlock()
		docs, err := s.fetchDocuments(ctx, []docKey{{collection, id}})
		s.readDone()
		if err != nil {
			return nil, err
		}
		return docs[0], nil
	}
	b := r.next
	if b == nil {
		b = &readBatch{done: make(chan struct{})}
		r.next = b
	}
	i := len(b.keys)
	b.keys = append(b.keys, docKey{collection, id})
	b.waiting++
	r.batched++
	r.mu.Unlock()
	select {
	case <-b.done:
		if b.err != nil {
			return nil, b.err
		}
		return b.docs[i], nil
	case <-ctx.Done():
		r.mu.Lock()
		if b.waiting--; b.waiting == 0 && b.cancel != nil {
			b.cancel()
		}
		r.mu.Unlock()
		return nil, storeError(ctx, "document", ctx.Err())
	}
}

// readDone ends a read in flight: the batch waiting, if any, takes its
// place.
func (s *Store) readDone() {
	r := &s.reads
	r.mu.Lock()
	b := r.next
	if b == nil {
		r.inFlight--
		r.mu.Unlock()
		return
	}
	r.next = nil
	// The statement serves many callers: no one's context is its own.
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	if b.waiting == 0 {
		cancel()
	}
	r.mu.Unlock()
	go s.runBatch(ctx, b)
}

// runBatch reads b's documents, then lets the next batch run.
func (s *Store) runBatch(ctx context.Context, b *readBatch) {
	defer s.readDone()
	defer b.cancel()
	if err := s.begin(); err != nil {
		b.err = err
		close(b.done)
		return
	}
	b.docs, b.err = s.fetchDocuments(ctx, b.keys)
	s.end()
	close(b.done)
}

// sqlStoreDocuments is sqlStoreDocument for many documents ($1 their
// collections, $2 their ids), one row each, numbered from 1 in the order
// given.
const sqlStoreDocuments = `SELECT f.flushed, f.lsn, k.n, ` + docColsOf + `
FROM (SELECT pg_current_wal_flush_lsn() >= pg_current_wal_insert_lsn() AS flushed,
	pg_current_wal_insert_lsn()::text AS lsn) AS f
CROSS JOIN unnest($1::text[], $2::text[]) WITH ORDINALITY AS k (collection, id, n)
LEFT JOIN documents d ON d.collection = k.collection COLLATE "C" AND d.id = k.id COLLATE "C"`

// fetchDocuments reads the current version of each of keys (nil where
// absent) in one statement, and returns once what it read is durable.
func (s *Store) fetchDocuments(ctx context.Context, keys []docKey) ([]*truce.Document, error) {
	docs := make([]*truce.Document, len(keys))
	var (
		flushed bool
		lsn     string
		durable = true // every row read is known durable
		err     error
	)
	if len(keys) == 1 {
		var nd nullDocument
		err = s.pool.QueryRow(ctx, sqlStoreDocument, keys[0].collection, keys[0].id).
			Scan(append([]any{&flushed, &lsn}, nd.dest()...)...)
		docs[0] = nd.document(keys[0].collection, keys[0].id)
		durable = s.flushed.durableSeq(nd.seq)
	} else {
		cols, ids := make([]string, len(keys)), make([]string, len(keys))
		for i, k := range keys {
			cols[i], ids[i] = k.collection, k.id
		}
		var rows pgx.Rows
		rows, err = s.pool.Query(ctx, sqlStoreDocuments, cols, ids)
		if err == nil {
			var (
				nd   nullDocument
				n    int64
				seen int
			)
			dest := append([]any{&flushed, &lsn, &n}, nd.dest()...)
			for rows.Next() {
				nd = nullDocument{}
				if err = rows.Scan(dest...); err != nil {
					break
				}
				if n < 1 || n > int64(len(keys)) {
					err = errors.New("postgres: a batch of reads answered for a key it did not ask")
					break
				}
				k := keys[n-1]
				docs[n-1] = nd.document(k.collection, k.id)
				durable = durable && s.flushed.durableSeq(nd.seq)
				seen++
			}
			rows.Close()
			if err == nil {
				err = rows.Err()
			}
			if err == nil && seen != len(keys) {
				err = errors.New("postgres: a batch of reads did not answer for every key")
			}
		}
	}
	if err == nil && !flushed && !durable {
		err = s.waitDurable(ctx, s.pool, lsn, 0)
	}
	if err != nil {
		return nil, storeError(ctx, "document", err)
	}
	return docs, nil
}
