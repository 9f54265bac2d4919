package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/trucedb/truce/client"
	trucehttp "github.com/trucedb/truce/http"
)

// TestWithHTTP2 runs concurrent Updates and a Watch over h2c against the
// server as truce serve runs it (trucehttp.NewServer): every request is
// HTTP/2, no update is lost, and the feed's events arrive as they are
// written, over a stream of the shared connection.
func TestWithHTTP2(t *testing.T) {
	var requests, http1 atomic.Int64
	h := mustHandler(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.ProtoMajor != 2 {
			http1.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	srv.Config = trucehttp.NewServer(srv.Config.Handler)
	srv.Start()
	t.Cleanup(srv.Close)
	c := mustClient(t, srv.URL, client.WithHTTP2())
	ctx := testCtx(t)

	const writers, each = 8, 10
	events := make(chan *client.Event, writers*each+1)
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go func() {
		for ev, err := range c.Watch(watchCtx, client.WatchFilter{Collection: "counters", FromStart: true}) {
			if err != nil {
				return
			}
			events <- ev
		}
	}()

	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				_, err := c.Update(ctx, "counters", "c", func(d *client.Doc) error {
					var v struct{ N int }
					if err := d.Decode(&v); err != nil {
						return err
					}
					v.N++
					return d.Set(v)
				}, client.CreateIfMissing())
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	d, err := c.Get(ctx, "counters", "c")
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ N int }
	if err := d.Decode(&v); err != nil || v.N != writers*each {
		t.Fatalf("counter is %+v (%v), want n = %d", v, err, writers*each)
	}
	for n := 0; n < writers*each; {
		ev := <-events
		if ev.Type == "document.created" || ev.Type == "document.updated" {
			n++
		}
	}
	if requests.Load() == 0 || http1.Load() != 0 {
		t.Fatalf("%d of %d requests came over HTTP/1", http1.Load(), requests.Load())
	}
}

// TestWithHTTP2RefusesHTTPClient: WithHTTP2 sets the default transport's
// protocols, which a caller's own http.Client would silently ignore.
func TestWithHTTP2RefusesHTTPClient(t *testing.T) {
	if _, err := client.New("http://127.0.0.1:1", client.WithHTTP2(), client.WithHTTPClient(http.DefaultClient)); err == nil {
		t.Fatal("New accepted WithHTTP2 with WithHTTPClient")
	}
}
