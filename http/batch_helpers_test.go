package http_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trucedb/truce"
	trucehttp "github.com/trucedb/truce/http"
	"github.com/trucedb/truce/pebble"
)

// txEnv is a real server over a Pebble store that a test can look into,
// and whose clock it can move.
type txEnv struct {
	tb    testing.TB
	dir   string
	opts  truce.Options
	hopts trucehttp.Options
	skew  atomic.Int64 // added to the wall clock, in ns
	store *pebble.Store
	svc   *truce.Service
	srv   *httptest.Server
	*client
}

func mustServeTx(tb testing.TB, opts truce.Options, hopts trucehttp.Options) *txEnv {
	tb.Helper()
	e := &txEnv{tb: tb, dir: tb.TempDir(), opts: opts, hopts: hopts}
	e.opts.Now = func() time.Time { return time.Now().Add(time.Duration(e.skew.Load())) }
	e.start()
	tb.Cleanup(e.stop)
	return e
}

func (e *txEnv) start() {
	e.tb.Helper()
	store, err := pebble.Open(e.dir, pebble.Options{})
	if err != nil {
		e.tb.Fatalf("open store: %v", err)
	}
	e.store = store
	e.svc = truce.NewService(store, e.opts)
	e.srv = httptest.NewServer(checked(e.tb, trucehttp.NewHandler(e.svc, e.hopts)))
	e.client = &client{tb: e.tb, base: e.srv.URL, hc: e.srv.Client()}
}

func (e *txEnv) stop() {
	if e.srv == nil {
		return
	}
	e.srv.Close()
	if err := e.store.Close(); err != nil {
		e.tb.Errorf("close store: %v", err)
	}
	e.srv = nil
}

// advance moves the server's clock forward.
func (e *txEnv) advance(d time.Duration) { e.skew.Add(int64(d)) }

// lastSeq is the change log's last seq.
func (e *txEnv) lastSeq() int64 {
	e.tb.Helper()
	var seq int64
	err := e.store.View(context.Background(), func(tx truce.ReadTx) (err error) {
		seq, err = tx.LastSeq()
		return err
	})
	if err != nil {
		e.tb.Fatal(err)
	}
	return seq
}

// txResults decodes the results of a transaction answer.
type txAnswer struct {
	Results []struct {
		Status   int             `json:"status"`
		ETag     string          `json:"etag"`
		Code     string          `json:"code"`
		Document json.RawMessage `json:"document"`
		Problem  json.RawMessage `json:"problem"`
	} `json:"results"`
	FailedOp *int     `json:"failedOp"`
	Code     string   `json:"code"`
	Changed  []any    `json:"changed"`
	Current  struct{} `json:"-"`
}

func (r *response) tx(tb testing.TB) txAnswer {
	tb.Helper()
	var a txAnswer
	if err := json.Unmarshal(r.Body, &a); err != nil {
		tb.Fatalf("transaction answer does not decode: %v\n%s", err, r.Body)
	}
	return a
}

// field returns a top-level field of a JSON object.
func field(tb testing.TB, doc []byte, name string) any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		tb.Fatalf("not a JSON object: %v\n%s", err, doc)
	}
	return m[name]
}

// ops is the body of a batch.
func ops(o ...map[string]any) map[string]any { return map[string]any{"ops": o} }

// put sends a PUT that must succeed (200 or 201).
func (e *txEnv) put(path, body string) *response {
	e.tb.Helper()
	r := e.do("PUT", path, body)
	if r.Status != 200 && r.Status != 201 {
		e.tb.Fatalf("PUT %s: status %d: %s", path, r.Status, r.Body)
	}
	return r
}
