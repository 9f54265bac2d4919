package http_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkHotDocument measures contended goodput on one hot document: 64
// clients each change their own field of it. Under the merge policy each
// client reads the document once, then keeps writing the document its last
// answer returned with its field changed and that answer's _version, which
// is stale whenever another client wrote meanwhile: the server merges. In a
// reject collection each client loops GET, PUT with If-Match, and on 412
// starts over. b.N is the number of successful writes in all; writes/s is
// the figure to compare, attempts/write what it cost.
func BenchmarkHotDocument(b *testing.B) {
	const clients = 64
	for _, mode := range []string{"merge-stale-version", "reject-ifmatch-retry"} {
		b.Run(mode, func(b *testing.B) {
			c := mustServe(b)
			tr := c.hc.Transport.(*http.Transport).Clone()
			tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 2*clients, 2*clients
			hc := &http.Client{Transport: tr}
			b.Cleanup(tr.CloseIdleConnections)
			bc := &client{tb: b, base: c.base, hc: hc}
			policy := "merge"
			if mode != "merge-stale-version" {
				policy = "reject"
			}
			c.do("PUT", "/v1/collections/hot", `{"conflictPolicy":"`+policy+`"}`).want(b, 201, "")
			path := "/v1/collections/hot/docs/d"
			seed := map[string]any{}
			for i := range clients {
				seed[fmt.Sprintf("f%d", i)] = 0
			}
			c.do("PUT", path, seed).want(b, 201, "")

			var left, attempts, failures atomic.Int64
			left.Store(int64(b.N))
			var wg sync.WaitGroup
			var firstErr atomic.Value
			fail := func(err error) { firstErr.CompareAndSwap(nil, err) }
			b.ResetTimer()
			start := time.Now()
			for i := range clients {
				wg.Go(func() {
					field := fmt.Sprintf("f%d", i)
					var doc map[string]any // the last document read or written
					var etag string        // its ETag
					read := func() bool {
						r, err := rawDo(bc, "GET", path, nil)
						if err != nil || r.Status != 200 {
							fail(fmt.Errorf("GET: %v %v", err, r))
							return false
						}
						doc, etag = nil, r.Header.Get("ETag")
						if err := json.Unmarshal(r.Body, &doc); err != nil {
							fail(err)
							return false
						}
						if policy == "reject" {
							delete(doc, "_version") // If-Match alone is the precondition
						}
						return true
					}
					n := 0
					for left.Add(-1) >= 0 {
						n++
						for {
							if doc == nil || policy == "reject" {
								if !read() {
									return
								}
							}
							attempts.Add(1)
							doc[field] = n
							var hdr []string
							if policy == "reject" {
								hdr = append(hdr, "If-Match: "+etag)
							}
							r, err := rawDo(bc, "PUT", path, doc, hdr...)
							if err != nil {
								fail(err)
								return
							}
							if r.Status == 200 {
								if policy == "merge" {
									doc = nil
									if err := json.Unmarshal(r.Body, &doc); err != nil {
										fail(err)
										return
									}
								}
								break
							}
							failures.Add(1)
							if r.Status == 412 && policy == "reject" {
								continue
							}
							if r.Status == 409 && policy == "merge" {
								doc = nil // merge_conflict: should not happen; read again
								continue
							}
							fail(fmt.Errorf("PUT: status %d: %s", r.Status, r.Body))
							return
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			if err, _ := firstErr.Load().(error); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "writes/s")
			b.ReportMetric(float64(attempts.Load())/float64(b.N), "attempts/write")
			b.ReportMetric(float64(failures.Load()), "refused")
		})
	}
}
