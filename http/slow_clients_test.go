package http_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trucedb/truce"
	trucehttp "github.com/trucedb/truce/http"
)

// stallGuard bounds how long a test waits for the server to end a stalled
// connection: long past every timeout the tests set, so that only a server
// that never ends it fails.
const stallGuard = 30 * time.Second

// connWatch tells when the server closes a connection, by the client's
// address: the http.Server's ConnState hook.
type connWatch struct {
	mu     sync.Mutex
	closed map[string]chan struct{}
}

func watchConns(srv *http.Server) *connWatch {
	cw := &connWatch{closed: map[string]chan struct{}{}}
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		if st == http.StateClosed || st == http.StateHijacked {
			close(cw.ch(c.RemoteAddr().String()))
		}
	}
	return cw
}

func (cw *connWatch) ch(addr string) chan struct{} {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	ch, ok := cw.closed[addr]
	if !ok {
		ch = make(chan struct{})
		cw.closed[addr] = ch
	}
	return ch
}

// waitClosed fails the test unless the server closes the connection c
// (the client's end) within stallGuard.
func (cw *connWatch) waitClosed(tb testing.TB, c net.Conn, what string) {
	tb.Helper()
	select {
	case <-cw.ch(c.LocalAddr().String()):
	case <-time.After(stallGuard):
		tb.Fatalf("%s: the server kept the connection open for %s", what, stallGuard)
	}
}

