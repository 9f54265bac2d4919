package client

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// VersionInfo describes one version in a document's history.
type VersionInfo struct {
	// Version is the version number.
	Version int64 `json:"version"`
	// ETag is the entity tag the document had at this version.
	ETag string `json:"etag"`
	// UpdatedAt is when the version was written.
	UpdatedAt time.Time `json:"updatedAt"`
	// UpdatedBy is who wrote it, when the server recorded that.
	UpdatedBy string `json:"updatedBy,omitempty"`
	// Deleted reports a tombstone: the version that deleted the document.
	Deleted bool `json:"deleted"`
}

// Versions returns an iterator over the kept versions of a document,
// newest first, tombstones included; the document may be deleted. It
// fetches a page at a time (see PageSize); a failure ends the loop with the
// error. A document that never existed is a 404. It takes PageSize.
func (c *Client) Versions(ctx context.Context, collection, id string, opts ...CallOption) iter.Seq2[VersionInfo, error] {
	return func(yield func(VersionInfo, error) bool) {
		cfg, err := applyOptions("Versions", opts, optPageSize)
		if err != nil {
			yield(VersionInfo{}, err)
			return
		}
		path, err := docPath(collection, id)
		if err != nil {
			yield(VersionInfo{}, err)
			return
		}
		path += "/versions"
		before := ""
		for {
			q := url.Values{}
			if cfg.pageSize > 0 {
				q.Set("limit", strconv.Itoa(cfg.pageSize))
			}
			if before != "" {
				q.Set("before", before)
			}
			var page struct {
				Items []VersionInfo `json:"items"`
				Next  *string       `json:"next"`
			}
			if err := c.getJSON(ctx, path, q, cfg.header, &page); err != nil {
				yield(VersionInfo{}, err)
				return
			}
			for _, v := range page.Items {
				if !yield(v, nil) {
					return
				}
			}
			if page.Next == nil || *page.Next == "" {
				return
			}
			if *page.Next == before {
				yield(VersionInfo{}, fmt.Errorf("client: the server gave the same cursor %q twice", before))
				return
			}
			before = *page.Next
		}
	}
}

// Version returns a document as it was at version n: a tombstone (Deleted
// is true) if n deleted it. A version that history no longer keeps is a
// 410 version_trimmed; one that never existed is a 404.
func (c *Client) Version(ctx context.Context, collection, id string, n int64, opts ...CallOption) (*Doc, error) {
	cfg, err := applyOptions("Version", opts)
	if err != nil {
		return nil, err
	}
	path, err := versionPath(collection, id, n)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, &request{method: http.MethodGet, path: path, header: cfg.header})
	if err != nil {
		return nil, err
	}
	return docFrom(collection, resp)
}

// Diff returns the JSON Patch (RFC 6902) that turns version from of a
// document into version to. It compares the user's fields; a tombstone
// counts as {"_deleted": true}. Equal versions give an empty patch.
func (c *Client) Diff(ctx context.Context, collection, id string, from, to int64, opts ...CallOption) ([]PatchOp, error) {
	cfg, err := applyOptions("Diff", opts)
	if err != nil {
		return nil, err
	}
	path, err := docPath(collection, id)
	if err != nil {
		return nil, err
	}
	q := url.Values{"from": {strconv.FormatInt(from, 10)}, "to": {strconv.FormatInt(to, 10)}}
	ops := []PatchOp{}
	if err := c.getJSON(ctx, path+"/diff", q, cfg.header, &ops); err != nil {
		return nil, err
	}
	return ops, nil
}

// Restore writes the content of version n of a document as a new version
// and returns the document as stored. Restoring a tombstone deletes the
// document, and then Restore returns a nil *Doc; restoring a version of a
// deleted document brings it back. It takes IfMatch, IfNoneMatch, Version
// and IdempotencyKey, which apply to the current version.
func (c *Client) Restore(ctx context.Context, collection, id string, n int64, opts ...CallOption) (*Doc, error) {
	cfg, err := applyOptions("Restore", opts, writeOptions...)
	if err != nil {
		return nil, err
	}
	path, err := versionPath(collection, id, n)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, &request{method: http.MethodPost, path: path + "/restore", query: cfg.versionQuery(), header: cfg.header})
	if err != nil {
		return nil, err
	}
	return docFrom(collection, resp)
}

func versionPath(collection, id string, n int64) (string, error) {
	path, err := docPath(collection, id)
	if err != nil {
		return "", err
	}
	if n < 1 {
		return "", fmt.Errorf("client: version %d: versions start at 1", n)
	}
	return path + "/versions/" + strconv.FormatInt(n, 10), nil
}
