package truce

import (
	"context"
	"errors"
	"time"
)

// Store is the port that storage backends implement: serializable, atomic,
// durable transactions over typed records. It holds no rules; the Service
// holds them all.
//
// The contract every Store keeps, checked by package storetest:
//
//   - Update runs fn in a read-write transaction that is serializable with
//     every other transaction. If fn returns nil, everything it wrote is
//     committed atomically and synced to stable storage before Update
//     returns; if fn returns an error, nothing it wrote is applied and
//     Update returns that error unchanged. fn may be called more than once
//     (a backend may retry on a serialization failure), so it must have no
//     effects outside tx. Concurrent Updates share fsyncs (group commit).
//   - View runs fn against a consistent snapshot.
//   - Nothing a caller observes is lost by a crash: View and Update return
//     only once every record they read is durable, even when fn fails.
//   - Reads inside an Update see that Update's own earlier writes.
//   - Methods of a tx must not be used after fn returns.
type Store interface {
	View(ctx context.Context, fn func(ReadTx) error) error
	Update(ctx context.Context, fn func(Tx) error) error
	// Document reads the current version of one document (which may be a
	// tombstone), as a View that read only it would: ErrNoRecord when it
	// does not exist. A store may answer it without a snapshot; it is the
	// read behind every GET of a document.
	Document(ctx context.Context, collection, id string) (*Document, error)
	// Ping reports whether the store can serve requests: nil, or why not
	// (a *Error with CodeInsufficientStorage when it reads but refuses
	// writes for want of disk space).
	Ping(ctx context.Context) error
	// Close releases the store. Transactions in progress finish first.
	Close() error
}

// DocumentUpdater is a Store that can use knowing, before fn runs, the
// document an Update is for: a Service write of one document reads its
// lock record, its collection and its current version first, which such a
// Store may read ahead of fn (the postgres Store reads them for the
// Updates waiting for their turn, in a round trip it makes anyway).
// UpdateDocument is Update with that hint; what fn sees is the same.
type DocumentUpdater interface {
	UpdateDocument(ctx context.Context, collection, id string, fn func(Tx) error) error
}

// ReadTx reads records. A method returns ErrNoRecord when the record does
// not exist; other errors are failures of the store.
type ReadTx interface {
	// Collection returns the live collection record named name.
	Collection(name string) (*Collection, error)
	// Collections returns every live collection, ordered by name.
	Collections() ([]*Collection, error)
	// CollectionStats counts the collection's live and deleted documents.
	CollectionStats(name string) (CollectionStats, error)

	// Document returns the current version of a document, which may be a
	// tombstone.
	Document(collection, id string) (*Document, error)
	// Documents returns up to limit live documents with ids greater than
	// after, ordered by id.
	Documents(collection, after string, limit int) ([]*Document, error)
	// Version returns one stored version of a document.
	Version(collection, id string, version int64) (*Document, error)
	// Versions returns up to limit stored versions lower than before
	// (before <= 0 means from the newest), newest first.
	Versions(collection, id string, before int64, limit int) ([]*Document, error)

	// UniqueHolder returns the id of the live document whose field holds
	// the value with the given canonical encoding.
	UniqueHolder(collection, field string, value []byte) (string, error)
	// Referrers returns up to limit references whose target is the given
	// document, ordered by referring collection, id and field.
	Referrers(collection, id string, limit int) ([]Reference, error)
	// IndexEntries returns up to limit entries of the secondary index
	// named index of collection whose keys k satisfy from <= k < to (to ==
	// nil: no upper bound), ascending by the bytes of their keys, or
	// descending when reverse. Keys come back byte for byte as they were
	// put (an empty key as an empty, non-nil slice). An index with no
	// entries is not an error: the answer is empty.
	IndexEntries(collection, index string, from, to []byte, reverse bool, limit int) ([]IndexEntry, error)

	// Events returns up to limit change-log events with seq greater than
	// after, in seq order.
	Events(after int64, limit int) ([]*Event, error)
	// LastSeq returns the highest seq committed so far.
	LastSeq() (int64, error)
	// EventsTrimmed returns the seq through which the change log has been
	// trimmed (TrimEvents): events up to it may be gone, events after it
	// are all kept. 0 when nothing was ever trimmed.
	EventsTrimmed() (int64, error)

	// Idempotency returns the stored answer for a caller's key, expired or
	// not (the caller checks ExpiresAt).
	Idempotency(caller, key string) (*IdempotencyRecord, error)

	// Conflict returns a recorded conflict.
	Conflict(id string) (*Conflict, error)
	// Conflicts returns up to limit recorded conflicts that pass f, with
	// ids greater than after, ordered by id.
	Conflicts(f ConflictFilter, after string, limit int) ([]*Conflict, error)

	// Lock returns the lock record of a document, expired or not (the
	// caller compares ExpiresAt with its clock).
	Lock(collection, id string) (*Lock, error)
	// LocksByExpiry returns up to limit lock records whose ExpiresAt is
	// not after until, earliest expiry first.
	LocksByExpiry(until time.Time, limit int) ([]*Lock, error)
	// Transaction returns an interactive transaction's staged state,
	// expired or not (the caller checks ExpiresAt).
	Transaction(id string) (*Transaction, error)
	// LockWaiters returns every record of the queue of lock requests
	// waiting for a document's lock, expired or not (the caller checks
	// ExpiresAt), in ticket order; none is an empty list, not ErrNoRecord.
	LockWaiters(collection, id string) ([]*LockWaiter, error)
}

