package soak_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trucedb/truce/internal/testserver"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testserver.Cleanup()
	os.Exit(code)
}

// envDuration reads a duration from the environment, or def.
func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a positive duration such as 10m", name, v)
	}
	return d
}

// sample is one look at the server process.
type sample struct {
	At         time.Duration
	RSSBytes   int64
	Goroutines int64
	OpenFiles  int64
	DiskBytes  int64
	Ops        int64
}

// TestSoak: TRUCE_SOAK long (20 s without it, as part of make test; make
// soak sets 10m) of mixed load on one server, sampled every
// TRUCE_SOAK_SAMPLE (10 s; 2 s in the short run).
func TestSoak(t *testing.T) {
	dur := envDuration(t, "TRUCE_SOAK", 20*time.Second)
	every := envDuration(t, "TRUCE_SOAK_SAMPLE", min(10*time.Second, max(dur/10, time.Second)))
	t.Logf("soak for %s, sampling every %s", dur, every)

	bin := testserver.Build(t)
	data := t.TempDir()
	// The event log keeps a bounded count, history a bounded depth: the
	// disk may then plateau.
	srv := testserver.Start(t, bin, data, "--event-retention", "20000")
	s := &soak{t: t, base: srv.URL, hc: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	for _, c := range []string{"counters", "merged", "locked", "bank"} {
		s.must("PUT", "/v1/collections/"+c, `{"historyLimit":10`+map[bool]string{true: `,"conflictPolicy":"merge"`}[c == "merged"]+`}`, 200, 201)
	}

	ctx, stop := context.WithTimeout(t.Context(), dur)
	defer stop()
	var wg sync.WaitGroup
	const counters, mergers, lockers, banks, subscribers = 4, 2, 2, 2, 3
	acked := make([]tally, counters)
	for i := range counters {
		wg.Go(func() { s.counter(ctx, fmt.Sprint("c", i), &acked[i]) })
	}
	for i := range mergers {
		wg.Go(func() { s.merger(ctx, i) })
	}
	var lockedWrites tally
	for range lockers {
		wg.Go(func() { s.locker(ctx, &lockedWrites) })
	}
	for i := range banks {
		wg.Go(func() { s.bank(ctx, i) })
	}
	subs := make([]*subscriber, subscribers)
	for i := range subs {
		subs[i] = &subscriber{}
		wg.Go(func() { s.subscribe(ctx, subs[i]) })
	}

	var samples []sample
	start := time.Now()
	tick := time.NewTicker(every)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C:
		}
		smp := s.sample(srv.Cmd.Process.Pid, data)
		smp.At = time.Since(start).Round(time.Second)
		samples = append(samples, smp)
	}
	tick.Stop()
	wg.Wait()

	t.Logf("%8s %10s %10s %10s %10s %10s", "at", "rss MiB", "goroutines", "open files", "disk MiB", "ops")
	for _, x := range samples {
		t.Logf("%8s %10.1f %10d %10d %10.1f %10d", x.At, float64(x.RSSBytes)/(1<<20), x.Goroutines, x.OpenFiles, float64(x.DiskBytes)/(1<<20), x.Ops)
	}
	if n := s.errors.Load(); n > 0 {
		t.Fatalf("%d unexpected errors; the first: %s", n, s.firstErr.Load())
	}
	// No lost update: each counter holds exactly the increments acknowledged.
	for i := range counters {
		var doc struct{ N int64 }
		s.get("/v1/collections/counters/docs/c"+fmt.Sprint(i), &doc)
		if !acked[i].holds(doc.N) {
			t.Errorf("counter c%d is %d; %s", i, doc.N, &acked[i])
		}
	}
	// Locked read-modify-writes never interleave: the counter they share
	// holds every one.
	var doc struct{ N int64 }
	s.get("/v1/collections/locked/docs/shared", &doc)
	if !lockedWrites.holds(doc.N) {
		t.Errorf("the locked counter is %d; %s", doc.N, &lockedWrites)
	}
	// The bank's total never changes.
	total := int64(0)
	for i := range 2 * banks {
		var acc struct{ Balance int64 }
		s.get("/v1/collections/bank/docs/a"+fmt.Sprint(i), &acc)
		total += acc.Balance
	}
	if total != int64(2*banks)*1000 {
		t.Errorf("the bank holds %d, want %d", total, 2*banks*1000)
	}
	for i, sub := range subs {
		if bad := sub.bad.Load(); bad != nil {
			t.Errorf("subscriber %d: %s", i, *bad)
		}
		if sub.events.Load() == 0 {
			t.Errorf("subscriber %d received no event", i)
		}
	}
	checkTrend(t, samples)
}

