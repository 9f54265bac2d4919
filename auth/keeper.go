package auth

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Keeper holds the auth file's current Set while the server runs, and
// reloads it when told (SIGHUP) or when the file changes on disk. A file
// that no longer parses keeps the previous Set, and the Keeper logs why.
// Requests in flight keep the Set they started with; no connection is
// dropped.
type Keeper struct {
	path string
	log  *slog.Logger
	cur  atomic.Pointer[Set]
	// next ends when the next reload stores a Set (NextReload).
	next atomic.Pointer[reloadSignal]

	mu    sync.Mutex // guards stamp, and serializes reloads
	stamp fileStamp
}

// reloadSignal is a context that a reload cancels.
type reloadSignal struct {
	ctx    context.Context
	cancel context.CancelFunc
}

func newReloadSignal() *reloadSignal {
	ctx, cancel := context.WithCancel(context.Background())
	return &reloadSignal{ctx, cancel}
}

// NextReload returns a context that ends when the auth file is next
// reloaded, so that what holds on to a token (an open change-feed stream)
// can look it up again at once rather than at its next heartbeat.
func (k *Keeper) NextReload() context.Context { return k.next.Load().ctx }

// fileStamp tells whether a file changed since it was read.
type fileStamp struct {
	mod  time.Time
	size int64
	ino  uint64
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size(), ino: inode(fi)}, nil
}

// NewKeeper loads the auth file at path; it must load.
func NewKeeper(path string, log *slog.Logger) (*Keeper, error) {
	k := &Keeper{path: path, log: log}
	if log == nil {
		k.log = slog.Default()
	}
	st, err := stampOf(path)
	if err != nil {
		return nil, err
	}
	f, err := Load(path)
	if err != nil {
		return nil, err
	}
	k.stamp = st
	k.cur.Store(NewSet(f))
	k.next.Store(newReloadSignal())
	return k, nil
}

// Set returns the current Set.
func (k *Keeper) Set() *Set { return k.cur.Load() }

// Reload reads the file again. On failure the previous Set stays, and the
// error says why.
func (k *Keeper) Reload() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.reloadLocked()
}

func (k *Keeper) reloadLocked() error {
	st, err := stampOf(k.path)
	if err != nil {
		k.log.Error("auth file not reloaded; keeping the previous tokens", "path", k.path, "err", err)
		return err
	}
	f, err := Load(k.path)
	if err != nil {
		k.stamp = st // do not retry a bad file until it changes again
		k.log.Error("auth file not reloaded; keeping the previous tokens", "path", k.path, "err", err)
		return err
	}
	k.stamp = st
	s := NewSet(f)
	k.cur.Store(s)
	k.next.Swap(newReloadSignal()).cancel()
	k.log.Info("auth file loaded", "path", k.path, "tokens", s.Len())
	return nil
}

// Watch reloads the file whenever its size, modification time or inode
// changes (Save renames a new file into place), checking every interval,
// until ctx ends.
func (k *Keeper) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, err := stampOf(k.path)
		k.mu.Lock()
		if err == nil && st != k.stamp {
			_ = k.reloadLocked()
		}
		k.mu.Unlock()
	}
}
