// Package pebble is truce's embedded Store, on CockroachDB's Pebble: the
// key layout of every record, their encoding, and the transaction machinery
// that makes each Update atomic, serializable and durable (with group
// commit) and keeps every View and Update from reporting state that a crash
// could take back.
//
// Writers are serialized by one store-wide lock, and read their own writes
// through an indexed batch; readers never block writers and read a
// snapshot. The lock is held only while the transaction runs and its batch
// is applied, not during the fsync, so that concurrent writers share
// fsyncs. Whatever a writer does under the lock delays every other writer,
// so the reads a write starts with (its collection and its document) are
// served from caches of the committed state where possible (cache.go), and
// the next fsync waits a little for more commits when the machine is
// saturated (walSyncDelay). Stored versions and change-log events, which
// are appended and never overwritten, keep their values in blob files that
// compactions do not rewrite (valsep.go).
package pebble

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/trucedb/truce"
	"github.com/trucedb/truce/internal/broadcast"
	"github.com/trucedb/truce/internal/drain"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Options configure a Store. The zero value is a good default for a server.
type Options struct {
	// Logger receives Pebble's messages: informational ones at debug level,
	// errors at error level. Nil discards them.
	Logger *slog.Logger
	// CacheSize is the size in bytes of the block cache, which holds
	// recently read blocks of the on-disk tables. Zero means 64 MiB.
	CacheSize int64
	// MemTableSize is the size in bytes of a memtable, where recent writes
	// live until they are flushed to disk. Up to two exist at a time. Zero
	// means 16 MiB.
	MemTableSize uint64
	// DocumentCacheSize bounds the bytes of encoded current documents the
	// store keeps in memory (on the Go heap), for reads and for the read
	// that every write makes under the write lock (see cache.go); writes
	// fill it, and reads fill its free room; keys and
	// the map's own overhead come on top. Zero or less means 16 MiB: about
	// 13,000 documents of 1 KiB. Documents larger than the bound or than
	// 16 KiB are never cached.
	DocumentCacheSize int
	// ReserveBytes is the free space to keep on the directory's file
	// system: while less is free, writes fail with insufficient_storage
	// and reads go on (see space.go). Zero means DefaultReserveBytes;
	// negative means no reserve.
	ReserveBytes int64
}

// Pebble's L0CompactionThreshold and L0StopWritesThreshold (see open).
const (
	l0CompactionThreshold = 8
	l0StopWritesThreshold = 32
)

// Default sizes: with them truce serve stayed within issue 2's memory
// limit in the benchmarks (with the malloc arena limit of cmd/truce when
// built with cgo); docs/benchmarks.md has the figures.
const (
	DefaultCacheSize         = 64 << 20
	DefaultMemTableSize      = 16 << 20
	DefaultDocumentCacheSize = 16 << 20
)

// ErrClosed is returned by every method of a Store that has been closed.
var ErrClosed error = &truce.Error{Code: truce.CodeUnavailable, Detail: "the store is closed"}

// Store is a truce.Store in a Pebble database in one directory. It is safe
// for concurrent use.
type Store struct {
	db *pebble.DB

	// wlock is the write lock, a channel so that waiting for it honours
	// the context.
	wlock chan struct{}
	// seq is the last committed seq; guarded by wlock.
	seq int64
	// colls is the committed cache of collection records; guarded by
	// wlock. memo is the decode memo. See cache.go.
	colls map[string]*collEntry
	memo  collMemo
	// docs is the committed cache of current documents, and docBytes the
	// size of its values. Updates read them holding wlock, and change them
	// holding wlock and docsMu; Views and Store.Document read docs holding
	// docsMu shared (cache.go).
	docs      map[string]docEntry
	docBytes  int
	docBudget int // Options.DocumentCacheSize
	docsMu    sync.RWMutex
	// lockKeys holds the key of every committed lock record; guarded by
	// wlock. See locks.go.
	lockKeys map[string]struct{}
	// visibleSeq and visibleCommit are the seq and commit number of the
	// last commit that may be visible to readers. Update publishes them
	// before it applies its batch; see watermark.
	visibleSeq    atomic.Int64
	visibleCommit atomic.Uint64
	// appliedCommit is the number of the last commit applied: visible to
	// every iterator opened from then on. See snapshotDocument.
	appliedCommit atomic.Uint64
	durable       watermark
	// changes wakes change-feed readers after commits; see events.go.
	changes broadcast.Signal

	// writers counts the Updates in progress; see walSyncDelay.
	writers atomic.Int32
	// epoch is when the store opened; lastSync is when (since epoch) the
	// last WAL fsync completed, and wakeLag the average time from an
	// fsync's completion until its waiters run again, in nanoseconds.
	epoch    time.Time
	lastSync atomic.Int64
	wakeLag  atomic.Int64

	// gate counts the transactions in progress, for Close to wait for.
	gate drain.Gate

	// log receives the slow commits at debug level; metrics holds what
	// the store measures itself (metrics.go).
	log     *slog.Logger
	metrics storeMetrics

	// space refuses writes while the disk is nearly full; failed is set
	// once a WAL write or fsync failed (space.go).
	space  spaceGuard
	failed atomic.Pointer[failure]
}

