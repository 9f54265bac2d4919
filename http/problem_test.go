package http_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/trucedb/truce"
	trucehttp "github.com/trucedb/truce/http"
	"github.com/trucedb/truce/pebble"
)

// Every code has its own status (a code missing from the table would be
// answered as a 500), and its own title and page: a code missing from the
// problem types would be described as internal.
func TestEveryCodeHasAStatus(t *testing.T) {
	store, err := pebble.Open(t.TempDir(), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	h := trucehttp.NewHandler(truce.NewService(store, truce.Options{}), trucehttp.Options{})
	page := regexp.MustCompile(`<h1>([^<]+)</h1>(?s:.*)resolve it</h2><p>([^<]+)</p>`)
	titles := map[string]truce.Code{}
	for _, c := range truce.Codes() {
		if s := trucehttp.StatusOf(c); s == http.StatusInternalServerError && c != truce.CodeInternal {
			t.Errorf("code %s has no status", c)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/problems/"+strings.ReplaceAll(string(c), "_", "-"), nil))
		m := page.FindStringSubmatch(rec.Body.String())
		if rec.Code != http.StatusOK || m == nil {
			t.Errorf("code %s has no page: %d %s", c, rec.Code, rec.Body)
			continue
		}
		if other, dup := titles[m[1]]; dup {
			t.Errorf("codes %s and %s have one title, %q", other, c, m[1])
		}
		titles[m[1]] = c
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
