package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// queryPage is the page a query operation asks for.
const queryPage = 100

// Query is the query workload, which needs truce: each operation asks for
// the page of queryPage documents whose counter n comes first at or after
// a random one (POST /v1/collections/{c}/query, where n ≥ it, ordered by
// n), which the index ["n"] serves: Prepare declares it, seeds the
// documents and waits for the index to be built if the collection had
// documents before. What a client sees of an indexed page: with --docs
// 100000, a page of 100 out of 100,000.
func Query(t *Truce) Workload {
	return WorkloadFunc(func(ctx context.Context, cfg Config) (Op, error) {
		if !slices.ContainsFunc(t.Indexes, func(ix []string) bool { return slices.Equal(ix, []string{"n"}) }) {
			t.Indexes = append(t.Indexes, []string{"n"})
		}
		if err := seed(ctx, t, cfg); err != nil {
			return nil, err
		}
		docs := max(cfg.Docs, 1)
		path := t.collectionPath(t.collection) + "/query"
		page := func(ctx context.Context, from int) (*answer, error) {
			body := fmt.Appendf(nil, `{"where":{"n":{"$gte":"%0*d"}},"orderBy":[{"field":"n"}],"limit":%d}`, counterWidth, from, queryPage)
			return t.do(ctx, "POST", path, body)
		}
		// An index added to a collection with documents is built in the
		// background; until then the query is 503 index_building.
		for deadline := time.Now().Add(time.Minute); ; {
			a, err := page(ctx, 0)
			if err != nil {
				return nil, err
			}
			if a.status == http.StatusOK {
				break
			}
			if a.status != http.StatusServiceUnavailable || time.Now().After(deadline) {
				return nil, unexpected("POST", path, a)
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
		return func(ctx context.Context, c *Client) (Result, error) {
			from := c.Rand.IntN(max(docs-queryPage, 0) + 1)
			a, err := page(ctx, from)
			if err != nil {
				return Result{}, err
			}
			if a.status != http.StatusOK {
				return Result{}, unexpected("POST", path, a)
			}
			// Every item carries its _id; the bodies (Doc) have no other.
			want := min(queryPage, docs-from)
			if n := bytes.Count(a.body, []byte(`"_id":`)); n != want {
				return Result{}, fmt.Errorf("POST %s from n=%d: %d items, want %d", path, from, n, want)
			}
			return Result{Reads: want}, nil
		}, nil
	})
}
