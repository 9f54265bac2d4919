package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trucedb/truce/client"
)

func TestUpdate(t *testing.T) {
	c := mustClient(t, mustServe(t))
	ctx := testCtx(t)
	if _, err := c.Put(ctx, "counters", "c", counter{N: 41}); err != nil {
		t.Fatal(err)
	}
	d, err := c.Update(ctx, "counters", "c", increment)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	var got counter
	if err := d.Decode(&got); err != nil || got.N != 42 || d.Version != 2 || d.ETag == "" {
		t.Errorf("Update = %+v (n=%d), %v", d, got.N, err)
	}
}

// writeBeforePuts returns a fault that, before each of the next n PUTs
// reaches the server, lets another writer change the document with
// change, so that the PUT's If-Match is stale.
func writeBeforePuts(t *testing.T, other *client.Client, n int, change func(ctx context.Context) error) fault {
	var left atomic.Int32
	left.Store(int32(n))
	return func(req *http.Request) (*http.Response, error) {
		if req.Method == http.MethodPut && left.Add(-1) >= 0 {
			if err := change(req.Context()); err != nil {
				t.Errorf("the other writer: %v", err)
			}
		}
		return nil, nil
	}
}

// faultsForever returns a script of n copies of f.
func faultsForever(f fault, n int) []fault {
	s := make([]fault, n)
	for i := range s {
		s[i] = f
	}
	return s
}

