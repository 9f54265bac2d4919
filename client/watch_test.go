package client_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/client"
	trucehttp "github.com/trucedb/truce/http"
	"github.com/trucedb/truce/pebble"
)

// mustServeService is mustServe that also returns the service, for tests
// that trim the change log, and a second server of the same handler, whose
// connections the tests drop.
func mustServeService(tb testing.TB) (*httptest.Server, *truce.Service, *httptest.Server) {
	tb.Helper()
	store, err := pebble.Open(tb.TempDir(), pebble.Options{})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	svc := truce.NewService(store, truce.Options{})
	h := trucehttp.NewHandler(svc, trucehttp.Options{})
	srv, flaky := httptest.NewServer(h), httptest.NewServer(h)
	tb.Cleanup(func() {
		srv.Close()
		flaky.Close()
		store.Close()
	})
	return srv, svc, flaky
}

// TestWatchResumesExactlyOnce: the server drops every connection again and
// again while writers commit; the watch reconnects by itself and yields
// every event once, in order.
func TestWatchResumesExactlyOnce(t *testing.T) {
	srv, _, flaky := mustServeService(t)
	c := mustClient(t, srv.URL)
	w := mustClient(t, flaky.URL, client.WithRetry(client.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}))
	ctx, cancel := context.WithTimeout(testCtx(t), 30*time.Second)
	defer cancel()
	const writers, each = 4, 30
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := c.Put(ctx, "c", fmt.Sprintf("w%d-%d", w, i%4), map[string]any{"i": i}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	stopDropping := make(chan struct{})
	go func() {
		for {
			select {
			case <-stopDropping:
				return
			case <-time.After(15 * time.Millisecond):
				flaky.CloseClientConnections()
			}
		}
	}()
	var got []int64
	for e, err := range w.Watch(ctx, client.WatchFilter{FromStart: true, Collection: "c"}) {
		if err != nil {
			t.Fatalf("after %d events: %v", len(got), err)
		}
		if e.Collection != "c" || len(e.Document) == 0 || e.ETag == "" || e.Time.IsZero() {
			t.Fatalf("event: %+v", e)
		}
		got = append(got, e.Seq)
		if len(got) == writers*each {
			break
		}
	}
	close(stopDropping)
	wg.Wait()
	for i, seq := range got {
		if seq != int64(i+1) {
			t.Fatalf("event %d has seq %d: lost or repeated", i, seq)
		}
	}
}

// TestWatchFromNowIsExact: a watch from now that loses its connection before
// any event resumes from the position the server gave when it connected.
func TestWatchFromNowIsExact(t *testing.T) {
	srv, _, flaky := mustServeService(t)
	c := mustClient(t, srv.URL)
	w := mustClient(t, flaky.URL, client.WithRetry(client.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}))
	ctx := testCtx(t)
	if _, err := c.Put(ctx, "c", "before", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	first := make(chan *client.Event)
	go func() {
		for e, err := range w.Watch(ctx, client.WatchFilter{NoDocument: true}) {
			if err == nil {
				first <- e
			}
			return
		}
	}()
	time.Sleep(200 * time.Millisecond) // connected by now, at seq 1
	flaky.CloseClientConnections()
	if _, err := c.Put(ctx, "c", "after", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-first:
		if e.ID != "after" || e.Seq != 2 || e.Document != nil {
			t.Fatalf("first event: %+v", e)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no event")
	}
}

func TestWatchEventsExpired(t *testing.T) {
	srv, svc, _ := mustServeService(t)
	c := mustClient(t, srv.URL)
	ctx := testCtx(t)
	for i := range 5 {
		if _, err := c.Put(ctx, "c", fmt.Sprint("d", i), map[string]any{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.TrimEvents(ctx, truce.EventRetention{MaxCount: 2}); err != nil {
		t.Fatal(err)
	}
	for _, err := range c.Watch(ctx, client.WatchFilter{Since: 1}) {
		if !client.IsEventsExpired(err) {
			t.Fatalf("Watch from a trimmed seq: %v, want events_expired", err)
		}
		break
	}
}

// TestChangesParity: paging with Changes gives the events Watch gives, and
// a long poll returns the event that comes while it waits.
func TestChangesParity(t *testing.T) {
	srv, _, _ := mustServeService(t)
	c := mustClient(t, srv.URL)
	ctx := testCtx(t)
	for i := range 12 {
		if _, err := c.Put(ctx, fmt.Sprint("c", i%2), fmt.Sprint("d", i%5), map[string]any{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	var watched []string
	for e, err := range c.Watch(ctx, client.WatchFilter{FromStart: true, Collection: "c1"}) {
		if err != nil {
			t.Fatal(err)
		}
		watched = append(watched, string(e.Raw))
		if len(watched) == 6 {
			break
		}
	}
	var paged []string
	f := client.WatchFilter{Collection: "c1"}
	for {
		page, err := c.Changes(ctx, f, 4, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Items {
			paged = append(paged, string(e.Raw))
		}
		if len(page.Items) == 0 {
			break
		}
		f.Since = page.Last
	}
	if fmt.Sprint(paged) != fmt.Sprint(watched) {
		t.Fatalf("Changes gave\n%v\nWatch gave\n%v", paged, watched)
	}
	got := make(chan *client.ChangesPage, 1)
	go func() {
		page, err := c.Changes(ctx, client.WatchFilter{Since: 12}, 0, 30*time.Second)
		if err != nil {
			t.Error(err)
		}
		got <- page
	}()
	time.Sleep(100 * time.Millisecond)
	if _, err := c.Put(ctx, "c0", "late", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	if page := <-got; page == nil || len(page.Items) != 1 || page.Items[0].ID != "late" || page.Last != 13 {
		t.Fatalf("long poll: %+v", page)
	}
}
