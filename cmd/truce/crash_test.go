package main_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trucedb/truce/internal/testserver"
)

// The kill -9 test: writers hammer a server, the server is killed with
// SIGKILL while they run, and after a restart on the same data directory
// every acknowledged write must be there.
//
// TRUCE_CRASH_CYCLES sets the number of kill cycles (default 3, 1 with
// -short); TRUCE_CRASH_SEED replays a run's random choices (the server's
// timing is not replayed).

const (
	crashWriters    = 8
	crashCollection = "crash"
)

func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	cycles := 3
	if testing.Short() {
		cycles = 1
	}
	cycles = int(envUint(t, "TRUCE_CRASH_CYCLES", uint64(cycles)))
	seed := envUint(t, "TRUCE_CRASH_SEED", rand.Uint64())
	t.Logf("TRUCE_CRASH_SEED=%d TRUCE_CRASH_CYCLES=%d", seed, cycles)
	rng := rand.New(rand.NewPCG(seed, 0))

	bin := testserver.Build(t)
	dir := t.TempDir()
	srv := testserver.Start(t, bin, dir)
	var all []*writer
	for cycle := 1; cycle <= cycles; cycle++ {
		transport := &http.Transport{MaxIdleConnsPerHost: crashWriters}
		client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
		ws := make([]*writer, crashWriters)
		var wg sync.WaitGroup
		for i := range ws {
			ws[i] = &writer{
				prefix: fmt.Sprintf("c%d-w%d-", cycle, i),
				base:   srv.URL,
				client: client,
				rng:    rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())),
				docs:   map[string]*docState{},
			}
			wg.Go(ws[i].run)
		}

		time.Sleep(time.Second + rand.N(time.Second))
		srv.Kill()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("writers still running 30 s after the kill")
		}
		transport.CloseIdleConnections()

		acks, unknown := 0, 0
		for _, w := range ws {
			acks += w.acks
			if w.pending != nil {
				unknown++
			}
			if w.failed != nil {
				t.Errorf("writer %s: %v", w.prefix, w.failed)
			}
		}
		if acks == 0 {
			t.Fatalf("cycle %d: no write was acknowledged before the kill", cycle)
		}
		all = append(all, ws...)

		start := time.Now()
		srv = testserver.Start(t, bin, dir)
		restarted := time.Since(start)
		landed, docs := verify(t, srv.URL, all)
		t.Logf("cycle %d: %d writes acknowledged before the kill, %d in flight (%d of them landed); restarted in %v, checked %d documents in %v",
			cycle, acks, unknown, landed, restarted.Round(time.Millisecond), docs, (time.Since(start) - restarted).Round(time.Millisecond))
		if t.Failed() {
			t.FailNow()
		}
	}
	srv.Stop()
}

// docState is what a writer last saw acknowledged for a document.
type docState struct {
	version int64
	etag    string
	body    map[string]any // the user fields
}

// pendingWrite is a write whose outcome is unknown: the connection failed
// before its answer was read.
type pendingWrite struct {
	id      string
	version int64 // the version it would make
	body    map[string]any
}

// writer owns the documents whose ids start with its prefix and writes
// them until a request fails.
type writer struct {
	prefix string
	base   string
	client *http.Client
	rng    *rand.Rand

	attempted []string             // every id it tried to create
	docs      map[string]*docState // acknowledged state, by id
	live      []string             // ids with an acknowledged state
	ops       int
	acks      int
	pending   *pendingWrite // set when the last request ended without an answer
	failed    error         // an answer that breaks the contract
}

func (w *writer) run() {
	for w.pending == nil && w.failed == nil {
		w.ops++
		if len(w.live) == 0 || w.rng.IntN(4) == 0 {
			id := w.prefix + strconv.Itoa(len(w.attempted))
			w.attempted = append(w.attempted, id)
			w.write(id, nil)
		} else {
			id := w.live[w.rng.IntN(len(w.live))]
			w.write(id, w.docs[id])
		}
	}
}