// On a 412, Update re-applies fn to the current document from the
// problem: no second GET, and no update lost.
func TestUpdateReappliesToCurrent(t *testing.T) {
	url := mustServe(t)
	other := mustClient(t, url)
	ctx := testCtx(t)
	if _, err := other.Put(ctx, "counters", "c", counter{N: 0}); err != nil {
		t.Fatal(err)
	}
	bump := func(ctx context.Context) error {
		_, err := other.Patch(ctx, "counters", "c", client.MergePatch(map[string]any{"other": true, "n": 100}))
		return err
	}
	c, ft := newFaults(t, url, faultsForever(writeBeforePuts(t, other, 1, bump), 10))

	var seen []string
	d, err := c.Update(ctx, "counters", "c", func(d *client.Doc) error {
		seen = append(seen, string(d.Raw))
		return increment(d)
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	var methods []string
	for _, a := range ft.log() {
		methods = append(methods, a.Method)
	}
	if fmt.Sprint(methods) != "[GET PUT PUT]" {
		t.Errorf("requests %v, want [GET PUT PUT]", methods)
	}
	if len(seen) != 2 {
		t.Fatalf("fn ran %d times, want 2", len(seen))
	}
	var got struct {
		N     int  `json:"n"`
		Other bool `json:"other"`
	}
	if err := d.Decode(&got); err != nil || got.N != 101 || !got.Other || d.Version != 3 {
		t.Errorf("Update = %s, want n 101 with the other writer's field, version 3", d.Raw)
	}
	// The second PUT carries the ETag that the 412 gave.
	log := ft.log()
	if log[1].Header.Get("If-Match") == log[2].Header.Get("If-Match") {
		t.Errorf("both PUTs sent If-Match %s", log[1].Header.Get("If-Match"))
	}
	if log[1].Header.Get("Idempotency-Key") == log[2].Header.Get("Idempotency-Key") {
		t.Error("two writes of Update share an Idempotency-Key")
	}
}

func TestUpdateFnError(t *testing.T) {
	c, ft := newFaults(t, mustServe(t), nil)
	ctx := testCtx(t)
	if _, err := c.Put(ctx, "counters", "c", counter{}); err != nil {
		t.Fatal(err)
	}
	ft.reset()
	errStop := errors.New("stop")
	_, err := c.Update(ctx, "counters", "c", func(*client.Doc) error { return errStop })
	if err != errStop {
		t.Errorf("Update = %v, want fn's error itself", err)
	}
	if log := ft.log(); len(log) != 1 || log[0].Method != "GET" {
		t.Errorf("requests %v, want the GET alone", log)
	}
	// A document fn breaks is refused by the server, not retried.
	_, err = c.Update(ctx, "counters", "c", func(d *client.Doc) error { d.Raw = []byte(`{"_bad":1}`); return nil })
	if client.Code(err) != client.CodeReservedField {
		t.Errorf("Update with a reserved field = %v", err)
	}
	if _, err := c.Update(ctx, "counters", "c", nil); err == nil {
		t.Error("Update(nil fn) succeeded")
	}
}

func TestUpdateMissing(t *testing.T) {
	c := mustClient(t, mustServe(t))
	ctx := testCtx(t)
	if _, err := c.Update(ctx, "counters", "nosuch", increment); !client.IsNotFound(err) {
		t.Errorf("Update(missing) = %v, want not found", err)
	}
	d, err := c.Update(ctx, "counters", "new", increment, client.CreateIfMissing())
	if err != nil || d.Version != 1 || string(d.Raw) == "" {
		t.Fatalf("Update(CreateIfMissing) = %+v, %v", d, err)
	}
	var got counter
	if err := d.Decode(&got); err != nil || got.N != 1 {
		t.Errorf("created %s", d.Raw)
	}
}

// Many writers that create the same document race on If-None-Match: *;
// the losers re-apply to the winner's document.
func TestUpdateCreateIfMissingConcurrent(t *testing.T) {
	c := mustClient(t, mustServe(t))
	ctx := testCtx(t)
	const writers, each = 8, 5
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				if _, err := c.Update(ctx, "counters", "c", increment, client.CreateIfMissing()); err != nil {
					t.Errorf("Update: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	d, err := c.Get(ctx, "counters", "c")
	if err != nil {
		t.Fatal(err)
	}
	var got counter
	if err := d.Decode(&got); err != nil || got.N != writers*each || d.Version != writers*each {
		t.Errorf("counter %s, want n %d at version %d", d.Raw, writers*each, writers*each)
	}
}

func TestUpdateGivesUp(t *testing.T) {
	url := mustServe(t)
	other := mustClient(t, url)
	ctx := testCtx(t)
	if _, err := other.Put(ctx, "counters", "c", counter{}); err != nil {
		t.Fatal(err)
	}
	bump := func(ctx context.Context) error { _, err := other.Update(ctx, "counters", "c", increment); return err }
	c, ft := newFaults(t, url, faultsForever(writeBeforePuts(t, other, 100, bump), 100))
	waits := recordSleeps(c)
	calls := 0
	_, err := c.Update(ctx, "counters", "c", func(d *client.Doc) error { calls++; return increment(d) }, client.ConflictRetries(3))
	if !client.IsConflict(err) || !client.IsPreconditionFailed(err) {
		t.Fatalf("Update = %v, want the last conflict", err)
	}
	puts := 0
	for _, a := range ft.log() {
		if a.Method == "PUT" {
			puts++
		}
	}
	if calls != 4 || puts != 4 {
		t.Errorf("fn ran %d times and %d PUTs went out, want 4 (1 + 3 retries)", calls, puts)
	}
	// No wait after the first conflicts, then a growing one.
	if len(*waits) != 2 || (*waits)[0] != 5*time.Millisecond || (*waits)[1] != 10*time.Millisecond {
		t.Errorf("waits %v, want [5ms 10ms]", *waits)
	}
}

// A document deleted between the read and the write: the 412 carries no
// current state, so Update reads again, and finds it gone.
func TestUpdateDeletedMeanwhile(t *testing.T) {
	url := mustServe(t)
	other := mustClient(t, url)
	ctx := testCtx(t)
	if _, err := other.Put(ctx, "counters", "c", counter{N: 5}); err != nil {
		t.Fatal(err)
	}
	del := func(ctx context.Context) error { return other.Delete(ctx, "counters", "c") }
	c, _ := newFaults(t, url, faultsForever(writeBeforePuts(t, other, 1, del), 10))
	if _, err := c.Update(ctx, "counters", "c", increment); !client.IsNotFound(err) {
		t.Errorf("Update = %v, want not found", err)
	}

	// With CreateIfMissing it creates the document again.
	if _, err := other.Put(ctx, "counters", "c", counter{N: 5}); err != nil { // version 3
		t.Fatal(err)
	}
	c, _ = newFaults(t, url, faultsForever(writeBeforePuts(t, other, 1, del), 10)) // deletes: version 4
	d, err := c.Update(ctx, "counters", "c", increment, client.CreateIfMissing())
	if err != nil {
		t.Fatalf("Update(CreateIfMissing) = %v", err)
	}
	var got counter
	if err := d.Decode(&got); err != nil || got.N != 1 || d.Version != 5 {
		t.Errorf("re-created %s at version %d, want n 1 at version 5", d.Raw, d.Version)
	}
}

// The concurrency claim: many goroutines increment one counter with
// Update, through one shared Client, and no increment is lost.
func TestUpdateConcurrent(t *testing.T) {
	c := mustClient(t, mustServe(t))
	ctx := testCtx(t)
	const goroutines, increments = 16, 20
	if _, err := c.Put(ctx, "counters", "hits", counter{}); err != nil {
		t.Fatal(err)
	}
	var fnCalls atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range increments {
				_, err := c.Update(ctx, "counters", "hits", func(d *client.Doc) error {
					fnCalls.Add(1)
					return increment(d)
				})
				if err != nil {
					t.Errorf("Update: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	d, err := c.Get(ctx, "counters", "hits")
	if err != nil {
		t.Fatal(err)
	}
	var got counter
	if err := d.Decode(&got); err != nil {
		t.Fatal(err)
	}
	const total = goroutines * increments
	if got.N != total || d.Version != total+1 {
		t.Errorf("counter n=%d at version %d, want n=%d at version %d", got.N, d.Version, total, total+1)
	}
	// Every version is in the history, each one more than the last.
	want := int64(total + 1)
	for v, err := range c.Versions(ctx, "counters", "hits", client.PageSize(1000)) {
		if err != nil {
			t.Fatal(err)
		}
		if v.Version != want {
			t.Fatalf("history has version %d where %d was expected", v.Version, want)
		}
		want--
	}
	if want != 0 {
		t.Errorf("history stops before version %d", want+1)
	}
	t.Logf("%d×%d Updates in %v: fn ran %d times (%d conflicts)", goroutines, increments,
		elapsed.Round(time.Millisecond), fnCalls.Load(), fnCalls.Load()-total)
}