// dial opens a raw connection to s.
func dial(tb testing.TB, s *feedServer) net.Conn {
	tb.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// readToEOF reads what is left on c until the server closes it.
func readToEOF(tb testing.TB, c net.Conn) []byte {
	tb.Helper()
	_ = c.SetReadDeadline(time.Now().Add(stallGuard))
	b, err := io.ReadAll(c)
	if err != nil && !strings.Contains(err.Error(), "reset") {
		tb.Fatalf("reading to the end: %v (after %d bytes)", err, len(b))
	}
	return b
}

// TestSlowHeaders: a client that never finishes its request's headers is
// disconnected at ReadHeaderTimeout.
func TestSlowHeaders(t *testing.T) {
	var cw *connWatch
	s := mustServeFeed(t, "", trucehttp.Options{}, func(srv *http.Server) {
		srv.ReadHeaderTimeout = 200 * time.Millisecond
		cw = watchConns(srv)
	})
	c := dial(t, s)
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
	cw.waitClosed(t, c, "headers never finished")
	if b := readToEOF(t, c); bytes.Contains(b, []byte("200 OK")) {
		t.Fatalf("an unfinished request was answered: %q", b)
	}
}

// TestSlowBody: a client that stops sending its body is disconnected at
// ReadTimeout, and its write is not applied.
func TestSlowBody(t *testing.T) {
	var cw *connWatch
	s := mustServeFeed(t, "", trucehttp.Options{}, func(srv *http.Server) {
		srv.ReadTimeout = 300 * time.Millisecond
		cw = watchConns(srv)
	})
	c := dial(t, s)
	fmt.Fprintf(c, "PUT /v1/collections/c/docs/slow HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":")
	cw.waitClosed(t, c, "body never finished")
	if b := readToEOF(t, c); bytes.HasPrefix(b, []byte("HTTP/1.1 2")) {
		t.Fatalf("a write with half its body succeeded: %q", b)
	}
	s.do("GET", "/v1/collections/c/docs/slow", nil).want(t, 404, "not_found")
}

// TestStalledReader: a client that asks for a large answer and never reads
// it is disconnected at WriteTimeout.
func TestStalledReader(t *testing.T) {
	var cw *connWatch
	s := mustServeFeed(t, "", trucehttp.Options{}, func(srv *http.Server) {
		srv.WriteTimeout = 500 * time.Millisecond
		cw = watchConns(srv)
	})
	// 12 documents of 900 KiB: an answer of about 11 MiB, more than the
	// socket buffers of one loopback connection hold.
	big := []byte(`{"pad":"` + strings.Repeat("x", 900<<10) + `"}`)
	for i := range 12 {
		if _, err := s.svc.Put(t.Context(), "c", fmt.Sprint("d", i), big, truce.Precondition{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	c := dial(t, s)
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetReadBuffer(4 << 10)
	}
	fmt.Fprintf(c, "GET /v1/collections/c/docs?limit=12 HTTP/1.1\r\nHost: x\r\n\r\n")
	cw.waitClosed(t, c, "answer never read")
	// The client gets a cut answer, or none (a reset may drop what it
	// had not read); never the whole.
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return
	}
	body, err := io.ReadAll(resp.Body)
	if err == nil && len(body) > 12*900<<10 {
		t.Fatalf("the whole answer (%d bytes) reached a client that did not read", len(body))
	}
}

// TestIdleTimeout: a keep-alive connection that sends nothing after its
// request is closed at IdleTimeout.
func TestIdleTimeout(t *testing.T) {
	var cw *connWatch
	s := mustServeFeed(t, "", trucehttp.Options{}, func(srv *http.Server) {
		srv.IdleTimeout = 200 * time.Millisecond
		cw = watchConns(srv)
	})
	c := dial(t, s)
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /healthz: %v %v", resp, err)
	}
	cw.waitClosed(t, c, "idle keep-alive connection")
}

// TestMaxHeaderBytes: headers past the server's limit (64 KiB) are
// refused with 431 and the request is not served.
func TestMaxHeaderBytes(t *testing.T) {
	s := mustServeFeed(t, "", trucehttp.Options{}, nil)
	c := dial(t, s)
	fmt.Fprintf(c, "PUT /v1/collections/c/docs/h HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
		strings.Repeat("y", 200<<10))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("200 KiB of headers: %d, want 431", resp.StatusCode)
	}
	s.do("GET", "/v1/collections/c/docs/h", nil).want(t, 404, "not_found")
}

// TestConnsPerIP: past --max-conns-per-ip open connections from one
// address, a new one is answered 503 overloaded and closed; once one
// closes, a new one is served.
func TestConnsPerIP(t *testing.T) {
	var cw *connWatch
	s := mustServeFeed(t, "", trucehttp.Options{}, func(srv *http.Server) { cw = watchConns(srv) })
	// mustServeFeed serves on its own listener: serve another, limited one.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.srv.Serve(trucehttp.LimitListener(ln, 2, true))
	addr := ln.Addr().String()
	get := func(c net.Conn) *http.Response {
		t.Helper()
		fmt.Fprintf(c, "GET /v1/collections HTTP/1.1\r\nHost: x\r\n\r\n")
		_ = c.SetReadDeadline(time.Now().Add(stallGuard))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		return resp
	}
	var open []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if r := get(c); r.StatusCode != 200 {
			t.Fatalf("connection within the cap: %d", r.StatusCode)
		}
		open = append(open, c)
	}
	c3, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	fmt.Fprintf(c3, "GET /v1/collections HTTP/1.1\r\nHost: x\r\n\r\n")
	_ = c3.SetReadDeadline(time.Now().Add(stallGuard))
	resp, err := http.ReadResponse(bufio.NewReader(c3), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || resp.Header.Get("Content-Type") != "application/problem+json" ||
		!bytes.Contains(body, []byte(`"code":"overloaded"`)) {
		t.Fatalf("a third connection: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	// The kept connections still work; close one and a new one is served.
	if r := get(open[1]); r.StatusCode != 200 {
		t.Fatalf("a kept connection: %d", r.StatusCode)
	}
	open[0].Close()
	cw.waitClosed(t, open[0], "closed by the client")
	c4, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c4.Close()
	if r := get(c4); r.StatusCode != 200 {
		t.Fatalf("a connection after one closed: %d", r.StatusCode)
	}
}

// TestStalledSubscriberCutOff: an event-stream subscriber that stops
// reading is disconnected once a write to it has waited StreamWriteTimeout,
// while a reading subscriber gets every event and the writers finish; the
// stalled one resumes from the last event id it received and misses
// nothing.
func TestStalledSubscriberCutOff(t *testing.T) {
	var cw *connWatch
	// The stalled connection's socket buffers are small on both ends, so
	// that it stalls soon and what is in flight when the server cuts it
	// off reaches it at once.
	var small atomic.Bool
	smallSet := make(chan struct{})
	s := mustServeFeed(t, "", trucehttp.Options{StreamWriteTimeout: time.Second}, func(srv *http.Server) {
		cw = watchConns(srv)
		srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
			if small.CompareAndSwap(true, false) {
				c.(*net.TCPConn).SetWriteBuffer(16 << 10)
				close(smallSet)
			}
			return ctx
		}
	})
	small.Store(true)
	stalled := dial(t, s)
	<-smallSet
	if tc, ok := stalled.(*net.TCPConn); ok {
		tc.SetReadBuffer(4 << 10)
	}
	fmt.Fprintf(stalled, "GET /v1/events?since=0 HTTP/1.1\r\nHost: x\r\n\r\n")
	live := s.openSSE("/v1/events?since=0")
	for s.svc.Feed().Subscribers() < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	big := strings.Repeat("x", 24<<10)
	const n = 200
	var failed atomic.Bool
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range n / 4 {
				if r, err := rawDo(s.client, "PUT", docPath("c", fmt.Sprintf("w%d-%d", w, i)), map[string]any{"pad": big}); err != nil || r.Status >= 300 {
					failed.Store(true)
					return
				}
			}
		})
	}
	// The reading subscriber reads while the writers write.
	for i, e := range live.take(t, n) {
		if e.ID != int64(i+1) {
			t.Fatalf("the reading subscriber: event %d has seq %d", i, e.ID)
		}
	}
	wg.Wait()
	if failed.Load() {
		t.Fatal("a write failed")
	}
	cw.waitClosed(t, stalled, "a subscriber that stopped reading")
	for s.svc.Feed().Subscribers() != 1 {
		time.Sleep(5 * time.Millisecond)
	}

	// What the stalled subscriber got, up to its last whole event.
	_ = stalled.SetReadDeadline(time.Now().Add(stallGuard))
	resp, err := http.ReadResponse(bufio.NewReader(stalled), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	last := int64(-1)
	msgs := strings.Split(string(got), "\n\n")
	for _, m := range msgs[:len(msgs)-1] { // the last may be cut short
		for line := range strings.SplitSeq(m, "\n") {
			if v, ok := strings.CutPrefix(line, "id: "); ok {
				id, err := strconv.ParseInt(v, 10, 64)
				if err != nil || id < last {
					t.Fatalf("id %q after %d", v, last)
				}
				last = id
			}
		}
	}
	if last < 0 || last >= n {
		t.Fatalf("the stalled subscriber got up to id %d of %d: it did not stall", last, n)
	}
	resumed := s.openSSE("/v1/events", "Last-Event-ID: "+strconv.FormatInt(last, 10))
	for i, e := range resumed.take(t, int(n-last)) {
		if e.ID != last+1+int64(i) {
			t.Fatalf("resumed after %d: event %d has seq %d", last, i, e.ID)
		}
	}
}
