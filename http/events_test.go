package http_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/trucedb/truce"
	trucehttp "github.com/trucedb/truce/http"
)

func TestEventsSSE(t *testing.T) {
	s := mustServeFeed(t, "", trucehttp.Options{}, nil)
	st := s.openSSE("/v1/events")
	s.put("notes", "n1", map[string]any{"title": "a"})
	s.do("PATCH", docPath("notes", "n1"), `{"title":"b"}`, "Content-Type: application/merge-patch+json").want(t, 200, "")
	s.do("DELETE", docPath("notes", "n1"), nil).want(t, 204, "")
	evs := st.take(t, 3)
	if got := seqs(evs); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Fatalf("ids %v, want 1 2 3", got)
	}
	for i, typ := range []string{"document.created", "document.updated", "document.deleted"} {
		e := evs[i]
		if e.Type != typ || e.Data["type"] != typ || e.Data["seq"] != float64(e.ID) ||
			e.Data["collection"] != "notes" || e.Data["id"] != "n1" || e.Data["version"] != float64(i+1) ||
			e.Data["etag"] == "" || e.Data["time"] == "" {
			t.Errorf("event %d: %s %v", i, e.Type, e.Data)
		}
	}
	if doc, _ := evs[1].Data["document"].(map[string]any); doc["title"] != "b" || doc["_version"] != float64(2) {
		t.Errorf("updated event's document: %v", evs[1].Data["document"])
	}
	if _, ok := evs[2].Data["document"]; ok {
		t.Errorf("a delete event carries a document: %v", evs[2].Data)
	}
	// The ETag of the event is the document's.
	if r := s.do("GET", docPath("notes", "n1")+"/versions/2", nil); r.Header.Get("ETag") != evs[1].Data["etag"] {
		t.Errorf("event etag %v, document's %q", evs[1].Data["etag"], r.Header.Get("ETag"))
	}
}

func TestEventsFilters(t *testing.T) {
	s := mustServeFeed(t, "", trucehttp.Options{}, nil)
	byColl := s.openSSE("/v1/events?collection=a")
	byDoc := s.openSSE("/v1/events?collection=a&id=x&document=false")
	byType := s.openSSE("/v1/events?types=document.deleted,document.created")
	s.put("a", "x", map[string]any{"n": 1})
	s.put("b", "x", map[string]any{"n": 1})
	s.put("a", "y", map[string]any{"n": 1})
	s.put("a", "x", map[string]any{"n": 2})
	s.do("DELETE", docPath("b", "x"), nil).want(t, 204, "")
	s.put("a", "x", map[string]any{"n": 3}) // seq 6: the last event, seen by the first two
	if got := seqs(byColl.take(t, 4)); !slices.Equal(got, []int64{1, 3, 4, 6}) {
		t.Errorf("collection=a: %v", got)
	}
	docEvs := byDoc.take(t, 3)
	if got := seqs(docEvs); !slices.Equal(got, []int64{1, 4, 6}) {
		t.Errorf("collection=a&id=x: %v", got)
	}
	if _, ok := docEvs[0].Data["document"]; ok {
		t.Errorf("document=false still carries the document: %v", docEvs[0].Data)
	}
	if got := seqs(byType.take(t, 4)); !slices.Equal(got, []int64{1, 2, 3, 5}) {
		t.Errorf("types=document.deleted,document.created: %v", got)
	}
}

