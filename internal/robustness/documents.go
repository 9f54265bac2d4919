package robustness

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"

	"github.com/anishathalye/porcupine"
)

// Documents is the versioned-document workload: clients read, create
// (If-None-Match: * and POST with _id), replace (If-Match, "_version", and
// unconditionally), merge-patch (?version=) and delete (If-Match and
// ?version=) a few documents of one collection, and the history is checked
// against DocModel, document by document.
type Documents struct {
	// Collection is where the documents live.
	Collection string
	// Keys is how many documents the clients share; few keys mean many
	// conflicts.
	Keys int

	mu    sync.Mutex
	acked []ack // acknowledged writes not yet checked after a restart
	last  map[string]ack
	// stored holds, per key, the value of every version the server keeps
	// (all of them: historyLimit 0), read by Settle; nil before.
	stored map[string]map[string]bool
}

// ack is one acknowledged write: after it, key was at version with value
// (or deleted).
type ack struct {
	key     string
	version int64
	deleted bool
	value   string
}

// NewDocuments returns the workload on keys documents of collection.
func NewDocuments(collection string, keys int) *Documents {
	return &Documents{Collection: collection, Keys: keys, last: map[string]ack{}}
}

// Name implements Workload.
func (w *Documents) Name() string { return "documents" }

// Setup implements Workload: the collection keeps every version (so that
// CheckAcked can read any acknowledged one back) and rejects stale writes.
func (w *Documents) Setup(ctx context.Context, s *Session) error {
	body := []byte(`{"conflictPolicy":"reject","historyLimit":0}`)
	r, out := s.Do(ctx, rand.New(rand.NewPCG(0, 0)), "PUT", "/v1/collections/"+w.Collection, body)
	if out != OK {
		return fmt.Errorf("create collection %s: %s", w.Collection, out)
	}
	if r.Status != http.StatusOK && r.Status != http.StatusCreated {
		return fmt.Errorf("create collection %s: status %d: %s", w.Collection, r.Status, r.Body)
	}
	return nil
}

// Model implements Workload.
func (w *Documents) Model() porcupine.Model { return DocModel() }

// NewClient implements Workload.
func (w *Documents) NewClient(id int) Client {
	return &docClient{w: w, id: id, seen: map[string]seenDoc{}}
}

func (w *Documents) key(i int) string { return "k" + strconv.Itoa(i) }

func (w *Documents) path(key string) string {
	return "/v1/collections/" + w.Collection + "/docs/" + key
}

func (w *Documents) recordAck(a ack) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.acked = append(w.acked, a)
	if a.version > w.last[a.key].version {
		w.last[a.key] = a
	}
}

// docClient is one client of Documents. It remembers the last state it
// saw of each document, so that its preconditions are often, but not
// always, current.
type docClient struct {
	w    *Documents
	id   int
	n    int
	seen map[string]seenDoc
}

type seenDoc struct {
	state DocState
	etag  string
}

// Op implements Client.
func (c *docClient) Op(ctx context.Context, s *Session, rng *rand.Rand) Result {
	key := c.w.key(rng.IntN(c.w.Keys))
	seen, known := c.seen[key]
	c.n++
	in := DocInput{Key: key, Value: fmt.Sprintf("c%d-%d", c.id, c.n)}
	ops := []DocOp{OpRead, OpRead, OpCreate, OpPost, OpPutBlind}
	if known && seen.state.Exists {
		ops = append(ops, OpPutIfMatch, OpPutIfMatch, OpPutVersion, OpPutVersion, OpPatchVersion, OpDeleteIfMatch, OpDeleteVersion, OpReadIfNone)
	}
	in.Op = ops[rng.IntN(len(ops))]
	if in.Op == OpRead || in.Op == OpReadIfNone {
		in.Value = ""
	}
	if in.Op == OpPutIfMatch || in.Op == OpDeleteIfMatch || in.Op == OpReadIfNone {
		in.IfVersion, in.IfValue = seen.state.Version, seen.state.Value
	}
	if in.Op == OpPutVersion || in.Op == OpPatchVersion || in.Op == OpDeleteVersion {
		in.Version = seen.state.Version
	}

	value, _ := json.Marshal(in.Value)
	path := c.w.path(key)
	var r *Response
	var outcome Outcome
	switch in.Op {
	case OpRead:
		r, outcome = s.Do(ctx, rng, "GET", path, nil)
	case OpReadIfNone:
		r, outcome = s.Do(ctx, rng, "GET", path, nil, "If-None-Match: "+seen.etag)
	case OpCreate:
		r, outcome = s.Do(ctx, rng, "PUT", path, []byte(`{"v":`+string(value)+`}`), "If-None-Match: *")
	case OpPost:
		r, outcome = s.Do(ctx, rng, "POST", "/v1/collections/"+c.w.Collection+"/docs",
			[]byte(`{"_id":"`+key+`","v":`+string(value)+`}`))
	case OpPutIfMatch:
		r, outcome = s.Do(ctx, rng, "PUT", path, []byte(`{"v":`+string(value)+`}`), "If-Match: "+seen.etag)
	case OpPutVersion:
		r, outcome = s.Do(ctx, rng, "PUT", path, []byte(`{"v":`+string(value)+`,"_version":`+strconv.FormatInt(in.Version, 10)+`}`))
	case OpPutBlind:
		r, outcome = s.Do(ctx, rng, "PUT", path, []byte(`{"v":`+string(value)+`}`))
	case OpPatchVersion:
		r, outcome = s.Do(ctx, rng, "PATCH", path+"?version="+strconv.FormatInt(in.Version, 10),
			[]byte(`{"v":`+string(value)+`}`), "Content-Type: application/merge-patch+json")
	case OpDeleteIfMatch:
		r, outcome = s.Do(ctx, rng, "DELETE", path, nil, "If-Match: "+seen.etag)
	case OpDeleteVersion:
		r, outcome = s.Do(ctx, rng, "DELETE", path+"?version="+strconv.FormatInt(in.Version, 10), nil)
	}
	if outcome != OK {
		return Result{Input: in, Output: DocOutput{Unknown: true}, Outcome: outcome}
	}
	out := c.parse(in, r)
	return Result{Input: in, Output: out, Outcome: OK}
}

