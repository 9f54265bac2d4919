package truce_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/pebble"
)

// TestRun: one Run does all the upkeep a server needs, with nothing else
// started: a lock nobody touches again gets its lock.expired, expired
// idempotency answers and transactions are deleted, and the change log is
// trimmed to the retention. Run returns once ctx ends.
func TestRun(t *testing.T) {
	defer truce.SetTransactionSweepInterval(20 * time.Millisecond)()
	store, err := pebble.Open(t.TempDir(), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	svc := truce.NewService(store, truce.Options{
		IdempotencyTTL: 50 * time.Millisecond,
		// An age makes Run trim often; the count trims all but the last.
		EventRetention: truce.EventRetention{MaxAge: 400 * time.Millisecond, MaxCount: 1},
	})
	ctx := context.Background()
	past := time.Now().Add(-time.Minute)
	err = store.Update(ctx, func(tx truce.Tx) error {
		if err := tx.PutIdempotency(&truce.IdempotencyRecord{
			IdempotencyKey: truce.IdempotencyKey{Caller: "ann", Key: "k1"}, CreatedAt: past, ExpiresAt: past,
		}); err != nil {
			return err
		}
		return tx.PutTransaction(&truce.Transaction{ID: "t1", CreatedAt: past, ExpiresAt: past})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b", "c"} {
		if _, err := svc.Put(ctx, "notes", id, []byte(`{}`), truce.Precondition{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	mustLock(t, svc, truce.LockRequest{Collection: "notes", ID: "a", Owner: "ann", TTL: 100 * time.Millisecond})

	waitFor(t, func() bool {
		var swept, expired, trimmed bool
		err := store.View(ctx, func(tx truce.ReadTx) error {
			_, err := tx.Idempotency("ann", "k1")
			_, err2 := tx.Transaction("t1")
			swept = errors.Is(err, truce.ErrNoRecord) && errors.Is(err2, truce.ErrNoRecord)
			// The expirer removes the lock's record with its lock.expired
			// (TestLockExpirer checks the event).
			_, err = tx.Lock("notes", "a")
			expired = errors.Is(err, truce.ErrNoRecord)
			last, err := tx.LastSeq()
			if err != nil {
				return err
			}
			through, err := tx.EventsTrimmed()
			trimmed = through >= last-1
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return swept && expired && trimmed
	})
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil once ctx ends", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

// failingStore fails every transaction, as a store whose disk has gone
// would.
type failingStore struct{ truce.Store }

func (failingStore) Update(context.Context, func(truce.Tx) error) error {
	return errors.New("disk on fire")
}

func (failingStore) View(context.Context, func(truce.ReadTx) error) error {
	return errors.New("disk on fire")
}

// syncBuffer is a bytes.Buffer that a logger and a test may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestRunLogsFailures: Run keeps going when the store fails, and says so
// in Options.Logger for each kind of work, instead of dropping the error.
func TestRunLogsFailures(t *testing.T) {
	_, store := mustService(t)
	var logged syncBuffer
	svc := truce.NewService(failingStore{store}, truce.Options{
		Logger:         slog.New(slog.NewTextHandler(&logged, nil)),
		EventRetention: truce.EventRetention{MaxCount: 10},
	})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	for _, work := range []string{"expire locks", "sweep idempotency answers", "sweep expired transactions", "trim the change log"} {
		waitFor(t, func() bool {
			return strings.Contains(logged.String(), `work="`+work+`" err="disk on fire"`)
		})
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
}