// write creates id (prev == nil) with If-None-Match: *, or updates it from
// prev with If-Match, and records the outcome.
func (w *writer) write(id string, prev *docState) {
	counter, want, status := 0.0, int64(1), http.StatusCreated
	hdr := []string{"If-None-Match", "*"}
	if prev != nil {
		counter = prev.body["counter"].(float64) + 1
		want, status = prev.version+1, http.StatusOK
		hdr = []string{"If-Match", prev.etag}
	}
	body := map[string]any{
		"writer":  w.prefix,
		"op":      float64(w.ops),
		"counter": counter,
		"pad":     strings.Repeat("x", w.rng.IntN(300)),
	}
	r, err := do(w.client, "PUT", docURL(w.base, id), body, hdr...)
	if err != nil {
		w.pending = &pendingWrite{id: id, version: want, body: body}
		return
	}
	if r.status != status {
		w.failed = fmt.Errorf("PUT %s (%s: %s): status %d, want %d: %s", id, hdr[0], hdr[1], r.status, status, r.raw)
		w.pending = &pendingWrite{id: id, version: want, body: body}
		return
	}
	got := userFields(r.doc)
	switch {
	case r.doc["_id"] != id || version(r.doc) != want || !reflect.DeepEqual(got, body) || r.etag == "":
		w.failed = fmt.Errorf("PUT %s: answer %s (ETag %q), want _version %d and the fields %v", id, r.raw, r.etag, want, body)
		w.pending = &pendingWrite{id: id, version: want, body: body}
		return
	}
	if prev == nil {
		w.live = append(w.live, id)
	}
	w.docs[id] = &docState{version: want, etag: r.etag, body: body}
	w.acks++
}

// verify reads every document the writers tried to write and checks it
// against what they saw: each acknowledged write is there, and a newer
// version is only the in-flight write of a writer whose last request
// failed. Then it takes what it read as the writers' new acknowledged
// state, so that later cycles check it too. It returns how many in-flight
// writes landed and how many documents it read.
func verify(t *testing.T, base string, ws []*writer) (landed, docs int) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(func() {
			l, n := w.verify(t, client, base)
			mu.Lock()
			landed += l
			docs += n
			mu.Unlock()
		})
	}
	wg.Wait()
	return landed, docs
}

func (w *writer) verify(t *testing.T, client *http.Client, base string) (landed, docs int) {
	for _, id := range w.attempted {
		r, err := do(client, "GET", docURL(base, id), nil)
		if err != nil {
			t.Errorf("GET %s after restart: %v", id, err)
			return
		}
		docs++
		acked := w.docs[id]
		var inFlight *pendingWrite
		if w.pending != nil && w.pending.id == id {
			inFlight = w.pending
		}
		switch r.status {
		case http.StatusNotFound:
			if acked != nil {
				t.Errorf("%s: creation acknowledged (version %d), missing after restart", id, acked.version)
			}
			continue
		case http.StatusOK:
		default:
			t.Errorf("GET %s after restart: status %d: %s", id, r.status, r.raw)
			continue
		}
		v, body := version(r.doc), userFields(r.doc)
		if r.doc["_id"] != id {
			t.Errorf("GET %s: _id is %v", id, r.doc["_id"])
		}
		switch {
		case acked != nil && v == acked.version:
			if !reflect.DeepEqual(body, acked.body) {
				t.Errorf("%s: version %d was acknowledged with %v, after restart it holds %v", id, v, acked.body, body)
			}
			if r.etag != acked.etag {
				t.Errorf("%s: version %d was acknowledged with ETag %s, after restart it has %s", id, v, acked.etag, r.etag)
			}
		case inFlight != nil && v == inFlight.version:
			landed++
			if !reflect.DeepEqual(body, inFlight.body) {
				t.Errorf("%s: the in-flight write of version %d was %v, after restart it holds %v", id, v, inFlight.body, body)
			}
		case acked != nil && v < acked.version:
			t.Errorf("%s: version %d was acknowledged, after restart it is at version %d", id, acked.version, v)
			continue
		default:
			ackedVersion := int64(0)
			if acked != nil {
				ackedVersion = acked.version
			}
			t.Errorf("%s: at version %d after restart, but version %d was the last acknowledged and the writer had %s in flight",
				id, v, ackedVersion, describePending(inFlight))
			continue
		}
		if acked == nil {
			w.live = append(w.live, id)
		}
		w.docs[id] = &docState{version: v, etag: r.etag, body: body}
	}
	w.pending = nil
	return landed, docs
}

func describePending(p *pendingWrite) string {
	if p == nil {
		return "nothing"
	}
	b, _ := json.Marshal(p.body)
	return fmt.Sprintf("version %d (%s)", p.version, b)
}

func docURL(base, id string) string {
	return base + "/v1/collections/" + crashCollection + "/docs/" + id
}

// envUint returns the environment variable name as a number, or def if it
// is not set.
func envUint(t *testing.T, name string, def uint64) uint64 {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, s, err)
	}
	return n
}
