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
	"strings"
	"time"
)

// The states of a recorded conflict (Conflict.Status).
const (
	ConflictOpen      = "open"
	ConflictResolved  = "resolved"
	ConflictDismissed = "dismissed"
)

// The strategies of Resolve.
const (
	// StrategyKeepCurrent writes the current document's content again as
	// a new version, so that the history shows the decision.
	StrategyKeepCurrent = "keep-current"
	// StrategyTakeProposed writes the refused write's result (a delete
	// when the refused write was a delete).
	StrategyTakeProposed = "take-proposed"
	// StrategyMerge merges base, the document as it is now and the
	// proposed result three ways, taking the proposed value on every path
	// that both sides changed differently.
	StrategyMerge = "merge"
	// StrategyCustom writes the document given to Resolve.
	StrategyCustom = "custom"
)

// Conflict is a write that a collection with the manual conflict policy
// could not merge, recorded by the server for a person or a program to
// resolve later (docs/api.md section 5). It mirrors the server's JSON.
type Conflict struct {
	ID         string `json:"id"`
	Collection string `json:"collection"`
	DocID      string `json:"docId"`
	// Status is ConflictOpen, ConflictResolved or ConflictDismissed.
	Status string `json:"status"`
	// BaseVersion is the version the refused write was based on;
	// CurrentVersion the version the document had when it was refused.
	BaseVersion    int64 `json:"baseVersion"`
	CurrentVersion int64 `json:"currentVersion"`
	// Base, Current and Proposed are the user's fields of the base
	// version, of the current version and of the refused write's result
	// (null for a delete), as JSON objects.
	Base     json.RawMessage `json:"base"`
	Current  json.RawMessage `json:"current"`
	Proposed json.RawMessage `json:"proposed"`
	// Paths lists the paths that the two sides changed differently.
	Paths     []ConflictPath `json:"paths"`
	CreatedAt time.Time      `json:"createdAt"`
	// ClosedAt is when the conflict was resolved or dismissed (zero while
	// it is open).
	ClosedAt time.Time `json:"closedAt,omitzero"`
	// Resolution says how a resolved conflict was resolved.
	Resolution *Resolution `json:"resolution,omitempty"`
}

// ConflictPath is one path that a write and the current document changed
// differently: its JSON Pointer and the three values, as JSON. A value
// that is absent on a side (deleted, or never there) is nil.
type ConflictPath struct {
	Path     string          `json:"path"`
	Base     json.RawMessage `json:"base,omitempty"`
	Current  json.RawMessage `json:"current,omitempty"`
	Proposed json.RawMessage `json:"proposed,omitempty"`
}

// Resolution is how a conflict was resolved: the strategy and the version
// of the document that the resolution wrote.
type Resolution struct {
	Strategy string `json:"strategy"`
	Version  int64  `json:"version"`
}

// ConflictFilter selects the conflicts Conflicts lists; empty fields
// match all.
type ConflictFilter struct {
	Collection string
	DocID      string
	// Status is ConflictOpen, ConflictResolved, ConflictDismissed or "".
	Status string
}

// Merged is what a write that the server merged three ways was based on
// (the Truce-Merged header): the stale version the request named, and
// the version it was merged with.
type Merged struct {
	Base    int64
	Current int64
}

