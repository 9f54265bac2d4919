package truce

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"
)

// The defaults of Options, and of requests that leave a value out.
const (
	// DefaultMaxDocBytes limits a document body when Options.MaxDocBytes
	// is zero: 1 MiB.
	DefaultMaxDocBytes = 1 << 20
	// DefaultIdempotencyTTL is how long a stored answer to an
	// idempotency key is kept when Options.IdempotencyTTL is zero.
	DefaultIdempotencyTTL = 24 * time.Hour
	// DefaultLockTTL is the lease of a lock request that names no TTL.
	DefaultLockTTL = 30 * time.Second
	// DefaultMaxLockTTL caps a lock's TTL (and wait) when
	// Options.MaxLockTTL is zero.
	DefaultMaxLockTTL = 5 * time.Minute
	// DefaultMaxOps limits the operations of one batch, or the staged
	// writes of one interactive transaction, when Options.MaxOps is zero.
	DefaultMaxOps = 1000
	// DefaultTransactionTTL is the TTL of an interactive transaction begun
	// without one.
	DefaultTransactionTTL = 60 * time.Second
	// DefaultMaxScanDocs bounds the documents one page of a query may
	// examine beyond what an index selects, when Options.MaxScanDocs is
	// zero.
	DefaultMaxScanDocs = 10000
	// DefaultMaxTransactionTTL caps the TTL of an interactive transaction
	// when Options.MaxTransactionTTL is zero.
	DefaultMaxTransactionTTL = 10 * time.Minute
)

// DefaultEventRetention keeps a week of change-log events: what truce
// serve keeps unless told otherwise. Options.EventRetention's zero value
// keeps every event.
var DefaultEventRetention = EventRetention{MaxAge: 7 * 24 * time.Hour}

// Options configures a Service. The zero value is usable.
type Options struct {
	// MaxDocBytes limits the size of a document's body; 0 means
	// DefaultMaxDocBytes.
	MaxDocBytes int
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// NewID returns a fresh document id for a create without one; nil
	// means a ULID (26 characters, sortable by creation time).
	NewID func() string
	// IdempotencyTTL is how long answers to idempotency keys are kept; 0
	// means DefaultIdempotencyTTL.
	IdempotencyTTL time.Duration
	// MaxLockTTL caps the ttl and the wait of lock requests; 0 means
	// DefaultMaxLockTTL.
	MaxLockTTL time.Duration
	// MaxOps limits the operations of one transaction (a batch, or the
	// staged writes of an interactive one); 0 means DefaultMaxOps.
	MaxOps int
	// MaxTransactionTTL caps the TTL of an interactive transaction; 0 means
	// DefaultMaxTransactionTTL.
	MaxTransactionTTL time.Duration
	// EventRetention is how much of the change log Run keeps; the zero
	// value keeps every event.
	EventRetention EventRetention
	// MaxScanDocs bounds the documents one page of a query may examine
	// that its index does not select (a scan, or conditions no index
	// serves); past it the query is refused (CodeScanTooLarge). 0 means
	// DefaultMaxScanDocs.
	MaxScanDocs int
	// Logger receives what Run's background work reports: failures of the
	// store, which it retries. Nil means slog.Default().
	Logger *slog.Logger
}

// Service enforces the rules of truce on top of a Store: preconditions,
// conflict policies, unique and reference constraints, schemas, tombstones
// and history. Every front door (HTTP, Go callers, transactions) goes
// through it. It is safe for concurrent use.
type Service struct {
	store       Store
	maxDocBytes int
	now         func() time.Time
	newID       func() string
	idemTTL     time.Duration
	maxLockTTL  time.Duration
	// lockWait orders the lock requests waiting for a document (lock_wait.go);
	// lockKick wakes the lock expirer when a lock is taken (lock_expiry.go).
	lockWait lockWaiters
	lockKick chan struct{}
	// shared says that other nodes use the store too (SharedStore): lock
	// requests then queue in the store (lock_queue.go), woken by
	// lockSignals and lockWatch, and idempotency keys are claimed there
	// (idempotency_claim.go).
	shared      bool
	lockSignals lockSignals
	lockWatch   lockWatch
	// claims holds the idempotency keys whose requests run in this
	// process, when the store is not shared.
	claims            sync.Map
	maxOps            int
	maxTransactionTTL time.Duration
	feed              *Feed
	// retention and log are Run's: what the change log keeps, and where
	// the background work reports.
	retention EventRetention
	log       *slog.Logger
	// schemas holds the collections' compiled schemas (schema.go).
	schemas schemaCache
	// indexKick wakes the index builder (index.go); maxScan bounds the
	// documents a query page examines (query.go).
	indexKick chan struct{}
	maxScan   int
	// queryGate queues query pages for the CPU (query_gate.go).
	queryGate queryGate
	// upkeep counts what the background work did (UpkeepStats).
	upkeep struct{ locks, transactions, idempotency atomic.Int64 }
}