func TestEventsBadRequests(t *testing.T) {
	s := mustServeFeed(t, "", trucehttp.Options{}, nil)
	s.put("a", "x", map[string]any{"n": 1})
	for _, c := range []struct{ path, header, code string }{
		{"/v1/events?types=document.created,nope", "", "invalid_parameter"},
		{"/v1/events?since=abc", "", "invalid_parameter"},
		{"/v1/events?since=-1", "", "invalid_parameter"},
		{"/v1/events?since=2", "", "invalid_parameter"}, // past the last seq
		{"/v1/events", "Last-Event-ID: x", "invalid_parameter"},
		{"/v1/events?collection=A!", "", "invalid_collection"},
		{"/v1/events?id=x", "", "invalid_parameter"},
		{"/v1/events?document=maybe", "", "invalid_parameter"},
		{"/v1/events?colection=a", "", "invalid_parameter"},
		{"/v1/changes?limit=0", "", "invalid_parameter"},
		{"/v1/changes?limit=1001", "", "invalid_parameter"},
		{"/v1/changes?wait=forever", "", "invalid_parameter"},
		{"/v1/changes?wait=1h", "", "invalid_parameter"},
		{"/v1/changes?types=x", "", "invalid_parameter"},
	} {
		var hdr []string
		if c.header != "" {
			hdr = append(hdr, c.header)
		}
		s.do("GET", c.path, nil, hdr...).want(t, 400, c.code)
	}
}

// TestEventsExactlyOnceAcrossReconnects: writers commit concurrently while
// a subscriber drops its connection every few events and resumes with
// Last-Event-ID (or ?since=); it must see every seq once, in order.
func TestEventsExactlyOnceAcrossReconnects(t *testing.T) {
	s := mustServeFeed(t, "", trucehttp.Options{}, nil)
	const writers, perWriter = 8, 40
	const total = writers * perWriter
	st := s.openSSE("/v1/events?since=0")
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				r := s.do("PUT", docPath("c", fmt.Sprintf("w%d-%d", w, i%5)), map[string]any{"i": i})
				if r.Status >= 300 {
					t.Errorf("PUT: %d %s", r.Status, r.Body)
					return
				}
			}
		})
	}
	var got []int64
	for reconnects := 0; len(got) < total; reconnects++ {
		for range 1 + reconnects%7 {
			e, ok := st.next(t)
			if !ok {
				t.Fatalf("stream ended after %d events", len(got))
			}
			got = append(got, e.ID)
			if len(got) == total {
				break
			}
		}
		st.close()
		last := fmt.Sprint(got[len(got)-1])
		if reconnects%2 == 0 {
			st = s.openSSE("/v1/events", "Last-Event-ID: "+last)
		} else {
			st = s.openSSE("/v1/events?since=" + last)
		}
	}
	wg.Wait()
	for i, seq := range got {
		if seq != int64(i+1) {
			t.Fatalf("event %d has seq %d: lost or repeated (all: %v)", i, seq, got)
		}
	}
}

// TestEventsResumeAcrossReopen: a position survives a restart of the server
// and its store.
func TestEventsResumeAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	s := mustServeFeed(t, dir, trucehttp.Options{}, nil)
	for i := range 3 {
		s.put("c", fmt.Sprint("d", i), map[string]any{"i": i})
	}
	last := s.openSSE("/v1/events?since=0").take(t, 2)[1].ID
	s.stop()
	s = mustServeFeed(t, dir, trucehttp.Options{}, nil)
	s.put("c", "d9", map[string]any{"i": 9})
	evs := s.openSSE("/v1/events", fmt.Sprint("Last-Event-ID: ", last)).take(t, 2)
	if got := seqs(evs); !slices.Equal(got, []int64{3, 4}) || evs[1].Data["id"] != "d9" {
		t.Fatalf("after the restart: %v", got)
	}
}

func TestEventsExpired(t *testing.T) {
	dir := t.TempDir()
	s := mustServeFeed(t, dir, trucehttp.Options{}, nil)
	for i := range 10 {
		s.put("c", fmt.Sprint("d", i), map[string]any{"i": i})
	}
	trimmed, err := s.svc.TrimEvents(t.Context(), truce.EventRetention{MaxCount: 3})
	if err != nil || trimmed != 7 {
		t.Fatalf("TrimEvents = %d, %v; want 7", trimmed, err)
	}
	s.do("GET", "/v1/events?since=6", nil).want(t, 410, "events_expired")
	s.do("GET", "/v1/events", nil, "Last-Event-ID: 0").want(t, 410, "events_expired")
	s.do("GET", "/v1/changes?since=3", nil).want(t, 410, "events_expired")
	if got := seqs(s.openSSE("/v1/events?since=7").take(t, 3)); !slices.Equal(got, []int64{8, 9, 10}) {
		t.Errorf("from the trimmed-through seq: %v", got)
	}
	// Without since, a page starts at the oldest event kept.
	var page struct {
		Items []map[string]any
		Last  int64
	}
	json.Unmarshal(s.do("GET", "/v1/changes", nil).want(t, 200, "").Body, &page)
	if len(page.Items) != 3 || page.Items[0]["seq"] != float64(8) || page.Last != 10 {
		t.Errorf("changes without since: %+v", page)
	}
	// The trimmed-through seq is durable.
	s.stop()
	s = mustServeFeed(t, dir, trucehttp.Options{}, nil)
	s.do("GET", "/v1/events?since=6", nil).want(t, 410, "events_expired")

}

