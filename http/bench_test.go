package http_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trucedb/truce"
	trucehttp "github.com/trucedb/truce/http"
	"github.com/trucedb/truce/pebble"
)

// doc1K is a document body of about 1 KiB.
var doc1K = func() string {
	var b strings.Builder
	b.WriteString(`{"title":"benchmark document","tags":["a","b","c"],"n":0,"text":"`)
	b.WriteString(strings.Repeat("lorem ipsum ", 78))
	b.WriteString(`"}`)
	return b.String()
}()

func benchServer(b *testing.B) (string, *http.Client) {
	store, err := pebble.Open(b.TempDir(), pebble.Options{})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(trucehttp.NewHandler(truce.NewService(store, truce.Options{}), trucehttp.Options{}))
	b.Cleanup(func() { srv.Close(); store.Close() })
	return srv.URL, benchClient()
}

func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, DisableCompression: true}}
}

// runClients runs b.N operations spread over n goroutines and reports
// throughput and latency percentiles. op gets the goroutine's index.
func runClients(b *testing.B, n int, op func(g int) error) {
	var next atomic.Int64
	lat := make([][]time.Duration, n)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				if err := op(g); err != nil {
					b.Error(err)
					return
				}
				lat[g] = append(lat[g], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	pct := func(p float64) float64 { return float64(all[int(float64(len(all)-1)*p)].Microseconds()) / 1000 }
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "ops/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(peakRSSMiB(), "peak-RSS-MiB")
}

// peakRSSMiB is the process's peak resident set (load generator included).
func peakRSSMiB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func get(hc *http.Client, url string) (string, []byte, error) {
	resp, err := hc.Get(url)
	if err != nil {
		return "", nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return "", nil, fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	return resp.Header.Get("ETag"), body, err
}

// BenchmarkReads compares GET of a ~1 KiB document with a no-op net/http
// handler that returns the same bytes, over the same client.
func BenchmarkReads(b *testing.B) {
	for _, clients := range []int{1, 64} {
		b.Run(fmt.Sprintf("truce/clients=%d", clients), func(b *testing.B) {
			base, hc := benchServer(b)
			req, _ := http.NewRequest("PUT", base+"/v1/collections/bench/docs/d", strings.NewReader(doc1K))
			resp, err := hc.Do(req)
			if err != nil || resp.StatusCode != 201 {
				b.Fatalf("setup: %v %v", err, resp)
			}
			resp.Body.Close()
			url := base + "/v1/collections/bench/docs/d"
			runClients(b, clients, func(int) error { _, _, err := get(hc, url); return err })
		})
		b.Run(fmt.Sprintf("noop/clients=%d", clients), func(b *testing.B) {
			body := []byte(doc1K)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("ETag", `"1-1"`)
				w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				_, _ = w.Write(body)
			}))
			defer srv.Close()
			hc := benchClient()
			runClients(b, clients, func(int) error { _, _, err := get(hc, srv.URL); return err })
		})
	}
}

// BenchmarkIfMatchUpdates measures durable conditional updates: each
// operation is a GET then a PUT with If-Match of a ~1 KiB document, one
// document per client, counted once.
func BenchmarkIfMatchUpdates(b *testing.B) {
	for _, clients := range []int{1, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			base, hc := benchServer(b)
			for g := 0; g < clients; g++ {
				req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/v1/collections/bench/docs/d%d", base, g), strings.NewReader(doc1K))
				resp, err := hc.Do(req)
				if err != nil || resp.StatusCode != 201 {
					b.Fatalf("setup: %v %v", err, resp)
				}
				resp.Body.Close()
			}
			body := []byte(doc1K)
			runClients(b, clients, func(g int) error {
				url := fmt.Sprintf("%s/v1/collections/bench/docs/d%d", base, g)
				etag, _, err := get(hc, url)
				if err != nil {
					return err
				}
				req, _ := http.NewRequest("PUT", url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("If-Match", etag)
				resp, err := hc.Do(req)
				if err != nil {
					return err
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					return fmt.Errorf("PUT: %d", resp.StatusCode)
				}
				return nil
			})
		})
	}
}