var _ truce.Store = (*Store)(nil)

// Open opens the store in dir, creating it if it does not exist.
func Open(dir string, opts Options) (*Store, error) {
	return open(dir, opts, nil)
}

// open is Open on a file system of the tests' choosing; nil means the
// operating system's.
func open(dir string, opts Options, fs vfs.FS) (*Store, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = DefaultCacheSize
	}
	if opts.MemTableSize == 0 {
		opts.MemTableSize = DefaultMemTableSize
	}
	if opts.DocumentCacheSize <= 0 {
		opts.DocumentCacheSize = DefaultDocumentCacheSize
	}
	if opts.ReserveBytes == 0 {
		opts.ReserveBytes = DefaultReserveBytes
	}
	if fs == nil {
		fs = vfs.Default
	}
	cache := pebble.NewCache(opts.CacheSize)
	defer cache.Unref()
	po := &pebble.Options{
		Cache:              cache,
		MemTableSize:       opts.MemTableSize,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             logger{log},
		FS:                 fs,
	}
	s := &Store{
		wlock:     make(chan struct{}, 1),
		epoch:     time.Now(),
		docBudget: opts.DocumentCacheSize,
		log:       log,
		metrics:   newStoreMetrics(),
		space:     spaceGuard{fs: fs, dir: dir, reserve: opts.ReserveBytes},
	}
	// L0 compactions. Every flush makes L0 tables whose current documents
	// span the whole key range, so each compaction out of L0 rewrites
	// every table of the level below that holds current documents. Raising
	// L0CompactionThreshold from Pebble's 4 to 8 halves how often that
	// happens: Pebble scores L0 as twice its sublevels over the threshold,
	// so compactions start at about 4 sublevels instead of 2. With many
	// more documents than the caches hold, paired runs took less server
	// CPU per update for more throughput; with few documents, no
	// difference beyond the noise (docs/benchmarks.md, "Figures behind the
	// code's choices"). Point reads pay little for the extra sublevels:
	// each L0 table has a Bloom filter.
	// Writes stop at 32 sublevels (Pebble's default is 12), further from a
	// stall than before.
	po.L0CompactionThreshold = l0CompactionThreshold
	po.L0StopWritesThreshold = l0StopWritesThreshold
	po.WALMinSyncInterval = s.walSyncDelay
	po.Experimental.ValueSeparationPolicy = valueSeparation
	po.Experimental.SpanPolicyFunc = spanPolicy
	for i := range po.Levels {
		// Bloom filters spare most point reads of absent keys (a create,
		// a unique check) a disk read per level.
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		po.Levels[i].FilterType = pebble.TableFilter
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("pebble: open %s: %w", dir, err)
	}
	s.db = db
	// The first answer, before any write can read it.
	s.space.measure()
	s.space.checked.Store(time.Now().UnixNano())
	v, closer, err := db.Get(metaSeqKey)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		db.Close()
		return nil, fmt.Errorf("pebble: open %s: read seq: %w", dir, err)
	default:
		s.seq, err = decodeSeq(v)
		closer.Close()
		if err != nil {
			db.Close()
			return nil, err
		}
	}
	if s.lockKeys, err = loadLockKeys(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("pebble: open %s: %w", dir, err)
	}
	// Pebble flushes what it replays from the WAL at Open, so everything
	// there is durable now.
	s.visibleSeq.Store(s.seq)
	s.durable.advance(0, s.seq)
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

// View runs fn in a read-only transaction on a snapshot of the database
// taken at fn's first read. It returns once everything fn observed is durable, with fn's error
// if fn failed, or ctx's error if ctx ends first.
func (s *Store) View(ctx context.Context, fn func(truce.ReadTx) error) error {
	if err := s.begin(); err != nil {
		return err
	}
	defer s.end()
	t := &tx{s: s}
	defer t.finish()
	err := fn(t)
	t.finish()
	if werr := s.durable.wait(ctx, t.obsSeq, t.obsCommit); werr != nil {
		return werr
	}
	return err
}