// Conflicts returns an iterator over the recorded conflicts that f
// selects, a page at a time (see PageSize); a failure ends the loop with
// a nil *Conflict and the error. It takes PageSize.
func (c *Client) Conflicts(ctx context.Context, f ConflictFilter, opts ...CallOption) iter.Seq2[*Conflict, error] {
	return func(yield func(*Conflict, error) bool) {
		cfg, err := applyOptions("Conflicts", opts, optPageSize)
		if err != nil {
			yield(nil, err)
			return
		}
		after := ""
		for {
			q := url.Values{}
			for k, v := range map[string]string{"collection": f.Collection, "id": f.DocID, "status": f.Status, "after": after} {
				if v != "" {
					q.Set(k, v)
				}
			}
			if cfg.pageSize > 0 {
				q.Set("limit", strconv.Itoa(cfg.pageSize))
			}
			var page struct {
				Items []*Conflict `json:"items"`
				Next  *string     `json:"next"`
			}
			if err := c.getJSON(ctx, "/v1/conflicts", q, cfg.header, &page); err != nil {
				yield(nil, err)
				return
			}
			for _, it := range page.Items {
				if !yield(it, nil) {
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

// Conflict returns one recorded conflict, or a 404 (IsNotFound).
func (c *Client) Conflict(ctx context.Context, id string, opts ...CallOption) (*Conflict, error) {
	cfg, err := applyOptions("Conflict", opts)
	if err != nil {
		return nil, err
	}
	path, err := conflictPath(id)
	if err != nil {
		return nil, err
	}
	var out Conflict
	if err := c.getJSON(ctx, path, nil, cfg.header, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Resolve resolves an open conflict with a strategy (StrategyKeepCurrent,
// StrategyTakeProposed, StrategyMerge or StrategyCustom): the server
// writes the resolution as a new version of the document and marks the
// conflict resolved. doc is the document to write for StrategyCustom (a
// JSON object, as for Put) and must be nil for the others. Give IfMatch
// with the document's current ETag: a document that moved on since is a
// 412 (IsPreconditionFailed) with the current document. Resolve returns
// the document as written, or nil when the resolution deleted it. The
// server's answer does not name the collection: the Doc's Collection is
// empty. It takes IfMatch and IdempotencyKey.
func (c *Client) Resolve(ctx context.Context, id, strategy string, doc any, opts ...CallOption) (*Doc, error) {
	cfg, err := applyOptions("Resolve", opts, optIfMatch, optIdempotencyKey, optLockToken)
	if err != nil {
		return nil, err
	}
	path, err := conflictPath(id)
	if err != nil {
		return nil, err
	}
	if strategy == "" {
		return nil, errors.New("client: Resolve needs a strategy")
	}
	req := struct {
		Strategy string          `json:"strategy"`
		Document json.RawMessage `json:"document,omitempty"`
	}{Strategy: strategy}
	if doc != nil {
		if req.Document, err = encodeBody(doc); err != nil {
			return nil, err
		}
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, &request{method: http.MethodPost, path: path + "/resolve", header: cfg.header, body: b, ctype: "application/json"})
	if err != nil {
		return nil, err
	}
	return docFrom("", resp)
}

// Dismiss closes an open conflict without writing anything, and returns
// it as it is now.
func (c *Client) Dismiss(ctx context.Context, id string, opts ...CallOption) (*Conflict, error) {
	cfg, err := applyOptions("Dismiss", opts, optIdempotencyKey)
	if err != nil {
		return nil, err
	}
	path, err := conflictPath(id)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, &request{method: http.MethodPost, path: path + "/dismiss", header: cfg.header})
	if err != nil {
		return nil, err
	}
	var out Conflict
	if err := json.Unmarshal(resp.body, &out); err != nil {
		return nil, fmt.Errorf("client: POST %s/dismiss: the answer does not decode: %w", path, err)
	}
	return &out, nil
}

func conflictPath(id string) (string, error) {
	if id == "" {
		return "", errors.New("client: the conflict id is empty")
	}
	return "/v1/conflicts/" + url.PathEscape(id), nil
}

// parseMerged reads a Truce-Merged header ("base=5, current=7"); nil when
// there is none or it does not parse.
func parseMerged(h string) *Merged {
	if h == "" {
		return nil
	}
	var m Merged
	var okB, okC bool
	for part := range strings.SplitSeq(h, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return nil
		}
		switch strings.TrimSpace(k) {
		case "base":
			m.Base, okB = n, true
		case "current":
			m.Current, okC = n, true
		}
	}
	if !okB || !okC {
		return nil
	}
	return &m
}