// parse turns an answer into a DocOutput, and learns from it: the state a
// read or write returned, or the current state a 409/412 carries.
func (c *docClient) parse(in DocInput, r *Response) DocOutput {
	out := DocOutput{Status: r.Status}
	switch r.Status {
	case http.StatusOK, http.StatusCreated:
		var d struct {
			Version int64  `json:"_version"`
			V       string `json:"v"`
		}
		if err := json.Unmarshal(r.Body, &d); err != nil {
			out.Code = "unparsable: " + err.Error()
			return out
		}
		out.Version, out.Value, out.ETag = d.Version, d.V, r.Header.Get("ETag")
		st := DocState{Exists: true, Version: d.Version, Value: d.V}
		c.seen[in.Key] = seenDoc{state: st, etag: out.ETag}
		if in.Op != OpRead && in.Op != OpReadIfNone {
			c.w.recordAck(ack{key: in.Key, version: d.Version, value: d.V})
		}
	case http.StatusNotModified:
		// The state it named is current: nothing to learn.
	case http.StatusNoContent:
		// A delete: the tombstone is the version after the one it named.
		v := in.Version
		if in.Op == OpDeleteIfMatch {
			v = in.IfVersion
		}
		c.seen[in.Key] = seenDoc{state: DocState{Version: v + 1}}
		c.w.recordAck(ack{key: in.Key, version: v + 1, deleted: true})
	default:
		var p struct {
			Code    string `json:"code"`
			Current *struct {
				Version  int64  `json:"version"`
				ETag     string `json:"etag"`
				Document struct {
					V string `json:"v"`
				} `json:"document"`
			} `json:"current"`
		}
		if err := json.Unmarshal(r.Body, &p); err != nil {
			out.Code = "unparsable: " + err.Error()
			return out
		}
		out.Code = p.Code
		if p.Current != nil && p.Current.ETag != "" {
			c.seen[in.Key] = seenDoc{state: DocState{Exists: true, Version: p.Current.Version, Value: p.Current.Document.V}, etag: p.Current.ETag}
		} else if r.Status == http.StatusNotFound {
			c.seen[in.Key] = seenDoc{}
		}
	}
	return out
}

// CheckHistory implements HistoryChecker: an ETag is never reused for a
// different state of a document, and a state keeps its ETag (across
// restarts too): docs/api.md §1.
func (w *Documents) CheckHistory(history []porcupine.Operation) error {
	type named struct {
		key   string
		state DocState
	}
	byETag := map[string]named{}
	byState := map[named]string{}
	for _, op := range history {
		in, out := op.Input.(DocInput), op.Output.(DocOutput)
		if out.Unknown || out.ETag == "" {
			continue
		}
		n := named{in.Key, DocState{Exists: true, Version: out.Version, Value: out.Value}}
		if prev, ok := byETag[out.ETag]; ok && prev != n {
			return fmt.Errorf("ETag %s named %s %v and %s %v", out.ETag, prev.key, prev.state, n.key, n.state)
		}
		byETag[out.ETag] = n
		if prev, ok := byState[n]; ok && prev != out.ETag {
			return fmt.Errorf("%s %v had ETag %s and later %s", n.key, n.state, prev, out.ETag)
		}
		byState[n] = out.ETag
	}
	return nil
}