// NewService returns a Service over store.
func NewService(store Store, opts Options) *Service {
	s := &Service{store: store, maxDocBytes: opts.MaxDocBytes, now: opts.Now, newID: opts.NewID, queryGate: newQueryGate()}
	s.feed = newFeed(store)
	if s.maxDocBytes <= 0 {
		s.maxDocBytes = DefaultMaxDocBytes
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.idemTTL = opts.IdempotencyTTL; s.idemTTL <= 0 {
		s.idemTTL = DefaultIdempotencyTTL
	}
	if s.newID == nil {
		s.newID = newULID()
	}
	if s.maxLockTTL = opts.MaxLockTTL; s.maxLockTTL <= 0 {
		s.maxLockTTL = DefaultMaxLockTTL
	}
	if ss, ok := store.(SharedStore); ok && ss.Shared() {
		s.shared = true
	}
	s.lockWait = newLockQueues()
	s.lockKick = make(chan struct{}, 1)
	s.indexKick = make(chan struct{}, 1)
	if s.maxScan = opts.MaxScanDocs; s.maxScan <= 0 {
		s.maxScan = DefaultMaxScanDocs
	}
	s.maxOps, s.maxTransactionTTL = opts.MaxOps, opts.MaxTransactionTTL
	if s.maxOps <= 0 {
		s.maxOps = DefaultMaxOps
	}
	if s.maxTransactionTTL <= 0 {
		s.maxTransactionTTL = DefaultMaxTransactionTTL
	}
	s.retention, s.log = opts.EventRetention, opts.Logger
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// MaxDocBytes returns the limit on a document body's size.
func (s *Service) MaxDocBytes() int { return s.maxDocBytes }

// Ready reports whether the store can serve requests. A store that can
// read but refuses writes, its disk full, is not ready: the error says why
// (CodeInsufficientStorage).
func (s *Service) Ready(ctx context.Context) error {
	if err := s.store.Ping(ctx); err != nil {
		var te *Error
		if errors.As(err, &te) && te.Code == CodeInsufficientStorage {
			return te
		}
		return &Error{Code: CodeUnavailable, Detail: "the store is not reachable: " + err.Error()}
	}
	return nil
}

// newULID returns a generator of monotonic ULIDs, safe for concurrent use.
func newULID() func() string {
	var mu sync.Mutex
	entropy := ulid.Monotonic(rand.Reader, 0)
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		return ulid.MustNew(ulid.Timestamp(time.Now()), entropy).String()
	}
}

// errStale marks a body-version mismatch for the conflict policy to decide.
var errStale = errors.New("stale body version")

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func refString(collection, id string) string { return collection + "/" + id }

// notFound describes a missing document, distinguishing a deleted one.
func notFound(collection, id string, cur *Document) error {
	if cur != nil && cur.Deleted {
		return Errorf(CodeNotFound, "%s was deleted at version %d; its history is still readable", refString(collection, id), cur.Version)
	}
	return Errorf(CodeNotFound, "%s does not exist", refString(collection, id))
}

// getDocument reads a document's current version; nil when it never existed.
func getDocument(tx ReadTx, collection, id string) (*Document, error) {
	d, err := tx.Document(collection, id)
	if errors.Is(err, ErrNoRecord) {
		return nil, nil
	}
	return d, err
}

// getCollection reads a collection; nil when it does not exist.
func getCollection(tx ReadTx, name string) (*Collection, error) {
	c, err := tx.Collection(name)
	if errors.Is(err, ErrNoRecord) {
		return nil, nil
	}
	return c, err
}