// TestChangesLongPollParity: paging /v1/changes gives exactly the SSE events,
// and a long poll answers as soon as an event comes.
func TestChangesLongPollParity(t *testing.T) {
	s := mustServeFeed(t, "", trucehttp.Options{}, nil)
	for i := range 25 {
		s.put("c", fmt.Sprint("d", i%7), map[string]any{"i": i})
		if i%5 == 0 {
			s.put("other", "x", map[string]any{"i": i})
		}
	}
	sse := s.openSSE("/v1/events?since=0&collection=c").take(t, 25)
	var pages []map[string]any
	since := int64(0)
	for {
		var page struct {
			Items []map[string]any
			Last  int64
		}
		json.Unmarshal(s.do("GET", fmt.Sprintf("/v1/changes?collection=c&limit=4&since=%d", since), nil).want(t, 200, "").Body, &page)
		pages = append(pages, page.Items...)
		if len(page.Items) == 0 {
			if page.Last != 30 {
				t.Errorf("last of the final page %d, want 30 (the last seq)", page.Last)
			}
			break
		}
		since = page.Last
	}
	if len(pages) != len(sse) {
		t.Fatalf("changes gave %d events, SSE %d", len(pages), len(sse))
	}
	for i := range sse {
		if !equalJSON(pages[i], sse[i].Data) {
			t.Fatalf("event %d differs:\nchanges %v\nSSE     %v", i, pages[i], sse[i].Data)
		}
	}

	// A long poll returns the event that comes while it waits.
	done := make(chan *response, 1)
	go func() {
		done <- s.do("GET", "/v1/changes?collection=c&since=30&wait=30s", nil)
	}()
	time.Sleep(100 * time.Millisecond)
	s.put("c", "late", map[string]any{})
	r := <-done
	var page struct {
		Items []map[string]any
		Last  int64
	}
	json.Unmarshal(r.Body, &page)
	if r.Status != 200 || len(page.Items) != 1 || page.Items[0]["id"] != "late" || page.Last != 31 {
		t.Fatalf("long poll: %d %s", r.Status, r.Body)
	}
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// TestEventsWebSocketParity: the WebSocket delivers the SSE events as JSON
// messages, and resumes with ?since=.
func TestEventsWebSocketParity(t *testing.T) {
	s := mustServeFeed(t, "", trucehttp.Options{Heartbeat: 50 * time.Millisecond}, nil)
	for i := range 10 {
		s.put("c", fmt.Sprint("d", i%3), map[string]any{"i": i})
	}
	sse := s.openSSE("/v1/events?since=0").take(t, 10)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, strings.Replace(s.base, "http", "ws", 1)+"/v1/events?since=4", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	s.put("c", "more", map[string]any{})
	for i := 4; i < 11; i++ {
		_, msg, err := ws.Read(ctx) // also answers the heartbeat pings
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(msg, &got); err != nil {
			t.Fatal(err)
		}
		if i < 10 && !equalJSON(got, sse[i].Data) {
			t.Fatalf("message %d: %s\nSSE: %v", i, msg, sse[i].Data)
		}
		if i == 10 && got["id"] != "more" {
			t.Fatalf("live message: %s", msg)
		}
	}
	// Shutting the server down closes the socket as "going away".
	s.stop()
	_, _, err = ws.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("read after shutdown: %v", err)
	}
}