// Document reads the current version of one document. When the committed
// cache holds it, the cache answers without the iterator a View opens,
// which is most of what a View reading one document costs (BenchmarkGet;
// figures in docs/benchmarks.md): an entry there is the visible value
// (cache.go). Otherwise it is a View that reads only the document. Either
// way it returns once what it read is durable: the document's commit, or
// for an absence every commit visible when it looked.
func (s *Store) Document(ctx context.Context, collection, id string) (*truce.Document, error) {
	if truce.ValidCollectionName(collection) && truce.ValidID(id) {
		if d, ok, err := s.cachedCurrent(ctx, collection, id); ok {
			return d, err
		}
	}
	var d *truce.Document
	err := s.View(ctx, func(tx truce.ReadTx) (err error) {
		d, err = tx.Document(collection, id)
		return err
	})
	return d, err
}

// cachedCurrent is Document from the committed cache; ok is false when the
// cache cannot answer.
func (s *Store) cachedCurrent(ctx context.Context, collection, id string) (d *truce.Document, ok bool, err error) {
	if err := s.begin(); err != nil {
		return nil, true, err
	}
	defer s.end()
	var buf [128]byte
	v := s.cachedDocument(docKey(buf[:0], collection, id))
	if len(v) == 0 {
		return nil, false, nil
	}
	// What to wait for is what a View's tx would observe, with the bounds
	// taken after the entry: the commit that added it published its
	// bounds before.
	t := tx{s: s, seqBound: s.visibleSeq.Load(), commitBound: s.visibleCommit.Load()}
	if d, err = decodeDocument(v, collection, id); err != nil {
		return nil, true, err
	}
	t.observeSeq(d.Seq)
	if err := s.durable.wait(ctx, t.obsSeq, t.obsCommit); err != nil {
		return nil, true, err
	}
	return d, true, nil
}

