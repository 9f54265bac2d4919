package truce_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/trucedb/truce"
)

// counter decodes {"n": …}.
func counter(tb testing.TB, d *truce.Document) int {
	tb.Helper()
	var c struct{ N int }
	if err := json.Unmarshal(d.Body, &c); err != nil {
		tb.Fatal(err)
	}
	return c.N
}

// TestConcurrentIfMatchLosesNoUpdate: 16 clients each add 1 to a counter
// 25 times by reading it and writing with If-Match, retrying on
// precondition_failed. Every increment lands exactly once, and the
// versions are contiguous.
func TestConcurrentIfMatchLosesNoUpdate(t *testing.T) {
	const clients, each = 16, 25
	svc, _ := mustService(t)
	ctx := t.Context()
	mustPut(t, svc, "counters", "c", `{"n":0}`)
	var wg sync.WaitGroup
	var retries atomic.Int64
	for range clients {
		wg.Go(func() {
			for range each {
				for {
					d, err := svc.Get(ctx, "counters", "c")
					if err != nil {
						t.Error(err)
						return
					}
					var c struct{ N int }
					if err := json.Unmarshal(d.Body, &c); err != nil {
						t.Error(err)
						return
					}
					_, err = svc.Put(ctx, "counters", "c", fmt.Appendf(nil, `{"n":%d}`, c.N+1), ifMatch(d.ETag()), nil)
					if err == nil {
						break
					}
					if truce.ErrorCode(err) != truce.CodePreconditionFailed {
						t.Error(err)
						return
					}
					retries.Add(1)
				}
			}
		})
	}
	wg.Wait()
	final, err := svc.Get(ctx, "counters", "c")
	if err != nil || counter(t, final) != clients*each || final.Version != clients*each+1 {
		t.Fatalf("final %v %+v, want n=%d at version %d", err, final, clients*each, clients*each+1)
	}
	p, err := svc.ListVersions(ctx, "counters", "c", 0, 1000)
	if err != nil || len(p.Items) != clients*each+1 {
		t.Fatalf("history: %v, %d versions", err, len(p.Items))
	}
	for i, d := range p.Items {
		if d.Version != int64(clients*each+1-i) || counter(t, d) != clients*each-i {
			t.Fatalf("history has a gap at %d: version %d %s", i, d.Version, d.Body)
		}
	}
	t.Logf("%d retries after precondition_failed", retries.Load())
}

// TestConcurrentBodyVersionLosesNoUpdate is the same with the body
// version: a stale one is version_conflict carrying the current document,
// from which the client retries without another read.
func TestConcurrentBodyVersionLosesNoUpdate(t *testing.T) {
	const clients, each = 16, 10
	svc, _ := mustService(t)
	ctx := t.Context()
	mustPut(t, svc, "counters", "c", `{"n":0}`)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for range each {
				d, err := svc.Get(ctx, "counters", "c")
				for err == nil {
					var c struct{ N int }
					if err = json.Unmarshal(d.Body, &c); err != nil {
						break
					}
					_, err = svc.Put(ctx, "counters", "c", fmt.Appendf(nil, `{"n":%d,"_version":%d}`, c.N+1, d.Version), none, nil)
					if err == nil {
						break
					}
					var te *truce.Error
					if !errors.As(err, &te) || te.Code != truce.CodeVersionConflict || te.Current == nil {
						break
					}
					d, err = te.Current, nil // recover without a read
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	final, err := svc.Get(ctx, "counters", "c")
	if err != nil || counter(t, final) != clients*each || final.Version != clients*each+1 {
		t.Fatalf("final %v %+v, want n=%d", err, final, clients*each)
	}
}

// TestRacingCreates: 20 clients create the same id at once, with a create
// or with If-None-Match: *; exactly one wins, the others are refused.
func TestRacingCreates(t *testing.T) {
	for _, tc := range []struct {
		mode  string
		write func(i int) write
		lose  truce.Code
	}{
		{"create", func(i int) write { return create("race", fmt.Sprintf(`{"_id":"one","by":%d}`, i)) }, truce.CodeAlreadyExists},
		{"put if-none-match", func(i int) write { return put("race", "one", fmt.Sprintf(`{"by":%d}`, i), ifNoneMatch("*")) }, truce.CodePreconditionFailed},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			svc, _ := mustService(t)
			const n = 20
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { _, errs[i] = tc.write(i)(t.Context(), svc) })
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				switch truce.ErrorCode(err) {
				case "":
					won++
				case tc.lose:
				default:
					t.Errorf("a racing create: %v", err)
				}
			}
			d, err := svc.Get(t.Context(), "race", "one")
			if won != 1 || err != nil || d.Version != 1 {
				t.Fatalf("%d creates won; the document: %v %+v", won, err, d)
			}
		})
	}
}

// TestRacingUniqueValues: 20 clients create different documents with the
// same unique value at once; exactly one wins, and the index stays exact.
func TestRacingUniqueValues(t *testing.T) {
	svc, _ := mustService(t)
	ctx := t.Context()
	mustSettings(t, svc, "users", truce.Settings{Unique: []string{"email"}})
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = svc.Put(ctx, "users", fmt.Sprint("u", i), []byte(`{"email":"same@x"}`), none, nil)
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch truce.ErrorCode(err) {
		case "":
			if winner >= 0 {
				t.Fatalf("u%d and u%d both hold the value", winner, i)
			}
			winner = i
		case truce.CodeUniqueViolation:
		default:
			t.Fatalf("a racing write: %v", err)
		}
	}
	info, err := svc.GetCollection(ctx, "users")
	if winner < 0 || err != nil || info.Stats.Documents != 1 {
		t.Fatalf("winner u%d; collection %v %+v", winner, err, info)
	}
	// The index names the winner: freeing the value lets another take it.
	if _, err := svc.Put(ctx, "users", "late", []byte(`{"email":"same@x"}`), none, nil); !codeIs(t, "a late taker", err, truce.CodeUniqueViolation) {
		return
	}
	mustDelete(t, svc, "users", fmt.Sprint("u", winner))
	mustPut(t, svc, "users", "late", `{"email":"same@x"}`)
}
