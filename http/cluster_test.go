package http_test

import (
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/trucedb/truce"
	trucehttp "github.com/trucedb/truce/http"
	"github.com/trucedb/truce/pebble"
)

// sharedStore is a Pebble store that says it is shared (truce.SharedStore),
// so that two handlers over it behave as two truce nodes over PostgreSQL.
type sharedStore struct{ *pebble.Store }

func (sharedStore) Shared() bool { return true }

// mustServeNodes starts n servers, each with its own Service, over one
// shared store.
func mustServeNodes(tb testing.TB, n int) []*client {
	tb.Helper()
	ps, err := pebble.Open(tb.TempDir(), pebble.Options{})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() {
		if err := ps.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	var cs []*client
	for range n {
		svc := truce.NewService(sharedStore{ps}, truce.Options{})
		srv := httptest.NewServer(trucehttp.NewHandler(svc, trucehttp.Options{}))
		tb.Cleanup(srv.Close)
		cs = append(cs, &client{tb: tb, base: srv.URL, hc: srv.Client()})
	}
	return cs
}

// TestIdempotencyAcrossNodes: copies of one request with one key, sent at
// once to two nodes, run once: each answer is the one creation (201) or
// in use (409 with Retry-After); a retry on either node replays the
// creation; a lock request, whose answer is stored after it, also runs
// once.
func TestIdempotencyAcrossNodes(t *testing.T) {
	nodes := mustServeNodes(t, 2)
	for _, tc := range []struct {
		path, body string
		want       int
	}{
		{"/v1/collections/pay/docs", `{"amount":5}`, 201},
		{"/v1/collections/pay/docs/x/lock", `{"ttl":"1m"}`, 201},
	} {
		const n = 20
		var wg sync.WaitGroup
		rs := make([]*response, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rs[i] = nodes[i%2].do("POST", tc.path, tc.body, "Idempotency-Key: "+tc.path)
			}()
		}
		wg.Wait()
		var ran *response
		for _, r := range rs {
			switch {
			case r.Status == 409 && r.Header.Get("Retry-After") != "":
			case r.Status == 409:
				t.Fatalf("%s: 409 without Retry-After: %s", tc.path, r.Body)
			case ran != nil && string(r.Body) != string(ran.Body):
				t.Fatalf("%s: two different answers:\n%s\n%s", tc.path, ran.Body, r.Body)
			default:
				ran = r
			}
		}
		if ran == nil {
			continue // every copy met another in flight; the retries below run it
		}
		if ran.Status != tc.want {
			t.Fatalf("%s: %d %s, want %d", tc.path, ran.Status, ran.Body, tc.want)
		}
		for _, c := range nodes {
			r := c.do("POST", tc.path, tc.body, "Idempotency-Key: "+tc.path)
			if r.Header.Get("Idempotent-Replayed") != "true" || string(r.Body) != string(ran.Body) {
				t.Fatalf("%s: retry answered %d %s, want the replayed %s", tc.path, r.Status, r.Body, ran.Body)
			}
		}
	}
	if n := nodes[1].do("GET", "/v1/collections/pay", nil).JSON(t)["counts"].(map[string]any)["documents"]; n != float64(1) {
		t.Fatalf("%v documents, want 1", n)
	}
}
