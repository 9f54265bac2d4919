package client_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/auth/authtest"
	"github.com/trucedb/truce/client"
	trucehttp "github.com/trucedb/truce/http"
	"github.com/trucedb/truce/pebble"
)

// authHandler is the truce handler over a fresh store, with an auth file
// of one reader of notes and one writer of notes, and opts.
func authHandler(tb testing.TB, opts trucehttp.Options) *httptest.Server {
	return authHandlerWrapped(tb, opts, func(h http.Handler) http.Handler { return h })
}

// authHandlerWrapped is authHandler with wrap around the handler.
func authHandlerWrapped(tb testing.TB, opts trucehttp.Options, wrap func(http.Handler) http.Handler) *httptest.Server {
	tb.Helper()
	keeper, _ := authtest.Keeper(tb,
		authtest.Token{Name: "reader", Token: "tok-reader", Scopes: []string{"read:notes"}},
		authtest.Token{Name: "writer", Token: "tok-writer", Scopes: []string{"write:notes"}},
	)
	store, err := pebble.Open(tb.TempDir(), pebble.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	opts.Auth = keeper
	srv := httptest.NewServer(wrap(trucehttp.NewHandler(truce.NewService(store, truce.Options{}), opts)))
	tb.Cleanup(func() { srv.Close(); store.Close() })
	return srv
}

// TestTokenErrors: the SDK sends its token, and reports 401 and 403 as
// typed errors, the 403 with the scope the token lacks.
func TestTokenErrors(t *testing.T) {
	srv := authHandler(t, trucehttp.Options{})
	ctx := testCtx(t)
	writer := mustClient(t, srv.URL, client.WithToken("tok-writer"))
	d, err := writer.Put(ctx, "notes", "n1", map[string]any{"a": 1})
	if err != nil {
		t.Fatal(err)
	}
	if d.UpdatedBy != "writer" {
		t.Errorf("UpdatedBy %q, want writer", d.UpdatedBy)
	}
	reader := mustClient(t, srv.URL, client.WithToken("tok-reader"))
	if _, err := reader.Get(ctx, "notes", "n1"); err != nil {
		t.Fatal(err)
	}
	var e *client.Error
	_, err = reader.Put(ctx, "notes", "n1", map[string]any{"a": 2})
	if !errors.As(err, &e) || e.Status != 403 || e.Code != client.CodeForbidden || e.Scope != "write:notes" {
		t.Fatalf("a reader's write: %v (%+v)", err, e)
	}
	_, err = mustClient(t, srv.URL).Get(ctx, "notes", "n1")
	if !errors.As(err, &e) || e.Status != 401 || e.Code != client.CodeUnauthorized {
		t.Fatalf("no token: %v", err)
	}
}

// TestBacksOffWhenRateLimited: against a server that lets a caller make
// one request a second, the SDK waits for Retry-After on 429 and every
// call succeeds.
func TestBacksOffWhenRateLimited(t *testing.T) {
	var limited atomic.Int64
	count := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r)
			if w.Header().Get("Retry-After") != "" && w.Header().Get("RateLimit") != "" {
				limited.Add(1)
			}
		})
	}
	srv := authHandlerWrapped(t, trucehttp.Options{RateLimit: 2, Burst: 1}, count)
	c := mustClient(t, srv.URL, client.WithToken("tok-writer"))
	ctx := testCtx(t)
	for i := range 3 {
		if _, err := c.Put(ctx, "notes", "n1", map[string]any{"i": i}); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if limited.Load() == 0 {
		t.Fatal("the server never answered 429: the test proves nothing")
	}
	d, err := c.Get(ctx, "notes", "n1")
	if err != nil || d.Version != 3 {
		t.Fatalf("after the retries: %v, version %d (want 3: each write applied once)", err, d.Version)
	}
}
