package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// MergeHot is the merge-hot workload, which needs truce: one hot document
// in a collection (the target's collection with "-merge" appended) under
// the merge conflict policy, and every client changing its own field of
// it. A client reads the document once, then keeps sending the document
// its last answer returned, with its field changed and that answer's
// _version in the body. Whenever another client wrote meanwhile the
// version is stale and the server merges the two changes instead of
// refusing; a 409 (which different fields should never cause) makes the
// client read again. Goodput is the figure, to compare with update-hot.
func MergeHot(t *Truce) Workload {
	return WorkloadFunc(func(ctx context.Context, cfg Config) (Op, error) {
		collection := t.collection + "-merge"
		if err := t.setCollection(ctx, collection, `{"conflictPolicy":"merge"}`); err != nil {
			return nil, err
		}
		clients := max(cfg.Clients, 1)
		seedDoc := map[string]any{}
		for i := range clients {
			seedDoc[fieldName(i)] = 0
		}
		body, err := json.Marshal(seedDoc)
		if err != nil {
			return nil, err
		}
		if pad := cfg.DocSize - len(body) - len(`,"pad":""`); pad > 0 {
			seedDoc["pad"] = strings.Repeat("p", pad)
			if body, err = json.Marshal(seedDoc); err != nil {
				return nil, err
			}
		}
		path := t.docPath(collection, hotKey)
		a, err := t.do(ctx, "PUT", path, body)
		if err != nil {
			return nil, err
		}
		if a.status != http.StatusOK && a.status != http.StatusCreated {
			return nil, unexpected("PUT", path, a)
		}
		last := make([]map[string]any, clients) // each client's last document
		return func(ctx context.Context, c *Client) (Result, error) {
			var r Result
			field := fieldName(c.ID)
			for attempt := 0; ; attempt++ {
				if attempt > 0 {
					r.Retries++
				}
				doc := last[c.ID]
				if doc == nil {
					a, err := t.do(ctx, "GET", path, nil)
					if err != nil {
						return r, err
					}
					if a.status != http.StatusOK {
						return r, unexpected("GET", path, a)
					}
					if err := json.Unmarshal(a.body, &doc); err != nil {
						return r, fmt.Errorf("GET %s: %w", path, err)
					}
				}
				doc[field] = c.Seq + 1
				body, err := json.Marshal(doc)
				if err != nil {
					return r, err
				}
				a, err := t.do(ctx, "PUT", path, body)
				if err != nil {
					return r, err
				}
				switch a.status {
				case http.StatusOK:
					last[c.ID] = nil
					var next map[string]any
					if err := json.Unmarshal(a.body, &next); err != nil {
						return r, fmt.Errorf("PUT %s: %w", path, err)
					}
					last[c.ID] = next
					r.Writes++
					if a.header.Get("Truce-Merged") != "" {
						r.Merged++
					}
					return r, nil
				case http.StatusConflict:
					r.Conflicts++
					last[c.ID] = nil
					continue
				}
				return r, unexpected("PUT", path, a)
			}
		}, nil
	})
}

// fieldName is the field of the hot document that client i changes.
func fieldName(i int) string { return "f" + strconv.Itoa(i) }