// CheckAcked implements AckChecker: every write acknowledged since the
// last call is in the document's history with what it wrote, and no
// document is older than its latest acknowledged write.
func (w *Documents) CheckAcked(ctx context.Context, s *Session, _ bool) (checked int, lost []string, err error) {
	w.mu.Lock()
	acks := w.acked
	w.acked = nil
	for _, a := range w.last {
		acks = append(acks, a)
	}
	w.mu.Unlock()
	// Eight readers at once: a long run acknowledges tens of thousands.
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	next := 0
	for g := range 8 {
		rng := rand.New(rand.NewPCG(1, uint64(g)))
		wg.Go(func() {
			for {
				mu.Lock()
				if next == len(acks) || firstErr != nil {
					mu.Unlock()
					return
				}
				a := acks[next]
				next++
				mu.Unlock()
				bad, err := w.readBack(ctx, s, rng, a)
				mu.Lock()
				switch {
				case err != nil:
					firstErr = err
				case bad != "":
					lost = append(lost, bad)
					checked++
				default:
					checked++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	err = firstErr
	return checked, lost, err
}

// readBack reads version a.version of a.key and says how it differs from
// what was acknowledged ("" when it does not).
func (w *Documents) readBack(ctx context.Context, s *Session, rng *rand.Rand, a ack) (string, error) {
	path := w.path(a.key) + "/versions/" + strconv.FormatInt(a.version, 10)
	var r *Response
	for try := 0; ; try++ {
		var out Outcome
		if r, out = s.Do(ctx, rng, "GET", path, nil); out == OK {
			break
		}
		if try == 20 || ctx.Err() != nil {
			return "", fmt.Errorf("GET %s: no answer", path)
		}
	}
	var d struct {
		Version int64  `json:"_version"`
		Deleted bool   `json:"_deleted"`
		V       string `json:"v"`
	}
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &d) != nil ||
		d.Version != a.version || d.Deleted != a.deleted || (!a.deleted && d.V != a.value) {
		return fmt.Sprintf("%s version %d (deleted=%v, value %q): GET %s answered %d %s",
			a.key, a.version, a.deleted, a.value, path, r.Status, r.Body), nil
	}
	return "", nil
}

// Resolve implements Resolver: a read whose answer was lost tells
// nothing and is left out; so is a write of a value that no stored version
// holds (Settle read them all, and every write's value is its own), which
// never took effect. Any other write stays, as it may have.
func (w *Documents) Resolve(op porcupine.Operation) (porcupine.Operation, bool) {
	in := op.Input.(DocInput)
	switch in.Op {
	case OpRead, OpReadIfNone:
		return op, false
	case OpCreate, OpPost, OpPutIfMatch, OpPutVersion, OpPutBlind, OpPatchVersion:
		if w.stored != nil && !w.stored[in.Key][in.Value] {
			return op, false
		}
	}
	return op, true
}

// Settle implements Settler: it reads the value of every stored version of
// every document, for Resolve.
func (w *Documents) Settle(ctx context.Context, s *Session) error {
	rng := rand.New(rand.NewPCG(2, 2))
	stored := map[string]map[string]bool{}
	for i := range w.Keys {
		key := w.key(i)
		stored[key] = map[string]bool{}
		var versions []int64
		for before := ""; ; {
			path := w.path(key) + "/versions?limit=100"
			if before != "" {
				path += "&before=" + before
			}
			r, out := s.Do(ctx, rng, "GET", path, nil)
			if out != OK {
				return fmt.Errorf("list the versions of %s: %s", key, out)
			}
			if r.Status == http.StatusNotFound {
				break // never written
			}
			var page struct {
				Items []struct {
					Version int64 `json:"version"`
					Deleted bool  `json:"deleted"`
				} `json:"items"`
				Next *string `json:"next"`
			}
			if r.Status != http.StatusOK {
				return fmt.Errorf("list the versions of %s: status %d: %s", key, r.Status, r.Body)
			}
			if err := json.Unmarshal(r.Body, &page); err != nil {
				return fmt.Errorf("list the versions of %s: %v", key, err)
			}
			for _, it := range page.Items {
				if !it.Deleted {
					versions = append(versions, it.Version)
				}
			}
			if page.Next == nil {
				break
			}
			before = *page.Next
		}
		for _, v := range versions {
			r, out := s.Do(ctx, rng, "GET", w.path(key)+"/versions/"+strconv.FormatInt(v, 10), nil)
			if out != OK || r.Status != http.StatusOK {
				return fmt.Errorf("read version %d of %s: %s %v", v, key, out, r)
			}
			var d struct {
				V string `json:"v"`
			}
			if err := json.Unmarshal(r.Body, &d); err != nil {
				return fmt.Errorf("read version %d of %s: %v", v, key, err)
			}
			stored[key][d.V] = true
		}
	}
	w.stored = stored
	return nil
}
