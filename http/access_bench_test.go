package http_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	trucehttp "github.com/trucedb/truce/http"
)

// BenchmarkAccess measures what authentication and rate limits cost a
// request: a GET of a document and an If-Match PUT through the handler
// (no network), without either, with a token, and with a token and a rate
// limit that never refuses. The figures are in docs/benchmarks.md.
//
//	go test -run '^$' -bench Access -count 6 ./http/
func BenchmarkAccess(b *testing.B) {
	for _, mode := range []struct {
		name  string
		token string
		opts  trucehttp.Options
	}{
		{"off", tokWriter, trucehttp.Options{}},
		{"auth", tokWriter, trucehttp.Options{}},
		{"auth+rate", tokWriter, trucehttp.Options{RateLimit: 1e9, Burst: 1e9}},
	} {
		b.Run(mode.name+"/get", func(b *testing.B) {
			h := accessHandler(b, mode.name != "off", mode.opts)
			req := httptest.NewRequest("GET", "/v1/collections/orders/docs/o1", nil)
			req.Header.Set("Authorization", "Bearer "+mode.token)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
		b.Run(mode.name+"/put", func(b *testing.B) {
			h := accessHandler(b, mode.name != "off", mode.opts)
			etag := ""
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("PUT", "/v1/collections/orders/docs/p1", strings.NewReader(`{"n":1}`))
				req.Header.Set("Authorization", "Bearer "+mode.token)
				req.Header.Set("Content-Type", "application/json")
				if etag != "" {
					req.Header.Set("If-Match", etag)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK && w.Code != http.StatusCreated {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
				etag = w.Header().Get("ETag")
			}
		})
	}
}

// accessHandler is the handler of mustAuthServer's store and tokens, with
// or without its auth file.
func accessHandler(b *testing.B, withAuth bool, opts trucehttp.Options) http.Handler {
	s := mustAuthServer(b, opts)
	if withAuth {
		return s.handler
	}
	return trucehttp.NewHandler(s.svc, trucehttp.Options{})
}
