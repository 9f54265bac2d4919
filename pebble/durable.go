package pebble

import (
	"context"
	"sync"
	"sync/atomic"
)

// watermark tracks what is known to be on stable storage, so that no
// transaction reports state that a crash could still take back.
//
// Pebble makes a batch visible before its WAL fsync completes, and Update
// releases the write lock before waiting for that fsync (so that concurrent
// writers share it). A reader can therefore see a commit that is not yet
// durable. Every commit has a commit number, assigned under the write lock
// in WAL order, and the seqs it allocated. When a commit's SyncWait returns,
// the WAL is synced up to and including it, hence every earlier commit is
// durable too, and the watermark moves to (its commit number, the store's
// seq after it) if that is higher. Both halves only grow.
//
// A transaction waits for one of two things before it returns: the seq half
// covers records it found by point reads (each record carries the seq of the
// commit that wrote it), and the commit half covers anything else it saw:
// absences, scans, and records without a seq, all of which a later commit
// may have changed by deleting keys.
type watermark struct {
	seq    atomic.Int64
	commit atomic.Uint64

	mu sync.Mutex
	// ch is closed when the watermark advances; nil when nobody waits.
	ch chan struct{}
	// failed, once set (under mu), is what wait returns for anything the
	// watermark does not cover: the store failed and it will not move.
	failed error
}

// fail makes every wait for what is not yet covered return err.
func (w *watermark) fail(err error) {
	w.mu.Lock()
	w.failed = err
	if w.ch != nil {
		close(w.ch)
		w.ch = nil
	}
	w.mu.Unlock()
}

// covers reports whether everything up to seq and commit is durable. It is
// the hot path of every read: two atomic loads.
func (w *watermark) covers(seq int64, commit uint64) bool {
	return w.seq.Load() >= seq && w.commit.Load() >= commit
}

// advance records that every commit up to commit, and every seq up to seq,
// is durable.
func (w *watermark) advance(commit uint64, seq int64) {
	w.mu.Lock()
	moved := false
	if commit > w.commit.Load() {
		w.commit.Store(commit)
		moved = true
	}
	if seq > w.seq.Load() {
		w.seq.Store(seq)
		moved = true
	}
	if moved && w.ch != nil {
		close(w.ch)
		w.ch = nil
	}
	w.mu.Unlock()
}

// wait returns once everything up to seq and commit is durable, or with
// ctx's error.
func (w *watermark) wait(ctx context.Context, seq int64, commit uint64) error {
	for !w.covers(seq, commit) {
		w.mu.Lock()
		if w.covers(seq, commit) {
			w.mu.Unlock()
			return nil
		}
		if w.failed != nil {
			w.mu.Unlock()
			return w.failed
		}
		if w.ch == nil {
			w.ch = make(chan struct{})
		}
		ch := w.ch
		w.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