// checkTrend fails on growth: the last third of the samples against the
// middle third (the first third is warm-up: caches, memtables, pools).
func checkTrend(t *testing.T, samples []sample) {
	t.Helper()
	if len(samples) < 6 {
		t.Fatalf("%d samples: too few to judge a trend; soak longer or sample more often", len(samples))
	}
	n := len(samples) / 3
	mean := func(xs []sample, f func(sample) int64) float64 {
		var sum int64
		for _, x := range xs {
			sum += f(x)
		}
		return float64(sum) / float64(len(xs))
	}
	mid, last := samples[n:2*n], samples[len(samples)-n:]
	for _, c := range []struct {
		name       string
		f          func(sample) int64
		rel, slack float64
	}{
		{"goroutines", func(x sample) int64 { return x.Goroutines }, 1.2, 20},
		{"open files", func(x sample) int64 { return x.OpenFiles }, 1.2, 10},
		{"RSS", func(x sample) int64 { return x.RSSBytes }, 1.25, 32 << 20},
		{"disk use", func(x sample) int64 { return x.DiskBytes }, 1.5, 64 << 20},
	} {
		m, l := mean(mid, c.f), mean(last, c.f)
		if l > m*c.rel+c.slack {
			t.Errorf("%s grew: %.0f on average in the middle third, %.0f in the last", c.name, m, l)
		}
	}
}

// tally counts the increments of a counter that were acknowledged, and
// those whose answer never came because the run ended (each may or may
// not have been applied).
type tally struct{ acked, unknown atomic.Int64 }

// holds reports whether n can be the counter's value.
func (c *tally) holds(n int64) bool {
	return n >= c.acked.Load() && n <= c.acked.Load()+c.unknown.Load()
}

func (c *tally) String() string {
	return fmt.Sprintf("%d increments were acknowledged and %d cut short by the end of the run", c.acked.Load(), c.unknown.Load())
}

type soak struct {
	t        *testing.T
	base     string
	hc       *http.Client
	ops      atomic.Int64
	errors   atomic.Int64
	firstErr atomic.Value
}

// fail records an unexpected answer, unless the run is ending.
func (s *soak) fail(ctx context.Context, format string, args ...any) {
	if ctx.Err() != nil {
		return
	}
	if s.errors.Add(1) == 1 {
		s.firstErr.Store(fmt.Sprintf(format, args...))
	}
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (s *soak) do(ctx context.Context, method, path, body string, headers ...string) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, strings.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	s.ops.Add(1)
	return answer{resp.StatusCode, resp.Header, b}, err
}

func (s *soak) must(method, path, body string, ok ...int) answer {
	s.t.Helper()
	a, err := s.do(context.Background(), method, path, body)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	for _, st := range ok {
		if a.status == st {
			return a
		}
	}
	s.t.Fatalf("%s %s: %d %s", method, path, a.status, a.body)
	return a
}

func (s *soak) get(path string, into any) {
	s.t.Helper()
	a := s.must("GET", path, "", 200)
	if err := json.Unmarshal(a.body, into); err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
}

