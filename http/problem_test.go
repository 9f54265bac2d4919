package http_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/trucedb/truce"
	trucehttp "github.com/trucedb/truce/http"
	"github.com/trucedb/truce/pebble"
)

// Every code has its own status: a code missing from the table would be
// answered as a 500.
func TestEveryCodeHasAStatus(t *testing.T) {
	for _, c := range truce.Codes() {
		if s := trucehttp.StatusOf(c); s == http.StatusInternalServerError && c != truce.CodeInternal {
			t.Errorf("code %s has no status", c)
		}
		if c.Info().Explain == "" || c.Info().Title == "" {
			t.Errorf("code %s has no explanation", c)
		}
	}
}

// TestCanceledRequestIsNotInternal: a request whose client went away while
// it waited is answered as unavailable and not logged as a server fault.
func TestCanceledRequestIsNotInternal(t *testing.T) {
	store, err := pebble.Open(t.TempDir(), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var logs bytes.Buffer
	h := trucehttp.NewHandler(truce.NewService(store, truce.Options{}),
		trucehttp.Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, "PUT", "/v1/collections/notes/docs/n1", strings.NewReader(`{"a":1}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"code":"unavailable"`) {
		t.Fatalf("canceled request: %d %s", rec.Code, rec.Body)
	}
	if logs.Len() != 0 {
		t.Fatalf("a client that went away was logged: %s", logs.String())
	}
}
