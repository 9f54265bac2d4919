package pebble

import (
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/trucedb/truce"
)

// Disk full. Pebble does not recover from a write-ahead log that fails:
// once a WAL write or fsync fails (ENOSPC, EIO), every later commit fails
// with the same error, even after space is freed, and the commit whose
// fsync failed is already visible in the memtable though not durable; a
// failed MANIFEST write makes Pebble call Fatalf. Only a reopen recovers.
// So the store never lets the disk fill under Pebble: it refuses writes
// with insufficient_storage while the file system of its directory has
// less free space than a reserve, which is left for Pebble's own log,
// flushes and compactions. Reads go on, and once space is freed writes
// resume, without a restart. Should the disk fill anyway (the reserve is
// too small for a compaction, another process took the space), the first
// failed fsync puts the store in a failed state (fail, in store.go): no
// write is acknowledged, reads of what was not synced fail instead of
// waiting, Ping says why, and a restart recovers from the WAL.

// DefaultReserveBytes is the free space the store keeps on its disk by
// default: room for two memtables' flushes and their compaction.
const DefaultReserveBytes = 128 << 20

// spaceCheckEvery bounds how often the free space is asked of the file
// system: a statfs per write would cost more than it tells.
const spaceCheckEvery = 100 * time.Millisecond

// spaceGuard refuses writes while the free space of dir is under reserve.
type spaceGuard struct {
	fs      vfs.FS
	dir     string
	reserve int64 // <= 0: no guard
	// checked is when free was last asked (ns since the Unix epoch); free
	// is the answer.
	checked atomic.Int64
	free    atomic.Int64
}

// check returns insufficient_storage while the disk's free space is under
// the reserve.
func (g *spaceGuard) check() error {
	if g.reserve <= 0 {
		return nil
	}
	now := time.Now().UnixNano()
	if last := g.checked.Load(); now-last >= int64(spaceCheckEvery) || now < last {
		// One caller asks; the others go by the last answer meanwhile.
		if g.checked.CompareAndSwap(last, now) {
			g.measure()
		}
	}
	if free := g.free.Load(); free < g.reserve {
		return &truce.Error{Code: truce.CodeInsufficientStorage, RetryAfter: 5 * time.Second,
			Detail: fmt.Sprintf("the disk of the data directory has %s free, under the %s the store keeps in reserve; "+
				"nothing was written. Reads keep working; writes resume once space is freed", bytesString(free), bytesString(g.reserve))}
	}
	return nil
}

// measure asks the file system for the free space. Not knowing is no
// reason to refuse writes: Pebble's own errors say more if the disk is in
// trouble.
func (g *spaceGuard) measure() {
	u, err := g.fs.GetDiskUsage(g.dir)
	if err != nil {
		g.free.Store(1 << 62)
		return
	}
	g.free.Store(int64(min(u.AvailBytes, 1<<62)))
}

func bytesString(n int64) string {
	switch {
	case n >= 10<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 10<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// failure is the error that put the store in its failed state.
type failure struct{ err error }

// failedError is what a store in its failed state answers: the disk is
// full (insufficient_storage) or failed otherwise (unavailable), and no
// write is acknowledged until the server restarts.
func failedError(cause error) error {
	code := truce.CodeUnavailable
	what := "an I/O error"
	if errors.Is(cause, syscall.ENOSPC) {
		code, what = truce.CodeInsufficientStorage, "a full disk"
	}
	return &truce.Error{Code: code, RetryAfter: 5 * time.Second,
		Detail: "the store's write-ahead log failed with " + what + " (" + cause.Error() + "), so it acknowledges no write: " +
			"the server must be restarted (after the disk is fixed or space freed) to recover from its log; " +
			"what it acknowledged before is safe"}
}

// fail puts s in its failed state, once: every later Update and Ping
// answers failedError, and readers waiting for what the failed fsync
// covered stop waiting.
func (s *Store) fail(cause error) {
	if s.failed.CompareAndSwap(nil, &failure{err: failedError(cause)}) {
		s.log.Error("the store failed: it refuses writes until the server restarts", "err", cause)
		s.durable.fail(s.failed.Load().err)
	}
}

// failedErr returns the store's failure, if it failed.
func (s *Store) failedErr() error {
	if f := s.failed.Load(); f != nil {
		return f.err
	}
	return nil
}
