package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
)

// ErrNotModified is Get's answer to IfNoneMatch(etag) when the document's
// ETag is still etag (304): the copy the caller holds is current.
var ErrNotModified = errors.New("client: not modified")

// Get returns the current version of a live document. It returns an
// *Error with status 404 (IsNotFound) when there is none. It takes IfMatch
// (412 unless the ETag matches) and IfNoneMatch (ErrNotModified when it
// matches).
func (c *Client) Get(ctx context.Context, collection, id string, opts ...CallOption) (*Doc, error) {
	cfg, err := applyOptions("Get", opts, optIfMatch, optIfNoneMatch)
	if err != nil {
		return nil, err
	}
	path, err := docPath(collection, id)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, &request{method: http.MethodGet, path: path, header: cfg.header})
	if err != nil {
		return nil, err
	}
	if resp.status == http.StatusNotModified {
		return nil, ErrNotModified
	}
	return docFrom(collection, resp)
}

// Create stores a new document in a collection (created with default
// settings if it does not exist) and returns it as stored, with the id
// the server chose unless the body names one in _id. body is a JSON
// object: a struct, a map, a json.RawMessage or []byte, a *Doc. A live
// document with that _id is a 409 already_exists. It takes
// IdempotencyKey.
func (c *Client) Create(ctx context.Context, collection string, body any, opts ...CallOption) (*Doc, error) {
	cfg, err := applyOptions("Create", opts, optIdempotencyKey, optLockToken)
	if err != nil {
		return nil, err
	}
	path, err := docPath(collection)
	if err != nil {
		return nil, err
	}
	b, err := encodeBody(body)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, &request{method: http.MethodPost, path: path, header: cfg.header, body: b, ctype: "application/json"})
	if err != nil {
		return nil, err
	}
	return docFrom(collection, resp)
}

// Put creates or replaces a whole document and returns it as stored. body
// is a JSON object, as for Create; a _version in it (a *Doc's Raw has one)
// makes the write conditional on that version. It takes IfMatch,
// IfNoneMatch ("*": create only), Version and IdempotencyKey.
func (c *Client) Put(ctx context.Context, collection, id string, body any, opts ...CallOption) (*Doc, error) {
	cfg, err := applyOptions("Put", opts, writeOptions...)
	if err != nil {
		return nil, err
	}
	path, err := docPath(collection, id)
	if err != nil {
		return nil, err
	}
	b, err := encodeBody(body)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, &request{method: http.MethodPut, path: path, query: cfg.versionQuery(),
		header: cfg.header, body: b, ctype: "application/json"})
	if err != nil {
		return nil, err
	}
	return docFrom(collection, resp)
}

// Patch is a change to part of a document: a JSON Merge Patch or a JSON
// Patch. Make one with MergePatch or JSONPatch.
type Patch struct {
	ctype string
	body  any
}

// MergePatch returns a JSON Merge Patch (RFC 7396): v encodes as an
// object whose members replace the document's, recursively; a null
// member removes one.
func MergePatch(v any) Patch { return Patch{ctype: "application/merge-patch+json", body: v} }

// JSONPatch returns a JSON Patch (RFC 6902): v encodes as an array of
// operations, such as a []PatchOp. A failed "test" operation is a 409
// patch_test_failed with the current document.
func JSONPatch(v any) Patch { return Patch{ctype: "application/json-patch+json", body: v} }

// PatchOp is one operation of a JSON Patch (RFC 6902), as Diff returns
// them and JSONPatch takes them.
type PatchOp struct {
	// Op is add, remove, replace, move, copy or test.
	Op string `json:"op"`
	// Path is the JSON Pointer the operation applies to.
	Path string `json:"path"`
	// From is the source of move and copy.
	From string `json:"from,omitempty"`
	// Value is the value of add, replace and test, as JSON.
	Value json.RawMessage `json:"value,omitempty"`
}

