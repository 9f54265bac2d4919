package main_test

import (
	"bufio"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trucedb/truce/internal/testserver"
)

// readEvents reads n events from an event stream and returns their ids.
func readEvents(t *testing.T, resp *http.Response, n int) []string {
	t.Helper()
	var ids []string
	var id string
	sc := bufio.NewScanner(resp.Body)
	for len(ids) < n && sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			ids = append(ids, id)
		}
	}
	if len(ids) < n {
		t.Fatalf("the stream ended after %d of %d events: %v", len(ids), n, sc.Err())
	}
	return ids
}

// TestServeEventsAcrossRestart: a stream resumes after a restart from its
// Last-Event-ID; SIGTERM ends open streams without waiting for the
// shutdown deadline; --event-retention trims at start and the trimmed
// position stays 410 events_expired.
func TestServeEventsAcrossRestart(t *testing.T) {
	bin := testserver.Build(t)
	dir := filepath.Join(t.TempDir(), "data")
	srv := testserver.Start(t, bin, dir)
	for i := range 4 {
		mustDo(t, "PUT", fmt.Sprintf("%s/v1/collections/c/docs/d%d", srv.URL, i), map[string]any{"i": i}, 201)
	}
	resp, err := http.Get(srv.URL + "/v1/events?since=0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ids := readEvents(t, resp, 2); ids[1] != "2" {
		t.Fatalf("ids %v", ids)
	}
	srv.Stop() // with the stream open
	if strings.Contains(srv.Stderr(), "shutdown deadline") {
		t.Errorf("the open stream held the shutdown until its deadline:\n%s", srv.Stderr())
	}

	srv = testserver.Start(t, bin, dir)
	mustDo(t, "PUT", srv.URL+"/v1/collections/c/docs/d9", map[string]any{}, 201)
	req, _ := http.NewRequest("GET", srv.URL+"/v1/events", nil)
	req.Header.Set("Last-Event-ID", "2")
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	if ids := readEvents(t, resp2, 3); strings.Join(ids, ",") != "3,4,5" {
		t.Fatalf("resumed after the restart with ids %v, want 3,4,5", ids)
	}
	srv.Stop()

	srv = testserver.Start(t, bin, dir, "--event-retention", "2")
	// The trimmer runs in the background from the start.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		r, err := do(http.DefaultClient, "GET", srv.URL+"/v1/changes?since=1", nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.status == 410 && r.doc["code"] == "events_expired" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("since=1 with 2 events kept: %d %s", r.status, r.raw)
		}
	}
	mustDo(t, "GET", srv.URL+"/v1/changes?since=3", nil, 200)
	srv.Stop()
	srv = testserver.Start(t, bin, dir, "--event-retention", "0")
	mustDo(t, "GET", srv.URL+"/v1/changes?since=1", nil, 410)
	srv.Stop()
}