// counter increments n in one document by read, then write with If-Match;
// a 412 means another wrote first (not here: one writer per document, but
// the check is the same) and is retried.
func (s *soak) counter(ctx context.Context, id string, acked *tally) {
	path := "/v1/collections/counters/docs/" + id
	if a, err := s.do(ctx, "PUT", path, `{"n":0}`, "If-None-Match: *"); err != nil || a.status != 201 {
		s.fail(ctx, "create %s: %v %d %s", id, err, a.status, a.body)
		return
	}
	for ctx.Err() == nil {
		a, err := s.do(ctx, "GET", path, "")
		if err != nil || a.status != 200 {
			s.fail(ctx, "GET %s: %v %d", id, err, a.status)
			return
		}
		var d struct{ N int64 }
		_ = json.Unmarshal(a.body, &d)
		w, err := s.do(ctx, "PUT", path, fmt.Sprintf(`{"n":%d}`, d.N+1), "If-Match: "+a.header.Get("ETag"))
		switch {
		case err != nil:
			acked.unknown.Add(1)
			s.fail(ctx, "PUT %s: %v", id, err)
			return
		case w.status == 200:
			acked.acked.Add(1)
		case w.status != 412:
			s.fail(ctx, "PUT %s: %d %s", id, w.status, w.body)
			return
		}
	}
}

// merger writes its own field with the version it last wrote: when the
// other merger wrote since, the version is stale and the changes, to
// different fields, merge (200); they never conflict. When the other
// merger wrote more versions meanwhile than the collection's historyLimit
// keeps, the base is gone and the server cannot merge: 409
// version_conflict with the current version, which the merger takes as its
// base for the next write, as a client must.
func (s *soak) merger(ctx context.Context, i int) {
	path := "/v1/collections/merged/docs/m"
	_, _ = s.do(ctx, "PUT", path, `{}`, "If-None-Match: *")
	base := int64(1)
	for n := 0; ctx.Err() == nil; n++ {
		w, err := s.do(ctx, "PATCH", fmt.Sprintf("%s?version=%d", path, base), fmt.Sprintf(`{"f%d":%d}`, i, n), "Content-Type: application/merge-patch+json")
		if err == nil && w.status == 409 {
			var p struct {
				Code    string `json:"code"`
				Current struct {
					Version int64 `json:"version"`
				} `json:"current"`
			}
			if json.Unmarshal(w.body, &p) == nil && p.Code == "version_conflict" && p.Current.Version > base {
				base = p.Current.Version
				continue
			}
		}
		if err != nil || w.status != 200 {
			s.fail(ctx, "merge patch: %v %d %s", err, w.status, w.body)
			return
		}
		var d struct {
			Version int64 `json:"_version"`
		}
		_ = json.Unmarshal(w.body, &d)
		base = d.Version
	}
}

// locker takes the lock on one shared document (waiting for it), reads
// and increments it without a version precondition, and unlocks: only
// the lock keeps the increments from being lost.
func (s *soak) locker(ctx context.Context, writes *tally) {
	path := "/v1/collections/locked/docs/shared"
	for ctx.Err() == nil {
		l, err := s.do(ctx, "POST", path+"/lock", `{"ttl":"30s","wait":"20s"}`)
		if err != nil || l.status == 423 {
			continue
		}
		if l.status != 201 {
			s.fail(ctx, "lock: %d %s", l.status, l.body)
			return
		}
		tok := l.header.Get("Lock-Token")
		var d struct{ N int64 }
		if a, err := s.do(ctx, "GET", path, ""); err == nil && a.status == 200 {
			_ = json.Unmarshal(a.body, &d)
		} else if err == nil && a.status != 404 {
			s.fail(ctx, "GET locked: %d", a.status)
		}
		w, err := s.do(ctx, "PUT", path, fmt.Sprintf(`{"n":%d}`, d.N+1), "Lock-Token: "+tok)
		if err != nil {
			writes.unknown.Add(1)
		}
		if err != nil || (w.status != 200 && w.status != 201) {
			s.fail(ctx, "locked PUT: %v %d %s", err, w.status, w.body)
			_, _ = s.do(context.Background(), "DELETE", path+"/lock", "", "Lock-Token: "+tok)
			return
		}
		writes.acked.Add(1)
		if u, err := s.do(context.Background(), "DELETE", path+"/lock", "", "Lock-Token: "+tok); err != nil || u.status != 204 {
			s.fail(ctx, "unlock: %v %d %s", err, u.status, u.body)
			return
		}
	}
}

