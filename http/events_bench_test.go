package http_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	trucehttp "github.com/trucedb/truce/http"
)

// BenchmarkFeedFanout measures the change feed with many SSE subscribers on
// one collection: the write throughput of 8 writers (1 KiB documents) while
// the subscribers listen, against none, and the delay from a write's
// commit (its answer reached the writer) to each subscriber's receipt of
// its event, p50 and p99. TRUCE_BENCH_SUBS lists the subscriber counts
// (default "0,1000"); writers, server and subscribers share the machine.
//
// The writers write as fast as they can ("saturated": the throughput, and
// the delay when deliveries compete with writes for the CPU), and then at
// a steady 20 writes/s ("paced": the delay of the fan-out itself, below saturation).
//
//	go test -run '^$' -bench FeedFanout -benchtime 2000x ./http/
func BenchmarkFeedFanout(b *testing.B) {
	counts := []int{0, 1000}
	if env := os.Getenv("TRUCE_BENCH_SUBS"); env != "" {
		counts = nil
		for f := range strings.SplitSeq(env, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				b.Fatalf("TRUCE_BENCH_SUBS: %v", err)
			}
			counts = append(counts, n)
		}
	}
	for _, rate := range []int{0, 20} {
		mode := "saturated"
		if rate > 0 {
			mode = fmt.Sprintf("paced-%d-per-s", rate)
		}
		for _, n := range counts {
			b.Run(fmt.Sprintf("%s/subscribers=%d", mode, n), func(b *testing.B) { benchFanout(b, n, rate) })
		}
	}
}

// fanoutSub is one subscriber's receipt times, by seq.
type fanoutSub struct {
	conn net.Conn
	got  map[int64]time.Time // read once done is closed
	n    atomic.Int64        // len(got)
	done chan struct{}
}

func benchFanout(b *testing.B, subs, rate int) {
	s := mustServeFeed(b, "", trucehttp.Options{}, nil)
	addr := strings.TrimPrefix(s.base, "http://")
	// Subscribers: raw connections that note when each event arrives.
	subscribers := make([]*fanoutSub, subs)
	var ready sync.WaitGroup
	for i := range subscribers {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatalf("subscriber %d: %v", i, err)
		}
		b.Cleanup(func() { conn.Close() })
		sub := &fanoutSub{conn: conn, got: map[int64]time.Time{}, done: make(chan struct{})}
		subscribers[i] = sub
		fmt.Fprintf(conn, "GET /v1/events?collection=bench&document=false HTTP/1.1\r\nHost: x\r\n\r\n")
		ready.Add(1)
		go func() {
			defer close(sub.done)
			resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 16<<10), nil)
			if err != nil {
				ready.Done()
				return
			}
			r := bufio.NewReaderSize(resp.Body, 16<<10)
			connected := false
			for {
				line, err := r.ReadSlice('\n')
				if err != nil {
					if !connected {
						ready.Done()
					}
					return
				}
				now := time.Now()
				switch {
				case !connected && bytes.HasPrefix(line, []byte(": connected")):
					connected = true
					ready.Done()
				case bytes.HasPrefix(line, []byte("id: ")):
					seq, err := strconv.ParseInt(string(bytes.TrimSpace(line[4:])), 10, 64)
					// Heartbeats repeat the last id: keep the first receipt.
					if _, seen := sub.got[seq]; err == nil && seq > 0 && !seen {
						sub.got[seq] = now
						sub.n.Add(1)
					}
				}
			}
		}()
	}
	ready.Wait()

	// Writers: 8 goroutines share b.N PUTs; each notes when its answer came.
	hc := benchClient()
	const writers = 8
	acks := make([]map[int64]time.Time, writers)
	var next atomic.Int64
	var wg sync.WaitGroup
	var pace <-chan time.Time
	if rate > 0 {
		t := time.NewTicker(time.Second / time.Duration(rate))
		defer t.Stop()
		pace = t.C
	}
	b.ResetTimer()
	start := time.Now()
	cpu0 := processCPU()
	for w := range writers {
		acks[w] = map[int64]time.Time{}
		wg.Go(func() {
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				if pace != nil {
					<-pace
				}
				req, _ := http.NewRequest("PUT", s.base+docPath("bench", fmt.Sprint("d", i%512)), strings.NewReader(doc1K))
				req.Header.Set("Content-Type", "application/json")
				resp, err := hc.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				at := time.Now()
				// The ETag is "version-seq", seq in base 36 (truce.FormatETag).
				etag := strings.Trim(resp.Header.Get("ETag"), `"`)
				_, seqText, _ := strings.Cut(etag, "-")
				seq, err := strconv.ParseInt(seqText, 36, 64)
				if resp.StatusCode >= 300 || err != nil {
					b.Errorf("PUT: %d, ETag %q", resp.StatusCode, etag)
					return
				}
				acks[w][seq] = at
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "writes/s")
	if subs == 0 {
		return
	}
	deadline := time.Now().Add(2 * time.Minute)
	for i, sub := range subscribers {
		for sub.n.Load() < int64(b.N) {
			if time.Now().After(deadline) {
				b.Fatalf("subscriber %d has %d of %d events after 2 minutes", i, sub.n.Load(), b.N)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// CPU per delivery, server and subscribers together: unlike the
	// delays, it hardly depends on what else the machine runs.
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N*subs), "cpu-us/delivery")
	for _, sub := range subscribers {
		sub.conn.Close()
		<-sub.done
	}
	ack := map[int64]time.Time{}
	for _, m := range acks {
		for seq, at := range m {
			ack[seq] = at
		}
	}
	var delays []time.Duration
	for i, sub := range subscribers {
		if len(sub.got) != b.N {
			b.Fatalf("subscriber %d got %d events, want %d", i, len(sub.got), b.N)
		}
		for seq, at := range sub.got {
			// An event may arrive before its writer reads the answer:
			// that is no delay.
			delays = append(delays, max(at.Sub(ack[seq]), 0))
		}
	}
	slices.Sort(delays)
	b.ReportMetric(float64(delays[len(delays)/2].Microseconds())/1000, "p50-delivery-ms")
	b.ReportMetric(float64(delays[len(delays)*99/100].Microseconds())/1000, "p99-delivery-ms")
	b.ReportMetric(float64(delays[len(delays)-1].Microseconds())/1000, "max-delivery-ms")
}

// processCPU returns the CPU time this process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
