package http_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trucedb/truce"
	trucehttp "github.com/trucedb/truce/http"
	"github.com/trucedb/truce/pebble"
)

// mustServeChecked starts a real server as truce serve builds it
// (NewServer), with opts, every answer checked against the OpenAPI
// document, and tune applied to the http.Server before it serves.
func mustServeChecked(tb testing.TB, opts trucehttp.Options, tune func(*http.Server)) (*client, *truce.Service) {
	tb.Helper()
	store, err := pebble.Open(tb.TempDir(), pebble.Options{})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	svc := truce.NewService(store, truce.Options{})
	h := trucehttp.NewHandler(svc, opts)
	srv := trucehttp.NewServer(checked(tb, h))
	srv.RegisterOnShutdown(h.CloseStreams)
	if tune != nil {
		tune(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go srv.Serve(ln)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
		}
		h.CloseStreams()
		if err := store.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	return &client{tb: tb, base: "http://" + ln.Addr().String(), hc: &http.Client{}}, svc
}

// TestMaxInflight: with --max-inflight 3 and ten concurrent requests that
// stay in the handler (lock requests waiting behind a holder), exactly
// three are admitted and seven are shed at once with 503 overloaded and
// Retry-After, while the probes, /metrics and the event stream still
// answer. Once the three end, requests are admitted again.
func TestMaxInflight(t *testing.T) {
	const limit, clients = 3, 10
	c, svc := mustServeChecked(t, trucehttp.Options{MaxInflight: limit, Metrics: trucehttp.NewMetrics(trucehttp.MetricsOptions{})}, nil)
	c.do("PUT", "/v1/collections/notes/docs/d", `{"a":1}`).want(t, 201, "")
	holder, err := svc.Lock(t.Context(), truce.LockRequest{Collection: "notes", ID: "d", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		r   *response
		err error
	}
	results := make(chan result, clients)
	for i := range clients {
		go func() {
			r, err := rawDo(c, "POST", "/v1/collections/notes/docs/d/lock",
				map[string]any{"ttl": "1m", "wait": "1m", "owner": fmt.Sprint("w", i)})
			results <- result{r, err}
		}()
	}
	// The admitted wait behind the holder; the shed answer now.
	for range clients - limit {
		res := <-results
		if res.err != nil {
			t.Fatal(res.err)
		}
		res.r.want(t, http.StatusServiceUnavailable, "overloaded")
		if res.r.Header.Get("Retry-After") == "" {
			t.Fatalf("503 overloaded without Retry-After: %v", res.r.Header)
		}
		if p := res.r.JSON(t); p["retryable"] != true {
			t.Fatalf("overloaded is not retryable: %s", res.r.Body)
		}
	}
	for svc.LockWaiters("notes", "d") < limit {
		time.Sleep(5 * time.Millisecond)
	}
	// Full: an ordinary request is shed too; the exempt ones are served.
	c.do("GET", "/v1/collections/notes/docs/d", nil).want(t, http.StatusServiceUnavailable, "overloaded")
	c.do("GET", "/healthz", nil).want(t, 200, "")
	c.do("GET", "/readyz", nil).want(t, 200, "")
	c.do("GET", "/problems/overloaded", nil).want(t, 200, "")
	if r := c.do("GET", "/metrics", nil).want(t, 200, ""); !strings.Contains(string(r.Body), "truce_overloaded_total 8") {
		t.Fatalf("/metrics does not count the shed requests:\n%s", r.Body)
	}
	if r := c.do("GET", "/metrics", nil); !strings.Contains(string(r.Body), "truce_inflight_limit 3") {
		t.Fatalf("/metrics does not show the limit of 3:\n%s", r.Body)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", c.base+"/v1/events", nil)
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET /v1/events at the cap: %d", resp.StatusCode)
	}
	cancel()
	resp.Body.Close()

	// Each admitted waiter gets the lock in turn as the one before lets go.
	if err := svc.Unlock(t.Context(), "notes", "d", holder.Token); err != nil {
		t.Fatal(err)
	}
	for range limit {
		res := <-results
		if res.err != nil {
			t.Fatal(res.err)
		}
		res.r.want(t, http.StatusCreated, "")
		if err := svc.Unlock(t.Context(), "notes", "d", res.r.Header.Get("Lock-Token")); err != nil {
			t.Fatal(err)
		}
	}
	// The places are free again.
	c.do("GET", "/v1/collections/notes/docs/d", nil).want(t, 200, "")
}
