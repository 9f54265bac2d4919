package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// ChangesPage is one page of the change feed.
type ChangesPage struct {
	Items []*Event
	// Last is the position the page reaches: pass it as Since to get the
	// next page. It moves past events the filter leaves out, too.
	Last int64
}

// Changes returns up to limit events (0 means 100, at most 1000) after
// f.Since that pass f's filter, as GET /v1/changes does; with f.Since 0 it
// starts at the oldest event the server keeps. When there is none yet, it
// waits up to wait (at most 5m) for one, then returns an empty page. A
// Since older than the server keeps is an *Error with CodeEventsExpired.
// An http.Client given with WithHTTPClient needs a Timeout above wait.
func (c *Client) Changes(ctx context.Context, f WatchFilter, limit int, wait time.Duration) (*ChangesPage, error) {
	w := &watch{c: c, f: f, pos: f.Since, hasPos: f.Since > 0 || f.FromStart}
	q := w.query()
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if wait > 0 {
		q.Set("wait", wait.String())
	}
	resp, err := c.do(ctx, &request{method: http.MethodGet, path: "/v1/changes", query: q})
	if err != nil {
		return nil, err
	}
	var page struct {
		Items []json.RawMessage `json:"items"`
		Last  int64             `json:"last"`
	}
	if err := json.Unmarshal(resp.body, &page); err != nil {
		return nil, fmt.Errorf("client: changes: the answer is not a page: %w", err)
	}
	out := &ChangesPage{Items: make([]*Event, 0, len(page.Items)), Last: page.Last}
	for _, raw := range page.Items {
		e := &Event{}
		if err := json.Unmarshal(raw, e); err != nil {
			return nil, fmt.Errorf("client: changes: an event is not JSON: %w", err)
		}
		e.Raw = raw
		out.Items = append(out.Items, e)
	}
	return out, nil
}
