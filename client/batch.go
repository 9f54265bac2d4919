package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Batch is an atomic batch of document operations for Client.Tx (POST
// /v1/tx): the server applies all of them in one commit, or none. Build it
// with its methods, which return the Batch so that calls chain; an error
// in building (a body that does not encode, an option an op does not
// take) is reported by Client.Tx. The zero value is an empty batch.
//
// Each op takes the preconditions the same request would take alone —
// IfMatch and IfNoneMatch (412 when they fail) and Version (409, or the
// collection's conflict policy) — and Header("Lock-Token", token) to
// write a document locked by that token. A document may be written by at
// most one op of a batch.
type Batch struct {
	ops  []json.RawMessage
	cols []string // each op's collection
	err  error
}

// batchOp is one op as the server reads it.
type batchOp struct {
	Op          string          `json:"op"`
	Collection  string          `json:"collection"`
	ID          string          `json:"id,omitempty"`
	IfMatch     string          `json:"ifMatch,omitempty"`
	IfNoneMatch string          `json:"ifNoneMatch,omitempty"`
	Version     int64           `json:"version,omitempty"`
	LockToken   string          `json:"lockToken,omitempty"`
	Document    json.RawMessage `json:"document,omitempty"`
	MergePatch  json.RawMessage `json:"mergePatch,omitempty"`
	JSONPatch   json.RawMessage `json:"jsonPatch,omitempty"`
}

// Len returns the number of ops in the batch.
func (b *Batch) Len() int { return len(b.ops) }

// Create adds the creation of a document; body is a JSON object as for
// Client.Create, and may name the id in _id.
func (b *Batch) Create(collection string, body any) *Batch {
	op := batchOp{Op: "create", Collection: collection}
	op.Document, b.err = b.encode(body)
	return b.add(op, "Create", nil)
}

// Put adds the creation or replacement of a whole document. It takes
// IfMatch, IfNoneMatch and Version.
func (b *Batch) Put(collection, id string, body any, opts ...CallOption) *Batch {
	op := batchOp{Op: "put", Collection: collection, ID: id}
	op.Document, b.err = b.encode(body)
	return b.add(op, "Put", opts)
}

// Patch adds a patch of a document: MergePatch(v) or JSONPatch(v). It
// takes IfMatch, IfNoneMatch and Version.
func (b *Batch) Patch(collection, id string, p Patch, opts ...CallOption) *Batch {
	op := batchOp{Op: "patch", Collection: collection, ID: id}
	raw, err := b.encode(p.body)
	b.err = err
	if p.ctype == "application/json-patch+json" {
		op.JSONPatch = raw
	} else {
		op.MergePatch = raw
	}
	return b.add(op, "Patch", opts)
}

// Delete adds the deletion of a document. It takes IfMatch, IfNoneMatch
// and Version.
func (b *Batch) Delete(collection, id string, opts ...CallOption) *Batch {
	return b.add(batchOp{Op: "delete", Collection: collection, ID: id}, "Delete", opts)
}

// Check adds a check that writes nothing: its preconditions must hold
// (IfMatch, IfNoneMatch, Version), or, without any, the document must
// exist, for the batch to apply.
func (b *Batch) Check(collection, id string, opts ...CallOption) *Batch {
	return b.add(batchOp{Op: "check", Collection: collection, ID: id}, "Check", opts)
}

func (b *Batch) encode(v any) (json.RawMessage, error) {
	if b.err != nil {
		return nil, b.err
	}
	return encodeBody(v)
}

func (b *Batch) add(op batchOp, method string, opts []CallOption) *Batch {
	if b.err != nil {
		return b
	}
	cfg, err := applyOptions("Batch."+method, opts, optIfMatch, optIfNoneMatch, optVersion)
	if err != nil {
		b.err = err
		return b
	}
	op.IfMatch, op.IfNoneMatch, op.Version = cfg.header.Get("If-Match"), cfg.header.Get("If-None-Match"), cfg.version
	op.LockToken = cfg.header.Get("Lock-Token")
	raw, err := json.Marshal(op)
	if err != nil {
		b.err = fmt.Errorf("client: batch op %d: %w", len(b.ops), err)
		return b
	}
	b.ops = append(b.ops, raw)
	b.cols = append(b.cols, op.Collection)
	return b
}

// OpResult is the outcome of one op of a committed transaction.
type OpResult struct {
	// Status is what the same request would have answered alone: 201 for
	// a create, 204 for a delete, 200 otherwise.
	Status int
	// Doc is the stored document (its ETag set); for a check, the
	// current document; nil for a delete, or a check of an absent one.
	Doc *Doc
	// Merged is set when the collection's merge policy merged a write
	// with a stale version.
	Merged *Merged
}

// Batch sends a batch (POST /v1/tx) and returns the result of each op, in
// order. When an op fails nothing is applied, and the error is an *Error
// with that op's status and code; FailedOp tells which op it was. It
// takes IdempotencyKey (a fresh key is sent otherwise, so a retry after a
// lost answer never applies the batch twice).
func (c *Client) Batch(ctx context.Context, b *Batch, opts ...CallOption) ([]OpResult, error) {
	if b == nil || b.Len() == 0 {
		return nil, errors.New("client: Tx: the batch is empty")
	}
	if b.err != nil {
		return nil, b.err
	}
	cfg, err := applyOptions("Tx", opts, optIdempotencyKey)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(struct {
		Ops []json.RawMessage `json:"ops"`
	}{b.ops})
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, &request{method: http.MethodPost, path: "/v1/tx", header: cfg.header, body: body, ctype: "application/json"})
	if err != nil {
		return nil, err
	}
	return parseOpResults(resp.body, b.cols)
}