// Tx reads and writes records inside an Update.
type Tx interface {
	ReadTx

	// NextSeq allocates the next store-wide sequence number. Numbers are
	// consecutive and only consumed if the transaction commits.
	NextSeq() (int64, error)

	// PutCollection creates or replaces a collection record.
	PutCollection(c *Collection) error
	// DropCollection removes a collection record and every document,
	// version, unique-index and secondary-index entry of the collection. References whose
	// referrer is in the collection must be removed by the caller first.
	DropCollection(name string) error

	// PutDocument stores d as the current version of its document and
	// appends it to the document's history.
	PutDocument(d *Document) error
	// TrimVersions removes the stored versions of a document lower than
	// keepFrom.
	TrimVersions(collection, id string, keepFrom int64) error

	// PutUnique records that the live document id holds value in field.
	PutUnique(collection, field string, value []byte, id string) error
	// DeleteUnique removes a unique-index entry.
	DeleteUnique(collection, field string, value []byte) error

	// PutIndexEntry creates or replaces the entry under key in the
	// secondary index named index of collection, pointing at the document
	// id. The Service encodes keys; the Store compares them as bytes.
	// Neither this method nor DeleteIndexEntry keeps a reference to key
	// once it returns: the caller may reuse its buffer, as io.Writer's
	// may.
	PutIndexEntry(collection, index string, key []byte, id string) error
	// DeleteIndexEntry removes the entry under key; removing one that does
	// not exist is not an error.
	DeleteIndexEntry(collection, index string, key []byte) error
	// DropIndex removes every entry of one secondary index of collection,
	// and nothing else.
	DropIndex(collection, index string) error

	// PutReference records a reference; DeleteReference removes one.
	PutReference(r Reference) error
	DeleteReference(r Reference) error

	// AppendEvent appends e to the change log under e.Seq, which the caller
	// allocated with NextSeq.
	AppendEvent(e *Event) error
	// TrimEvents removes every change-log event with seq up to through and
	// records through as EventsTrimmed, durably. A through at or below
	// EventsTrimmed changes nothing; one above LastSeq is an error.
	TrimEvents(through int64) error

	// PutIdempotency stores (or replaces) the answer for r's caller and key.
	PutIdempotency(r *IdempotencyRecord) error
	// DeleteExpiredIdempotency deletes up to limit answers whose ExpiresAt
	// is not after now, oldest first, and returns how many it deleted.
	DeleteExpiredIdempotency(now time.Time, limit int) (int, error)

	// PutConflict creates or replaces a recorded conflict.
	PutConflict(c *Conflict) error

	// PutLock creates or replaces the lock record of l's document.
	PutLock(l *Lock) error
	// DeleteLock removes the lock record of a document; removing one that
	// does not exist is not an error.
	DeleteLock(collection, id string) error
	// PutTransaction creates or replaces an interactive transaction's
	// staged state.
	PutTransaction(t *Transaction) error
	// DeleteTransaction removes a transaction; removing one that does not
	// exist is not an error.
	DeleteTransaction(id string) error
	// PutLockWaiter creates or replaces the queue record of w's document
	// with w's Ticket.
	PutLockWaiter(w *LockWaiter) error
	// DeleteLockWaiter removes a queue record; removing one that does not
	// exist is not an error.
	DeleteLockWaiter(collection, id string, ticket int64) error
	// DeleteExpiredTransactions deletes up to limit transactions whose
	// ExpiresAt is not after now, oldest first, and returns how many it
	// deleted.
	DeleteExpiredTransactions(now time.Time, limit int) (int, error)
}

// Reference is one edge of the reference index: the document From holds,
// in field From.Field, the id of the document To.
type Reference struct {
	From DocRef
	To   DocRef
}

// IndexEntry is one entry of a secondary index: a key, whose byte order is
// the index's order, and the document it points at.
type IndexEntry struct {
	// Key is the entry's key, as the Service encoded it (index.go).
	Key []byte
	// ID is the id of the document the entry points at.
	ID string
}

// ErrNoRecord is returned by ReadTx methods for a record that does not exist.
var ErrNoRecord = errors.New("truce: no such record")
