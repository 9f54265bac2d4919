package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
)

// UpdateTuned is the update-tuned workload, which needs truce: the update
// workload as a tuned client does it, in one round trip where it can. The
// clients share what they last saw of each of cfg.Docs documents (its
// ETag), as the goroutines of one application process would; an operation
// PUTs with If-Match on that ETag without reading first, and on a 412
// takes the ETag of the problem's current member (the document as it is
// now, which a real client would re-apply its change to) and PUTs again,
// still without a GET. Only a document never seen is read first. It
// measures the same writes as update, with fewer requests: compare the two
// on truce, not with the other systems, whose update loop reads each time.
func UpdateTuned(t *Truce) Workload {
	return WorkloadFunc(func(ctx context.Context, cfg Config) (Op, error) {
		if err := seed(ctx, t, cfg); err != nil {
			return nil, err
		}
		docs := max(cfg.Docs, 1)
		bodies := clientBodies(cfg)
		seen := make([]atomic.Pointer[string], docs)
		return func(ctx context.Context, c *Client) (Result, error) {
			i := c.Rand.IntN(docs)
			return updateTuned(ctx, t, docKey(i), &seen[i], bodies[c.ID%len(bodies)], c)
		}, nil
	})
}

// updateTuned writes body over key with If-Match on the ETag in seen,
// reading it first only when seen is empty, and re-applying it to the
// current version a 412 carries until the write succeeds.
func updateTuned(ctx context.Context, t *Truce, key string, seen *atomic.Pointer[string], body []byte, c *Client) (Result, error) {
	var r Result
	etag := seen.Load()
	if etag == nil {
		_, tag, found, err := t.Get(ctx, key)
		if err != nil {
			return r, err
		}
		if !found {
			return r, fmt.Errorf("update %s: not found", key)
		}
		etag = &tag
	}
	p := t.docPath(t.collection, key)
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			r.Retries++
		}
		Stamp(body, uint64(c.ID)<<32|c.Seq)
		a, err := t.do(ctx, "PUT", p, body, "If-Match", *etag)
		if err != nil {
			return r, err
		}
		switch a.status {
		case http.StatusOK:
			tag := a.header.Get("ETag")
			seen.Store(&tag)
			r.Writes++
			return r, nil
		case http.StatusPreconditionFailed:
			var problem struct {
				Current *struct {
					ETag string `json:"etag"`
				} `json:"current"`
			}
			if err := json.Unmarshal(a.body, &problem); err != nil || problem.Current == nil || problem.Current.ETag == "" {
				return r, fmt.Errorf("PUT %s: a 412 without the current ETag: %s", p, a.body)
			}
			etag = &problem.Current.ETag
			seen.Store(etag)
			r.Conflicts++
		default:
			return r, unexpected("PUT", p, a)
		}
	}
}