// parseOpResults decodes {"results":[…]}; cols are the ops' collections.
func parseOpResults(body []byte, cols []string) ([]OpResult, error) {
	var a struct {
		Results []struct {
			Status   int             `json:"status"`
			ETag     string          `json:"etag"`
			Document json.RawMessage `json:"document"`
			Merged   *Merged         `json:"merged"`
		} `json:"results"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("client: the transaction's answer does not decode: %w", err)
	}
	out := make([]OpResult, len(a.Results))
	for i, r := range a.Results {
		out[i] = OpResult{Status: r.Status, Merged: r.Merged}
		if len(r.Document) > 0 {
			col := ""
			if i < len(cols) {
				col = cols[i]
			}
			d, err := parseDoc(col, r.Document)
			if err != nil {
				return nil, err
			}
			d.ETag = r.ETag
			out[i].Doc = d
		}
	}
	return out, nil
}

// FailedOp returns the index of the op that failed a transaction (the
// problem's failedOp), and false when err is not such a failure.
func FailedOp(err error) (int, bool) {
	e := asError(err)
	if e == nil || len(e.Problem) == 0 {
		return 0, false
	}
	var p struct {
		FailedOp *int `json:"failedOp"`
	}
	if json.Unmarshal(e.Problem, &p) != nil || p.FailedOp == nil {
		return 0, false
	}
	return *p.FailedOp, true
}

// DocRef names a document.
type DocRef struct {
	Collection string `json:"collection"`
	ID         string `json:"id"`
}

// ChangedDocs returns, for a 409 transaction_conflict, the documents that
// changed under the transaction.
func ChangedDocs(err error) []DocRef {
	e := asError(err)
	if e == nil || len(e.Problem) == 0 {
		return nil
	}
	var p struct {
		Changed []DocRef `json:"changed"`
	}
	_ = json.Unmarshal(e.Problem, &p)
	return p.Changed
}

// ParseBatch reads a batch written as JSON, as POST /v1/tx takes it
// ({"ops": [...]}) or as the bare array of ops. Each op is sent as
// written; the server checks it.
func ParseBatch(data []byte) (*Batch, error) {
	var ops []json.RawMessage
	if err := json.Unmarshal(data, &ops); err != nil {
		var env struct {
			Ops []json.RawMessage `json:"ops"`
		}
		if err := json.Unmarshal(data, &env); err != nil || env.Ops == nil {
			return nil, errors.New(`client: a batch is {"ops": [...]} or a JSON array of ops`)
		}
		ops = env.Ops
	}
	b := &Batch{}
	for i, op := range ops {
		var o struct {
			Collection string `json:"collection"`
		}
		if err := json.Unmarshal(op, &o); err != nil {
			return nil, fmt.Errorf("client: batch op %d is not a JSON object: %w", i, err)
		}
		b.ops = append(b.ops, op)
		b.cols = append(b.cols, o.Collection)
	}
	return b, nil
}
