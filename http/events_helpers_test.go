package http_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trucedb/truce"
	trucehttp "github.com/trucedb/truce/http"
	"github.com/trucedb/truce/pebble"
)

// feedServer is a real server, as truce serve builds it (NewServer, with its
// timeouts unless the test shortens them), over a Pebble store.
type feedServer struct {
	*client
	svc     *truce.Service
	store   *pebble.Store
	handler *trucehttp.Handler
	srv     *http.Server
	dir     string
}

// mustServeFeed starts a feedServer on 127.0.0.1:0 in dir (a fresh
// temporary directory when empty).
func mustServeFeed(tb testing.TB, dir string, opts trucehttp.Options, tune func(*http.Server)) *feedServer {
	tb.Helper()
	if dir == "" {
		dir = tb.TempDir()
	}
	store, err := pebble.Open(dir, pebble.Options{})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	svc := truce.NewService(store, truce.Options{})
	h := trucehttp.NewHandler(svc, opts)
	srv := trucehttp.NewServer(h)
	srv.RegisterOnShutdown(h.CloseStreams)
	if tune != nil {
		tune(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go srv.Serve(ln)
	fs := &feedServer{client: &client{tb: tb, base: "http://" + ln.Addr().String(), hc: &http.Client{}},
		svc: svc, store: store, handler: h, srv: srv, dir: dir}
	tb.Cleanup(fs.stop)
	return fs
}

// stop shuts the server down (its streams end) and closes the store. It may
// be called twice.
func (s *feedServer) stop() {
	if s.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.tb.Errorf("Shutdown: %v (streams kept it from finishing)", err)
		s.srv.Close()
	}
	s.handler.CloseStreams() // as truce serve does: Shutdown runs it in a goroutine
	if err := s.store.Close(); err != nil {
		s.tb.Errorf("close store: %v", err)
	}
	s.srv = nil
}

// put writes a document and fails the test unless it succeeds.
func (s *feedServer) put(col, id string, body any) {
	s.tb.Helper()
	r := s.do("PUT", "/v1/collections/"+col+"/docs/"+id, body)
	if r.Status != 200 && r.Status != 201 {
		s.tb.Fatalf("PUT %s/%s: %d %s", col, id, r.Status, r.Body)
	}
}

// event is a delivered event: its SSE id and type, and its data.
type event struct {
	ID   int64
	Type string
	Data map[string]any
}

// sseStream reads an event stream.
type sseStream struct {
	resp   *http.Response
	sc     *bufio.Scanner
	cancel context.CancelFunc
	// pos is the last id seen, from events or id-only messages.
	pos int64
	// heartbeats counts comment lines other than the first.
	heartbeats int
}

// openSSE opens GET path as an event stream, failing the test unless the
// answer is 200 text/event-stream.
func (s *feedServer) openSSE(path string, headers ...string) *sseStream {
	s.tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", s.base+path, nil)
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Set(name, strings.TrimSpace(value))
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		cancel()
		s.tb.Fatalf("GET %s: %v", path, err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		cancel()
		resp.Body.Close()
		s.tb.Fatalf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	st := &sseStream{resp: resp, sc: bufio.NewScanner(resp.Body), cancel: cancel, pos: -1}
	// A stream that a bug leaves silent fails the test instead of hanging it.
	time.AfterFunc(60*time.Second, cancel)
	st.sc.Buffer(nil, 4<<20)
	s.tb.Cleanup(st.close)
	return st
}

func (st *sseStream) close() {
	st.cancel()
	st.resp.Body.Close()
}

// next returns the next event; ok is false when the stream ended.
func (st *sseStream) next(tb testing.TB) (e event, ok bool) {
	tb.Helper()
	var id, typ, data string
	var hasID bool
	for st.sc.Scan() {
		line := st.sc.Text()
		if line == "" {
			if hasID {
				n, err := strconv.ParseInt(id, 10, 64)
				if err != nil {
					tb.Fatalf("bad id %q", id)
				}
				st.pos = n
			}
			if data != "" {
				e = event{ID: st.pos, Type: typ}
				if err := json.Unmarshal([]byte(data), &e.Data); err != nil {
					tb.Fatalf("data is not JSON: %v: %s", err, data)
				}
				return e, true
			}
			id, typ, data, hasID = "", "", "", false
			continue
		}
		if strings.HasPrefix(line, ":") {
			if strings.Contains(line, "heartbeat") {
				st.heartbeats++
			}
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			id, hasID = value, true
		case "event":
			typ = value
		case "data":
			data += value
		}
	}
	return event{}, false
}

// take reads n events, failing the test if the stream ends first.
func (st *sseStream) take(tb testing.TB, n int) []event {
	tb.Helper()
	var out []event
	for len(out) < n {
		e, ok := st.next(tb)
		if !ok {
			tb.Fatalf("the stream ended after %d of %d events", len(out), n)
		}
		out = append(out, e)
	}
	return out
}

// seqs returns the ids of events.
func seqs(evs []event) []int64 {
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

// withTimeout fails the test if fn does not return within d.
func withTimeout(tb testing.TB, d time.Duration, what string, fn func()) {
	tb.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(d):
		tb.Fatalf("%s did not finish within %v", what, d)
	}
}

func docPath(col, id string) string { return fmt.Sprintf("/v1/collections/%s/docs/%s", col, id) }
