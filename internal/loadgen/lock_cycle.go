package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// lockWait is how long a lock-cycle client queues for a lock held by
// another before the server answers 423; a 423 then counts as a conflict
// and the client queues again.
const lockWait = "30s"

// lockTTL bounds how long a lock-cycle lock lives should its client die.
const lockTTL = "60s"

// LockCycle is the lock-cycle workload, which needs truce: --docs
// documents ("l0", "l1", … with a counter "n") in the target's collection
// with "-lock" appended. Each operation is one cycle on a random document:
// take its lock (POST …/lock, queueing up to 30 s behind other holders),
// read it, write it back with its counter plus one and the Lock-Token,
// and release the lock (DELETE …/lock with the token). The write carries
// no version precondition: the lock alone keeps the read-modify-write
// safe, so the counters add up to the cycles only if no two cycles on a
// document overlapped (LockCounters). With --docs 1 every client queues
// on one hot document. Goodput is cycles per second.
func LockCycle(t *Truce) Workload {
	return WorkloadFunc(func(ctx context.Context, cfg Config) (Op, error) {
		collection := t.collection + "-lock"
		if err := t.setCollection(ctx, collection, `{"conflictPolicy":"reject"}`); err != nil {
			return nil, err
		}
		docs := max(cfg.Docs, 1)
		pad := strings.Repeat("p", max(0, cfg.DocSize-len(`{"n":0,"pad":""}`)))
		for i := range docs {
			p := t.docPath(collection, lockKey(i))
			// A lock left by an interrupted run would hold the seed up:
			// break it where the token may (admin scope); a refusal
			// shows in the PUT that follows.
			if _, err := t.do(ctx, "DELETE", p+"/lock?force=true", nil); err != nil {
				return nil, err
			}
			body, err := json.Marshal(lockDoc{N: 0, Pad: pad})
			if err != nil {
				return nil, err
			}
			a, err := t.do(ctx, "PUT", p, body)
			if err != nil {
				return nil, fmt.Errorf("seed %s: %w", lockKey(i), err)
			}
			if a.status != http.StatusOK && a.status != http.StatusCreated {
				return nil, unexpected("PUT", p, a)
			}
		}
		return func(ctx context.Context, c *Client) (Result, error) {
			return lockCycle(ctx, t, t.docPath(collection, lockKey(c.Rand.IntN(docs))), c.ID)
		}, nil
	})
}

// lockKey is the id of document i of lock-cycle.
func lockKey(i int) string { return "l" + strconv.Itoa(i) }

// lockDoc is a lock-cycle document.
type lockDoc struct {
	N   int64  `json:"n"`
	Pad string `json:"pad"`
}

// lockCycle locks the document at p, increments its counter under the
// lock, and unlocks it.
func lockCycle(ctx context.Context, t *Truce, p string, client int) (Result, error) {
	var r Result
	lockBody := []byte(`{"ttl":"` + lockTTL + `","owner":"bench-` + strconv.Itoa(client) + `","wait":"` + lockWait + `"}`)
	var token string
	for attempt := 0; token == ""; attempt++ {
		if attempt > 0 {
			r.Retries++
		}
		a, err := t.do(ctx, "POST", p+"/lock", lockBody)
		if err != nil {
			return r, err
		}
		switch a.status {
		case http.StatusCreated:
			token = a.header.Get("Lock-Token")
			if token == "" {
				return r, fmt.Errorf("POST %s/lock: 201 without a Lock-Token header", p)
			}
		case http.StatusLocked: // waited 30 s in the queue: queue again
			r.Conflicts++
		default:
			return r, unexpected("POST", p+"/lock", a)
		}
	}
	a, err := t.do(ctx, "GET", p, nil)
	if err != nil {
		return r, err
	}
	if a.status != http.StatusOK {
		return r, unexpected("GET", p, a)
	}
	var doc lockDoc
	if err := json.Unmarshal(a.body, &doc); err != nil {
		return r, fmt.Errorf("GET %s: %w", p, err)
	}
	doc.N++
	body, err := json.Marshal(doc)
	if err != nil {
		return r, err
	}
	// Any refusal here, a 423 above all, means the lock did not hold.
	if a, err = t.do(ctx, "PUT", p, body, "Lock-Token", token); err != nil {
		return r, err
	} else if a.status != http.StatusOK {
		return r, unexpected("PUT", p, a)
	}
	r.Writes++
	if a, err = t.do(ctx, "DELETE", p+"/lock", nil, "Lock-Token", token); err != nil {
		return r, err
	} else if a.status != http.StatusNoContent {
		return r, unexpected("DELETE", p+"/lock", a)
	}
	return r, nil
}

// LockCounters reads the documents of a lock-cycle run over docs
// documents and returns the sum of their counters and of their versions.
func LockCounters(ctx context.Context, t *Truce, docs int) (counters, versions int64, err error) {
	return sumDocs(ctx, t, t.collection+"-lock", max(docs, 1), lockKey, "n")
}

// sumDocs reads n documents of collection, named by key, and returns the
// sum of their integer field and of their versions.
func sumDocs(ctx context.Context, t *Truce, collection string, n int, key func(int) string, field string) (sum, versions int64, err error) {
	for i := range n {
		p := t.docPath(collection, key(i))
		a, err := t.do(ctx, "GET", p, nil)
		if err != nil {
			return 0, 0, err
		}
		if a.status != http.StatusOK {
			return 0, 0, unexpected("GET", p, a)
		}
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(a.body, &doc); err != nil {
			return 0, 0, fmt.Errorf("GET %s: %w", p, err)
		}
		var f, v int64
		for name, dst := range map[string]*int64{field: &f, "_version": &v} {
			if raw, ok := doc[name]; ok {
				if err := json.Unmarshal(raw, dst); err != nil {
					return 0, 0, fmt.Errorf("GET %s: %s: %w", p, name, err)
				}
			}
		}
		sum += f
		versions += v
	}
	return sum, versions, nil
}