// Patch changes part of a live document and returns it as stored. It
// takes IfMatch, IfNoneMatch, Version and IdempotencyKey.
func (c *Client) Patch(ctx context.Context, collection, id string, patch Patch, opts ...CallOption) (*Doc, error) {
	cfg, err := applyOptions("Patch", opts, writeOptions...)
	if err != nil {
		return nil, err
	}
	if patch.ctype == "" {
		return nil, errors.New("client: Patch needs a MergePatch or a JSONPatch")
	}
	path, err := docPath(collection, id)
	if err != nil {
		return nil, err
	}
	b, err := encodeBody(patch.body)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, &request{method: http.MethodPatch, path: path, query: cfg.versionQuery(),
		header: cfg.header, body: b, ctype: patch.ctype})
	if err != nil {
		return nil, err
	}
	return docFrom(collection, resp)
}

// Delete deletes a live document: the server writes a tombstone version,
// so its history stays readable and its version continues if the id is
// created again. It takes IfMatch, IfNoneMatch, Version and
// IdempotencyKey.
func (c *Client) Delete(ctx context.Context, collection, id string, opts ...CallOption) error {
	cfg, err := applyOptions("Delete", opts, writeOptions...)
	if err != nil {
		return err
	}
	path, err := docPath(collection, id)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, &request{method: http.MethodDelete, path: path, query: cfg.versionQuery(), header: cfg.header})
	return err
}

// List returns an iterator over the live documents of a collection,
// ordered by id. It fetches a page at a time (see PageSize) as the loop
// asks for more; a failure ends the loop with a nil *Doc and the error.
// Documents written while the loop runs may or may not appear, but none
// appears twice. The documents carry no ETag: the server's list answer has
// none. It takes PageSize.
//
//	for doc, err := range c.List(ctx, "notes") {
//		if err != nil {
//			return err
//		}
//		…
//	}
func (c *Client) List(ctx context.Context, collection string, opts ...CallOption) iter.Seq2[*Doc, error] {
	return func(yield func(*Doc, error) bool) {
		cfg, err := applyOptions("List", opts, optPageSize)
		if err != nil {
			yield(nil, err)
			return
		}
		path, err := docPath(collection)
		if err != nil {
			yield(nil, err)
			return
		}
		after := ""
		for {
			q := url.Values{}
			if cfg.pageSize > 0 {
				q.Set("limit", strconv.Itoa(cfg.pageSize))
			}
			if after != "" {
				q.Set("after", after)
			}
			var page struct {
				Items []json.RawMessage `json:"items"`
				Next  *string           `json:"next"`
			}
			if err := c.getJSON(ctx, path, q, cfg.header, &page); err != nil {
				yield(nil, err)
				return
			}
			for _, raw := range page.Items {
				d, err := parseDoc(collection, raw)
				if err != nil {
					yield(nil, err)
					return
				}
				if !yield(d, nil) {
					return
				}
			}
			if page.Next == nil || *page.Next == "" {
				return
			}
			if *page.Next == after {
				yield(nil, fmt.Errorf("client: the server gave the same cursor %q twice", after))
				return
			}
			after = *page.Next
		}
	}
}

// getJSON GETs path and decodes the answer into v.
func (c *Client) getJSON(ctx context.Context, path string, q url.Values, h http.Header, v any) error {
	resp, err := c.do(ctx, &request{method: http.MethodGet, path: path, query: q, header: h})
	if err != nil {
		return err
	}
	if err := json.Unmarshal(resp.body, v); err != nil {
		return fmt.Errorf("client: GET %s: the answer does not decode: %w", path, err)
	}
	return nil
}

// versionQuery returns ?version= for the Version option.
func (c *callConfig) versionQuery() url.Values {
	if c.version == 0 {
		return nil
	}
	return url.Values{"version": {strconv.FormatInt(c.version, 10)}}
}

// docFrom reads the document in a successful answer.
func docFrom(collection string, resp *response) (*Doc, error) {
	if resp.status == http.StatusNoContent {
		return nil, nil
	}
	if resp.status == http.StatusNotModified || len(resp.body) == 0 {
		return nil, fmt.Errorf("client: the server answered %d without a document", resp.status)
	}
	d, err := parseDoc(collection, resp.body)
	if err != nil {
		return nil, err
	}
	d.ETag = resp.header.Get("ETag")
	d.Merged = parseMerged(resp.header.Get("Truce-Merged"))
	return d, nil
}
