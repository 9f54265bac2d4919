package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// MaxGetMany is the most ids the server reads in one GetMany.
const MaxGetMany = 1000

// Lookup is GetMany's answer: one item per id asked for, in the order
// asked, all read in one snapshot of the server's store.
type Lookup struct {
	// Items has one entry per id, in the order of the ids.
	Items []LookupItem
	// AsOf is the change-log seq of the snapshot: Changes or Watch from
	// it sees every later write exactly once.
	AsOf int64
}

// LookupItem is one id of a GetMany and its document.
type LookupItem struct {
	ID string
	// Doc is the live document with its ETag, or nil when the id has none
	// (never created, deleted, or expired).
	Doc *Doc
}

// Docs returns the documents found, in order, without the missing ids.
func (l *Lookup) Docs() []*Doc {
	var out []*Doc
	for _, it := range l.Items {
		if it.Doc != nil {
			out = append(out, it.Doc)
		}
	}
	return out
}

// GetMany reads the live documents of a collection with the given ids in
// one round trip and one consistent snapshot (POST …/docs:get). Each found
// document carries its ETag for a later conditional write. An id without a
// live document is an item with a nil Doc, not an error; more than
// MaxGetMany ids is a 400 invalid_parameter, a malformed id a 400
// invalid_id, and a collection that does not exist a 404.
func (c *Client) GetMany(ctx context.Context, collection string, ids []string, opts ...CallOption) (*Lookup, error) {
	cfg, err := applyOptions("GetMany", opts)
	if err != nil {
		return nil, err
	}
	path, err := collectionPath(collection)
	if err != nil {
		return nil, err
	}
	path += "/docs:get"
	if ids == nil {
		ids = []string{}
	}
	body, err := json.Marshal(struct {
		IDs []string `json:"ids"`
	}{ids})
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, &request{method: http.MethodPost, path: path, header: cfg.header, body: body, ctype: "application/json"})
	if err != nil {
		return nil, err
	}
	var page struct {
		Items []struct {
			ID       string          `json:"id"`
			Found    bool            `json:"found"`
			ETag     string          `json:"etag"`
			Document json.RawMessage `json:"document"`
		} `json:"items"`
		AsOf int64 `json:"asOf"`
	}
	if err := json.Unmarshal(resp.body, &page); err != nil {
		return nil, fmt.Errorf("client: POST %s: the answer does not decode: %w", path, err)
	}
	out := &Lookup{AsOf: page.AsOf, Items: make([]LookupItem, len(page.Items))}
	for i, it := range page.Items {
		out.Items[i].ID = it.ID
		if !it.Found {
			continue
		}
		d, err := parseDoc(collection, it.Document)
		if err != nil {
			return nil, err
		}
		d.ETag = it.ETag
		out.Items[i].Doc = d
	}
	return out, nil
}
