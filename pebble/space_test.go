package pebble

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/trucedb/truce"
)

// TestFailedWALNeverAcknowledged: when a write or fsync of the WAL fails
// (injected with Pebble's errorfs), the write that needed it is not
// acknowledged; the store refuses every later write (Pebble's log cannot
// recover), even once the fault is gone; reads of what was synced go on,
// a read of what was not fails at once instead of waiting for ever; Ping
// says why; and after a reopen everything acknowledged is there and the
// refused write is not.
func TestFailedWALNeverAcknowledged(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind errorfs.OpKind
		err  error
		code truce.Code
	}{
		{"fsync EIO", errorfs.OpFileSyncData, syscall.EIO, truce.CodeUnavailable},
		{"fsync ENOSPC", errorfs.OpFileSyncData, syscall.ENOSPC, truce.CodeInsufficientStorage},
		{"write ENOSPC", errorfs.OpFileWrite, syscall.ENOSPC, truce.CodeInsufficientStorage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tog errorfs.Toggle
			var injected atomic.Int32
			tog.Injector = errorfs.InjectorFunc(func(op errorfs.Op) error {
				sync := op.Kind == errorfs.OpFileSync || op.Kind == errorfs.OpFileSyncData || op.Kind == errorfs.OpFileSyncTo
				if strings.HasSuffix(op.Path, ".log") && (op.Kind == tc.kind || tc.kind == errorfs.OpFileSyncData && sync) {
					injected.Add(1)
					return fmt.Errorf("injected: %w", tc.err)
				}
				return nil
			})
			dir := t.TempDir()
			s, err := open(dir, Options{}, errorfs.Wrap(vfs.Default, &tog))
			if err != nil {
				t.Fatal(err)
			}
			svc := truce.NewService(s, truce.Options{})
			ctx := t.Context()
			put := func(id string) error {
				_, err := svc.Put(ctx, "c", id, []byte(`{"n":1}`), truce.Precondition{}, nil)
				return err
			}
			if err := put("acked"); err != nil {
				t.Fatal(err)
			}
			tog.On()
			err = put("failed")
			if truce.ErrorCode(err) != tc.code || injected.Load() == 0 {
				t.Fatalf("the write whose %s failed: %v (code %s, want %s; %d injected)", tc.name, err, truce.ErrorCode(err), tc.code, injected.Load())
			}
			tog.Off()
			if err := put("after"); truce.ErrorCode(err) != tc.code {
				t.Fatalf("a write after the failure, with the fault gone: %v, want %s", err, tc.code)
			}
			if err := s.Ping(ctx); truce.ErrorCode(err) != tc.code {
				t.Fatalf("Ping after the failure: %v, want %s", err, tc.code)
			}
			if d, err := svc.Get(ctx, "c", "acked"); err != nil || d.Version != 1 {
				t.Fatalf("reading the acknowledged write: %v %v", d, err)
			}
			// Without the failed state this read would wait, for ever, for
			// an fsync that will not come.
			rctx, cancel := context.WithTimeout(ctx, time.Minute)
			_, err = svc.Get(rctx, "c", "failed")
			cancel()
			if errors.Is(err, context.DeadlineExceeded) || truce.ErrorCode(err) != tc.code {
				t.Fatalf("reading the unacknowledged write: %v, want %s", err, tc.code)
			}
			_ = s.Close() // Pebble reports the WAL's error again

			s, err = open(dir, Options{}, nil)
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer s.Close()
			svc = truce.NewService(s, truce.Options{})
			if d, err := svc.Get(ctx, "c", "acked"); err != nil || d.Version != 1 {
				t.Fatalf("after reopen, the acknowledged write: %v %v", d, err)
			}
			if _, err := svc.Get(ctx, "c", "after"); truce.ErrorCode(err) != truce.CodeNotFound {
				t.Fatalf("after reopen, a write refused before it was applied: %v", err)
			}
			if err := put("resumed"); err != nil {
				t.Fatalf("a write after reopen: %v", err)
			}
		})
	}
}

// usageFS reports the free space a test sets.
type usageFS struct {
	vfs.FS
	avail atomic.Uint64
}

func (fs *usageFS) GetDiskUsage(path string) (vfs.DiskUsage, error) {
	u, err := fs.FS.GetDiskUsage(path)
	u.AvailBytes = fs.avail.Load()
	return u, err
}

// TestReserve: while the disk has less free space than the reserve,
// writes are refused with insufficient_storage and apply nothing, reads go
// on and Ping says why; once space is freed, writes resume.
func TestReserve(t *testing.T) {
	fs := &usageFS{FS: vfs.Default}
	fs.avail.Store(1 << 40)
	s, err := open(t.TempDir(), Options{ReserveBytes: 64 << 20}, fs)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	svc := truce.NewService(s, truce.Options{})
	ctx := t.Context()
	put := func(id string) error {
		_, err := svc.Put(ctx, "c", id, []byte(`{"n":1}`), truce.Precondition{}, nil)
		return err
	}
	if err := put("a"); err != nil {
		t.Fatal(err)
	}
	fs.avail.Store(10 << 20)
	var err2 error
	for err2 == nil { // the free space is asked at most every spaceCheckEvery
		if err2 = put("b"); err2 == nil {
			time.Sleep(spaceCheckEvery / 4)
		}
	}
	var te *truce.Error
	if !errors.As(err2, &te) || te.Code != truce.CodeInsufficientStorage || te.RetryAfter <= 0 || !strings.Contains(te.Detail, "10 MiB free") {
		t.Fatalf("a write on a nearly full disk: %#v", err2)
	}
	if err := s.Ping(ctx); truce.ErrorCode(err) != truce.CodeInsufficientStorage {
		t.Fatalf("Ping on a nearly full disk: %v", err)
	}
	if _, err := svc.Get(ctx, "c", "a"); err != nil {
		t.Fatalf("a read on a nearly full disk: %v", err)
	}
	fs.avail.Store(1 << 30)
	for err2 != nil {
		if err2 = put("c"); truce.ErrorCode(err2) != truce.CodeInsufficientStorage && err2 != nil {
			t.Fatal(err2)
		}
		time.Sleep(spaceCheckEvery / 4)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping once space is freed: %v", err)
	}
}