// bank moves money between two accounts in atomic batches guarded by
// If-Match; the total never changes.
func (s *soak) bank(ctx context.Context, i int) {
	a, b := fmt.Sprint("a", 2*i), fmt.Sprint("a", 2*i+1)
	for _, id := range []string{a, b} {
		if w, err := s.do(ctx, "PUT", "/v1/collections/bank/docs/"+id, `{"balance":1000}`, "If-None-Match: *"); err != nil || w.status != 201 {
			s.fail(ctx, "open %s: %v %d", id, err, w.status)
			return
		}
	}
	for n := 0; ctx.Err() == nil; n++ {
		from, to := a, b
		if n%2 == 1 {
			from, to = b, a
		}
		var accs [2]struct {
			Balance int64
			etag    string
		}
		for k, id := range []string{from, to} {
			r, err := s.do(ctx, "GET", "/v1/collections/bank/docs/"+id, "")
			if err != nil || r.status != 200 {
				s.fail(ctx, "GET %s: %v %d", id, err, r.status)
				return
			}
			_ = json.Unmarshal(r.body, &accs[k])
			accs[k].etag = r.header.Get("ETag")
		}
		ops, _ := json.Marshal(map[string]any{"ops": []map[string]any{
			{"op": "patch", "collection": "bank", "id": from, "ifMatch": accs[0].etag, "mergePatch": map[string]any{"balance": accs[0].Balance - 7}},
			{"op": "patch", "collection": "bank", "id": to, "ifMatch": accs[1].etag, "mergePatch": map[string]any{"balance": accs[1].Balance + 7}},
		}})
		w, err := s.do(ctx, "POST", "/v1/tx", string(ops))
		if err != nil || w.status != 200 {
			s.fail(ctx, "transfer: %v %d %s", err, w.status, w.body)
			return
		}
	}
}

type subscriber struct {
	events atomic.Int64
	bad    atomic.Pointer[string] // the first violation
}

// subscribe follows the feed over SSE, checking that ids only grow; when
// the stream ends early it resumes from its last id, as a client does.
func (s *soak) subscribe(ctx context.Context, sub *subscriber) {
	last := int64(-1)
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, "GET", s.base+"/v1/events?document=false", nil)
		if last >= 0 {
			req.Header.Set("Last-Event-ID", strconv.FormatInt(last, 10))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			s.fail(ctx, "subscribe: %v", err)
			return
		}
		if resp.StatusCode != 200 {
			resp.Body.Close()
			s.fail(ctx, "subscribe: %d", resp.StatusCode)
			return
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			v, ok := bytes.CutPrefix(sc.Bytes(), []byte("id: "))
			if !ok {
				if bytes.HasPrefix(sc.Bytes(), []byte("data: ")) {
					sub.events.Add(1)
				}
				continue
			}
			id, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil || id < last {
				msg := fmt.Sprintf("id %q after %d", v, last)
				sub.bad.CompareAndSwap(nil, &msg)
			}
			last = id
		}
		resp.Body.Close()
	}
}

// sample reads the server's RSS and open files from /proc, its goroutines
// from /metrics, and the data directory's size.
func (s *soak) sample(pid int, data string) sample {
	var x sample
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				x.RSSBytes = kb << 10
			}
		}
	}
	if fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		x.OpenFiles = int64(len(fds))
	}
	if a, err := s.do(context.Background(), "GET", "/metrics", ""); err == nil {
		for line := range strings.SplitSeq(string(a.body), "\n") {
			if v, ok := strings.CutPrefix(line, "go_goroutines "); ok {
				x.Goroutines, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			}
		}
	}
	_ = filepath.WalkDir(data, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				x.DiskBytes += info.Size()
			}
		}
		return nil
	})
	x.Ops = s.ops.Load()
	return x
}
