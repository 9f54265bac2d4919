package client

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// DefaultConflictRetries is how many times Update re-applies its function
// after a conflict, unless ConflictRetries says otherwise. It is large on
// purpose: every conflict means that another writer succeeded, so the
// bound is not there to stop a livelock (there is none) but a runaway
// loop; with 32 writers on one document, one writer loses up to a
// hundred times in a row. Bound the time an Update may take with its
// context.
const DefaultConflictRetries = 1000

// The waits between Update's attempts after a conflict: none after the
// first two, then a random wait below a ceiling that doubles from
// conflictBaseDelay up to conflictMaxDelay. Writers that keep colliding
// spread out; the waits stay short because the next attempt starts from
// the current state. Measured with 16 and 32 writers on one counter,
// shorter waits make more conflicts and starve some writers longer, and
// longer ones only slow everyone down.
const (
	conflictFreeRetries = 2
	conflictBaseDelay   = 5 * time.Millisecond
	conflictMaxDelay    = 100 * time.Millisecond
)

// Update changes a document with fn and writes it back, without losing
// anyone else's update: the read-modify-write loop that every program
// with concurrent writers needs, done right.
//
// Update reads the document, calls fn with it, and writes doc.Raw back
// with If-Match on the ETag it read. fn changes the document in place,
// with doc.Set(v) or by replacing doc.Raw; it must not keep doc. When
// someone else wrote the document in between, the write fails with 412,
// and the server's answer carries the document as it is now: Update
// calls fn again on that state (a fresh copy, without another read) and
// writes again, up to DefaultConflictRetries times (see ConflictRetries),
// with a short random wait after the first few conflicts. So fn may run
// more than once, and must compute the new state from doc alone.
//
// When fn returns an error, Update stops and returns it, unwrapped, with
// nothing written. Update returns the document as stored; when it gives
// up after too many conflicts, it returns the last conflict (IsConflict
// is true).
//
// A document that does not exist is a 404, unless CreateIfMissing is
// given: then fn receives an empty document ({}, Version 0), which is
// created with If-None-Match: *, and a concurrent creation is a conflict
// like any other. Update takes CreateIfMissing, ConflictRetries, UseVersion and
// Header.
//
// Each write carries its own Idempotency-Key, the same on each automatic
// retry of it, and the server keeps the first answer for each key (for
// its --idempotency-ttl; docs/api.md section 9): a write whose answer is lost
// on the way is retried and gets that answer again, so it is not taken
// for a conflict and fn is not applied twice.
func (c *Client) Update(ctx context.Context, collection, id string, fn func(doc *Doc) error, opts ...CallOption) (*Doc, error) {
	cfg, err := applyOptions("Update", opts, optCreateIfMissing, optConflictRetries, optUseVersion)
	if err != nil {
		return nil, err
	}
	if fn == nil {
		return nil, fmt.Errorf("client: Update %s/%s: fn is nil", collection, id)
	}
	retries := DefaultConflictRetries
	if cfg.has(optConflictRetries) {
		retries = cfg.conflictRetries
	}
	hdr := cfg.headerOptions()

	cur, err := c.updateBase(ctx, collection, id, cfg, hdr)
	if err != nil {
		return nil, err
	}
	for conflicts := 0; ; conflicts++ {
		doc, pre, err := proposal(collection, id, cur)
		if err != nil {
			return nil, err
		}
		if err := fn(doc); err != nil {
			return nil, err
		}
		body := doc.Raw
		opts := hdr[:len(hdr):len(hdr)]
		if cfg.useVersion && cur != nil {
			// The version goes in the body, where the collection's
			// conflict policy applies to it.
			if body, err = withVersion(body, cur.Version); err != nil {
				return nil, fmt.Errorf("client: Update %s/%s: %w", collection, id, err)
			}
		} else {
			opts = append(opts, pre)
		}
		out, err := c.Put(ctx, collection, id, body, opts...)
		if err == nil {
			return out, nil
		}
		if !IsConflict(err) {
			return nil, err
		}
		if conflicts >= retries {
			return nil, fmt.Errorf("client: Update %s/%s: gave up after %d conflicts: %w", collection, id, conflicts+1, err)
		}
		if e := asError(err); e.Current != nil && e.Current.ETag != "" {
			cur = e.Current
			cur.Collection, cur.ID = collection, id
		} else if cur, err = c.updateBase(ctx, collection, id, cfg, hdr); err != nil {
			// No current state in the answer: the document was deleted
			// (or created) meanwhile. Read what there is now.
			return nil, err
		}
		if conflicts+1 >= conflictFreeRetries {
			ceiling := min(conflictBaseDelay<<min(conflicts+1-conflictFreeRetries, 16), conflictMaxDelay)
			if err := c.sleep(ctx, c.jitter(ceiling)); err != nil {
				return nil, err
			}
		}
	}
}

// withVersion returns the JSON object raw with its _version member set
// to v.
func withVersion(raw json.RawMessage, v int64) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, fmt.Errorf("the document is not a JSON object")
	}
	m["_version"] = json.RawMessage(strconv.FormatInt(v, 10))
	return json.Marshal(m)
}

// updateBase reads the document Update starts from: nil when it does not
// exist and CreateIfMissing was given.
func (c *Client) updateBase(ctx context.Context, collection, id string, cfg *callConfig, hdr []CallOption) (*Doc, error) {
	cur, err := c.Get(ctx, collection, id, hdr...)
	if IsNotFound(err) && cfg.createIfMissing {
		return nil, nil
	}
	return cur, err
}

// proposal returns the copy of cur that Update's fn changes, and the
// precondition of its write.
func proposal(collection, id string, cur *Doc) (*Doc, CallOption, error) {
	if cur == nil {
		return &Doc{Collection: collection, ID: id, Raw: json.RawMessage("{}")}, IfNoneMatch("*"), nil
	}
	if cur.ETag == "" {
		return nil, nil, fmt.Errorf("client: Update %s/%s: the server sent the document without an ETag", collection, id)
	}
	return cur.Clone(), IfMatch(cur.ETag), nil
}

func (c *callConfig) has(k optionKind) bool {
	for _, u := range c.used {
		if u == k {
			return true
		}
	}
	return false
}

// headerOptions returns Header options for the headers the Header option
// set, to pass on to the calls Update makes.
func (c *callConfig) headerOptions() []CallOption {
	var out []CallOption
	for k, vs := range c.header {
		for _, v := range vs {
			out = append(out, Header(k, v))
		}
	}
	return out
}
