package http

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/internal/admit"
)

// TestShedAnswer: the overloaded answer rendered once and filled in per
// request is byte for byte the one writeProblem encodes, for paths and
// request ids that need escaping too, and for HEAD; with the adaptive
// limit on, its detail says the limit may be lower than the cap.
func TestShedAnswer(t *testing.T) {
	for _, adaptive := range []bool{false, true} {
		limit := "(--max-inflight 7)"
		if adaptive {
			limit = "(at most --max-inflight 7, fewer while its CPU cannot keep up)"
		}
		h := &Handler{admission: admit.New(admit.Options{Max: 7, Adaptive: adaptive}), shedAnswer: newShedAnswer(7, adaptive)}
		te := &truce.Error{Code: truce.CodeOverloaded, RetryAfter: inflightRetryAfter,
			Detail: "the server is serving as many requests as it takes at once " + limit + "; nothing was done: retry after Retry-After"}
		checkShedAnswer(t, h, te)
	}
}

// checkShedAnswer compares h's shed answers with writeProblem's of te.
func checkShedAnswer(t *testing.T, h *Handler, te *truce.Error) {
	t.Helper()
	for _, tc := range []struct{ method, path, rid string }{
		{"PUT", "/v1/collections/c/docs/d1", "abc-1"},
		{"GET", "/v1/collections/c/docs/a\"b<&>\\é\u2028", "r\"<id>"},
		{"HEAD", "/v1/collections/c", "x"},
	} {
		want, got := httptest.NewRecorder(), httptest.NewRecorder()
		r := httptest.NewRequest(tc.method, "/", nil)
		r.URL.Path = tc.path
		want.Header().Set("X-Request-Id", tc.rid)
		got.Header().Set("X-Request-Id", tc.rid)
		h.writeProblem(want, r, tc.rid, http.StatusServiceUnavailable, te)
		h.shed(got, r)
		if got.Code != want.Code || got.Body.String() != want.Body.String() {
			t.Errorf("%s %q: shed answered %d %s\nwant %d %s", tc.method, tc.path, got.Code, got.Body, want.Code, want.Body)
		}
		for _, k := range []string{"Content-Type", "Content-Length", "Retry-After"} {
			if got.Header().Get(k) != want.Header().Get(k) || got.Header().Get(k) == "" {
				t.Errorf("%s %q: %s %q, want %q", tc.method, tc.path, k, got.Header().Get(k), want.Header().Get(k))
			}
		}
	}
}