// Update runs fn in a read-write transaction and commits what it wrote if it
// returns nil. Updates run one at a time. Update returns once the commit is
// synced to stable storage, together with the commits of other Updates that
// waited for the same fsync.
//
// If fn fails, Update returns its error unchanged and applies nothing,
// unless ctx ends while Update waits for what fn read to become durable:
// then it returns ctx's error, since fn's error may describe state that is
// not durable.
func (s *Store) Update(ctx context.Context, fn func(truce.Tx) error) (err error) {
	if err := s.begin(); err != nil {
		return err
	}
	defer s.end()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.failedErr(); err != nil {
		return err
	}
	if err := s.space.check(); err != nil {
		return err
	}
	s.writers.Add(1)
	defer s.writers.Add(-1)
	if parent := trace.SpanFromContext(ctx); parent.IsRecording() {
		// Traced: a span per commit (nothing at all when not traced).
		var span trace.Span
		ctx, span = parent.TracerProvider().Tracer("github.com/trucedb/truce/pebble").Start(ctx, "store.commit")
		defer func() {
			// A refusal of the rules (a conflict, say) is an answer, not a
			// failure of the store.
			var te *truce.Error
			if err != nil && !errors.As(err, &te) {
				span.SetStatus(codes.Error, err.Error())
			}
			span.End()
		}()
	}
	start := time.Now()
	select {
	case s.wlock <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	locked := time.Now()
	holding := true
	unlock := func() {
		if holding {
			holding = false
			<-s.wlock
		}
	}
	defer unlock()
	b := s.db.NewIndexedBatch()
	applied := false
	defer func() {
		if !applied {
			b.Close()
		}
	}()

	u := &updateTx{tx: tx{
		s:           s,
		batch:       b,
		seqBound:    s.seq,
		commitBound: s.visibleCommit.Load(),
		last:        s.seq,
	}}
	t := &u.tx
	t.w = &u.w
	err = fn(t)
	t.done = true
	// Whatever happens to the batch, the cached records it writes may no
	// longer be the committed ones.
	s.invalidate(t)
	if err == nil && t.last > s.seq {
		err = wrap("commit", b.Set(metaSeqKey, binaryBE8(t.last), nil))
	}
	if err != nil || b.Empty() {
		unlock()
		if werr := s.durable.wait(ctx, t.obsSeq, t.obsCommit); werr != nil {
			return werr
		}
		return err
	}

	// Publish the bounds before the batch becomes visible: a reader that
	// sees the batch then also sees bounds that cover it.
	commit := s.visibleCommit.Load() + 1
	s.visibleSeq.Store(t.last)
	s.visibleCommit.Store(commit)
	if err := s.db.ApplyNoSyncWait(b, pebble.Sync); err != nil {
		// Nothing of b became visible, so this commit number is durable
		// as soon as the one before it; a reader that took it as its
		// bound must not wait for ever.
		unlock()
		if s.durable.wait(ctx, 0, commit-1) == nil {
			s.durable.advance(commit, 0)
		}
		if errors.Is(err, syscall.ENOSPC) {
			return failedError(err)
		}
		return wrap("commit", err)
	}
	applied = true
	s.appliedCommit.Store(commit)
	s.seq = t.last
	s.cacheDocuments(t)
	s.applyLockWrites(t)
	unlock()
	queued := time.Now()

	// Other writers proceed while this one waits for the fsync; Pebble syncs
	// the WAL for all the batches queued by then at once (see walSyncDelay).
	err = b.SyncWait()
	s.noteWake()
	b.Close()
	if err != nil {
		// b is visible but not durable, and Pebble's log is broken for
		// good: acknowledge nothing from now on (space.go).
		s.fail(err)
		return s.failedErr()
	}
	// The WAL is synced up to and including b, and every earlier commit
	// precedes b in the WAL.
	s.durable.advance(commit, t.last)
	s.observeCommit(ctx, start, locked, queued)
	if t.last > t.seqBound {
		s.changes.Notify()
	}
	return nil
}

// Group commit. Pebble syncs the WAL in a loop: each fsync covers every
// commit queued while the previous one ran. When the CPU is the bottleneck
// (many clients on a small machine), that makes many small fsyncs, each
// costing CPU in the kernel plus a burst of wakeups, taken from the
// requests. Then holding the next fsync back a little after one completes
// lets the commits under way join it: with many clients over HTTP on a
// small machine this makes far fewer fsyncs, costs less CPU per request
// and raises throughput while lowering p99 (docs/benchmarks.md, "Figures
// behind the code's choices"). No commit is acknowledged before its fsync,
// so durability is unchanged.
//
// When the CPU is not the bottleneck, the delay is pointless: the writers
// keep up with the fsyncs, and waiting only lengthens every commit, which
// cost a good share of the throughput with fewer writers. So it applies
// only while the waiters of an fsync take long to run after it completes,
// which is what a saturated CPU looks like from here (wakeLag), and while
// at least syncDelayWriters Updates are in progress, so that a lone writer
// never waits for company that will not come.
const (
	syncDelay          = 500 * time.Microsecond
	syncDelayWakeLag   = 200 * time.Microsecond
	syncDelayWriters   = 2
	wakeLagMaxSample   = 10 * time.Millisecond
	wakeLagSmoothShift = 5 // the average moves by 1/32 of each sample
)

// walSyncDelay is Pebble's WALMinSyncInterval, which Pebble asks for after
// each WAL fsync.
func (s *Store) walSyncDelay() time.Duration {
	s.lastSync.Store(int64(time.Since(s.epoch)))
	if s.writers.Load() >= syncDelayWriters && time.Duration(s.wakeLag.Load()) >= syncDelayWakeLag {
		return syncDelay
	}
	return 0
}

// noteWake records how long after the last WAL fsync an Update that waited
// for an fsync got to run again.
func (s *Store) noteWake() {
	last := s.lastSync.Load()
	if last == 0 {
		return
	}
	lag := min(max(int64(time.Since(s.epoch))-last, 0), int64(wakeLagMaxSample))
	// Concurrent updates may lose a sample; it is only an estimate.
	old := s.wakeLag.Load()
	s.wakeLag.Store(old + (lag-old)>>wakeLagSmoothShift)
}

func binaryBE8(v int64) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(v))
}

// Ping reports whether the store is open and can read.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.begin(); err != nil {
		return err
	}
	defer s.end()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.failedErr(); err != nil {
		return err
	}
	if err := s.space.check(); err != nil {
		return err
	}
	_, closer, err := s.db.Get(metaSeqKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil
	}
	if err != nil {
		return wrap("ping", err)
	}
	return closer.Close()
}

// Close waits for the transactions in progress, then closes the database.
// Every later call returns ErrClosed.
func (s *Store) Close() error {
	if !s.gate.Close() {
		return ErrClosed
	}
	return wrap("close", s.db.Close())
}

// logger routes Pebble's messages to slog.
type logger struct{ log *slog.Logger }

func (l logger) Infof(format string, args ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug(fmt.Sprintf(format, args...), "component", "pebble")
	}
}

func (l logger) Errorf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

// Fatalf logs and exits, as Pebble's own logger does: Pebble calls it when
// its state is no longer consistent, and continuing could corrupt data.
func (l logger) Fatalf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...), "component", "pebble", "fatal", true)
	os.Exit(1)
}