// TestEventsOutliveServerTimeouts: a stream lives past the server's read and
// write timeouts, with heartbeats that carry its position.
func TestEventsOutliveServerTimeouts(t *testing.T) {
	s := mustServeFeed(t, "", trucehttp.Options{Heartbeat: 100 * time.Millisecond}, func(srv *http.Server) {
		srv.ReadTimeout, srv.WriteTimeout = 300*time.Millisecond, 300*time.Millisecond
	})
	st := s.openSSE("/v1/events")
	poll := make(chan *response, 1)
	go func() { poll <- s.do("GET", "/v1/changes?wait=20s", nil) }()
	time.Sleep(time.Second)
	s.put("c", "x", map[string]any{})
	e := st.take(t, 1)[0]
	if e.ID != 1 || st.heartbeats < 3 {
		t.Fatalf("after 1 s: event %d, %d heartbeats", e.ID, st.heartbeats)
	}
	if r := <-poll; r.Status != 200 || !strings.Contains(string(r.Body), `"seq":1`) {
		t.Fatalf("a long poll past the timeouts: %d %s", r.Status, r.Body)
	}
}

// TestEventsStalledSubscriber: a subscriber that never reads holds up
// neither the writers nor another subscriber, which gets every event.
func TestEventsStalledSubscriber(t *testing.T) {
	s := mustServeFeed(t, "", trucehttp.Options{}, nil)
	stalled, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	if tc, ok := stalled.(*net.TCPConn); ok {
		tc.SetReadBuffer(4 << 10) // fill up soon
	}
	fmt.Fprintf(stalled, "GET /v1/events?since=0 HTTP/1.1\r\nHost: x\r\n\r\n")
	live := s.openSSE("/v1/events?since=0")

	// 400 events of 24 KiB: about 10 MiB, more than twice what the socket
	// buffers of the stalled connection hold (4 MiB at most to send here),
	// so its stream surely blocks.
	big := strings.Repeat("x", 24<<10)
	const writers, perWriter = 4, 100
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				if r := s.do("PUT", docPath("c", fmt.Sprintf("w%d-%d", w, i)), map[string]any{"pad": big}); r.Status >= 300 {
					t.Errorf("PUT: %d", r.Status)
					return
				}
			}
		})
	}
	// The writers finish although one subscriber reads nothing ...
	wg.Wait()
	// ... and the other gets everything, in order.
	for i, e := range live.take(t, writers*perWriter) {
		if e.ID != int64(i+1) {
			t.Fatalf("event %d has seq %d", i, e.ID)
		}
	}
}

// TestShutdownEndsStreams: Shutdown returns promptly with streams and a long
// poll open.
func TestShutdownEndsStreams(t *testing.T) {
	s := mustServeFeed(t, "", trucehttp.Options{}, nil)
	st := s.openSSE("/v1/events")
	poll := make(chan int, 1)
	go func() {
		resp, err := http.Get(s.base + "/v1/changes?wait=5m")
		if err != nil {
			poll <- 0
			return
		}
		resp.Body.Close()
		poll <- resp.StatusCode
	}()
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with open streams: %v", err)
	}
	if code := <-poll; code != 200 {
		t.Errorf("the long poll answered %d at shutdown, want 200 (an empty page)", code)
	}
	if _, ok := st.next(t); ok {
		t.Error("the stream delivered an event after shutdown")
	}
	if err := s.store.Close(); err != nil {
		t.Error(err)
	}
	s.srv = nil
}

// TestEventsWebSocketGoingAwayDuringPing: a server that shuts down while
// it waits for the pong of a heartbeat still tells the subscriber it is
// going away, rather than dropping the connection.
func TestEventsWebSocketGoingAwayDuringPing(t *testing.T) {
	s := mustServeFeed(t, "", trucehttp.Options{Heartbeat: 20 * time.Millisecond}, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, strings.Replace(s.base, "http", "ws", 1)+"/v1/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	// Not reading, the client answers no ping: the server is soon waiting
	// for a pong.
	time.Sleep(200 * time.Millisecond)
	s.stop()
	_, _, err = ws.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("read after shutdown: %v", err)
	}
}
