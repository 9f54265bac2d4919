package client

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
)

// Query is a query of a collection's live documents (POST
// /v1/collections/{c}/query).
type Query struct {
	// Where maps dotted paths to a value (equality) or to operators:
	// map[string]any{"status": "open", "total": map[string]any{"$gte": 10}}.
	// Any value that encodes as a JSON object will do, json.RawMessage
	// included. Nil matches every document.
	Where any `json:"where,omitempty"`
	// OrderBy lists the paths to sort by, all in one direction.
	OrderBy []OrderBy `json:"orderBy,omitempty"`
	// Limit is the page size (1-1000); 0 lets the server choose (100).
	Limit int `json:"limit,omitempty"`
	// Fields, when set, projects each document onto these paths; _id and
	// _version are always there.
	Fields []string `json:"fields,omitempty"`
	// Scan lets the server examine documents when no index serves the
	// query, up to its --max-scan-docs per page.
	Scan bool `json:"scan,omitempty"`
}

// OrderBy is one sort path of a Query.
type OrderBy struct {
	// Field is the dotted path to sort by.
	Field string `json:"field"`
	// Desc sorts from the highest value down.
	Desc bool `json:"desc,omitempty"`
}

// QueryPage is one page of a query's answer.
type QueryPage struct {
	// Items are the page's documents, each with the Version and ETag
	// (the answer's _etag) that a conditional write sends.
	Items []*Doc
	// Next is the cursor of the next page, "" after the last.
	Next string
	// AsOf is the change-log position of the snapshot the page was read
	// from: Watch or Changes from AsOf carry every later change.
	AsOf int64
}

// QueryPage reads one page of q: the first when after is "", else the
// page that the cursor after (a previous page's Next) names.
func (c *Client) QueryPage(ctx context.Context, collection string, q Query, after string, opts ...CallOption) (*QueryPage, error) {
	cfg, err := applyOptions("QueryPage", opts)
	if err != nil {
		return nil, err
	}
	path, err := collectionPath(collection)
	if err != nil {
		return nil, err
	}
	path += "/query"
	body, err := json.Marshal(struct {
		Query
		After string `json:"after,omitempty"`
	}{q, after})
	if err != nil {
		return nil, fmt.Errorf("client: QueryPage: the query does not encode: %w", err)
	}
	resp, err := c.do(ctx, &request{method: http.MethodPost, path: path, header: cfg.header, body: body, ctype: "application/json"})
	if err != nil {
		return nil, err
	}
	var page struct {
		Items []json.RawMessage `json:"items"`
		Next  *string           `json:"next"`
		AsOf  int64             `json:"asOf"`
	}
	if err := json.Unmarshal(resp.body, &page); err != nil {
		return nil, fmt.Errorf("client: POST %s: the answer does not decode: %w", path, err)
	}
	out := &QueryPage{AsOf: page.AsOf}
	if page.Next != nil {
		out.Next = *page.Next
	}
	for _, raw := range page.Items {
		d, err := parseDoc(collection, raw)
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, d)
	}
	return out, nil
}

// Query returns the documents that match q, in its order, following the
// pages' cursors as the loop asks for more. Each page is a snapshot of its
// own: a document written while the loop runs may be seen at either
// version, or (when the write moves it past the cursor) twice or not at
// all; use QueryPage and its AsOf with the change feed to follow a result
// exactly. An error ends the sequence.
func (c *Client) Query(ctx context.Context, collection string, q Query, opts ...CallOption) iter.Seq2[*Doc, error] {
	return func(yield func(*Doc, error) bool) {
		after := ""
		for {
			page, err := c.QueryPage(ctx, collection, q, after, opts...)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, d := range page.Items {
				if !yield(d, nil) {
					return
				}
			}
			if page.Next == "" {
				return
			}
			if page.Next == after {
				yield(nil, fmt.Errorf("client: the server gave the same cursor %q twice", after))
				return
			}
			after = page.Next
		}
	}
}
