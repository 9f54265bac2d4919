package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Settings are a collection's rules (docs/api.md section 3). The zero value is
// the server's default: reject stale versions, no required preconditions,
// no constraints, no schema, all history kept.
type Settings struct {
	// ConflictPolicy decides what a write with a stale version does:
	// "reject" (the default, 409), "merge", "manual" or
	// "last-write-wins".
	ConflictPolicy string `json:"conflictPolicy,omitempty"`
	// RequirePreconditions refuses (428) writes to existing documents that
	// carry no precondition.
	RequirePreconditions bool `json:"requirePreconditions,omitempty"`
	// Unique lists top-level fields whose values must be unique among
	// live documents (409 unique_violation).
	Unique []string `json:"unique,omitempty"`
	// References maps a top-level field to the collection whose document
	// ids it holds.
	References map[string]string `json:"references,omitempty"`
	// Schema is a JSON Schema (2020-12) that documents must satisfy.
	Schema json.RawMessage `json:"schema,omitempty"`
	// HistoryLimit is the number of versions kept per document; 0 keeps
	// all.
	HistoryLimit int `json:"historyLimit,omitempty"`
	// Indexes lists the secondary indexes that queries read, each a list
	// of dotted paths, such as {{"status", "total"}, {"email"}}.
	Indexes [][]string `json:"indexes,omitempty"`
}

// Collection is a collection as the server describes it.
type Collection struct {
	// Name is the collection's name.
	Name string `json:"name"`
	// Settings are its rules, with the defaults filled in.
	Settings Settings `json:"settings"`
	// Counts counts its documents.
	Counts CollectionCounts `json:"counts"`
	// Building reports that indexes added to the collection are still
	// being built, and BuildingIndexes lists them; queries that need them
	// wait (the client retries the server's 503 index_building).
	Building        bool       `json:"building"`
	BuildingIndexes [][]string `json:"buildingIndexes"`
	// CreatedAt and UpdatedAt are when it was created and when its
	// settings last changed.
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// CollectionCounts counts a collection's documents.
type CollectionCounts struct {
	// Documents is the number of live documents.
	Documents int64 `json:"documents"`
	// Deleted is the number of deleted documents whose history is kept.
	Deleted int64 `json:"deleted"`
}

// PutCollection creates a collection with settings, or replaces the
// settings of an existing one, and returns it. New unique fields and
// references are checked against the documents already there. It takes
// IdempotencyKey.
func (c *Client) PutCollection(ctx context.Context, name string, settings Settings, opts ...CallOption) (*Collection, error) {
	cfg, err := applyOptions("PutCollection", opts, optIdempotencyKey)
	if err != nil {
		return nil, err
	}
	path, err := collectionPath(name)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(settings)
	if err != nil {
		return nil, fmt.Errorf("client: encoding the settings: %w", err)
	}
	resp, err := c.do(ctx, &request{method: http.MethodPut, path: path, header: cfg.header, body: b, ctype: "application/json"})
	if err != nil {
		return nil, err
	}
	return decodeCollection(path, resp.body)
}

// GetCollection returns a collection's settings and counts; 404 when it
// does not exist.
func (c *Client) GetCollection(ctx context.Context, name string, opts ...CallOption) (*Collection, error) {
	cfg, err := applyOptions("GetCollection", opts)
	if err != nil {
		return nil, err
	}
	path, err := collectionPath(name)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, &request{method: http.MethodGet, path: path, header: cfg.header})
	if err != nil {
		return nil, err
	}
	return decodeCollection(path, resp.body)
}

// ListCollections returns every collection, ordered by name.
func (c *Client) ListCollections(ctx context.Context, opts ...CallOption) ([]*Collection, error) {
	cfg, err := applyOptions("ListCollections", opts)
	if err != nil {
		return nil, err
	}
	var page struct {
		Items []*Collection `json:"items"`
	}
	if err := c.getJSON(ctx, "/v1/collections", nil, cfg.header, &page); err != nil {
		return nil, err
	}
	return page.Items, nil
}

// DeleteCollection deletes a collection. One that still holds live
// documents is a 409 not_empty, unless the Force option is given, which
// drops it with all its documents and their history. It takes Force and
// IdempotencyKey.
func (c *Client) DeleteCollection(ctx context.Context, name string, opts ...CallOption) error {
	cfg, err := applyOptions("DeleteCollection", opts, optForce, optIdempotencyKey)
	if err != nil {
		return err
	}
	path, err := collectionPath(name)
	if err != nil {
		return err
	}
	var q url.Values
	if cfg.force {
		q = url.Values{"force": {"true"}}
	}
	_, err = c.do(ctx, &request{method: http.MethodDelete, path: path, query: q, header: cfg.header})
	return err
}

func collectionPath(name string) (string, error) {
	if name == "" {
		return "", errors.New("client: the collection name is empty")
	}
	return "/v1/collections/" + url.PathEscape(name), nil
}

func decodeCollection(path string, body []byte) (*Collection, error) {
	var col Collection
	if err := json.Unmarshal(body, &col); err != nil {
		return nil, fmt.Errorf("client: %s: the answer does not decode: %w", path, err)
	}
	return &col, nil
}
