// Package client is the Go SDK of the truce JSON document server: typed
// documents and errors, preconditions, retries that are safe by default,
// and Update, a read-modify-write helper that never loses an update.
//
// # Getting started
//
//	c, err := client.New("http://127.0.0.1:8080", client.WithToken(os.Getenv("TRUCE_TOKEN")))
//	if err != nil { … }
//	doc, err := c.Create(ctx, "notes", map[string]any{"title": "Groceries"})
//	var note struct{ Title string `json:"title"` }
//	err = doc.Decode(&note)
//
// Every method takes a context first; a Client is safe for concurrent use
// and should be reused, because it keeps connections open.
//
// # Changing a document without losing updates
//
// Most programs should change documents with [Client.Update]: it reads the
// document, lets a function change it, and writes it back with If-Match, so
// that a write based on a stale read fails instead of overwriting someone
// else's change. On that failure (412) the server sends the document as it
// is now, and Update applies the function again to that state, without
// another read, until the write succeeds:
//
//	doc, err := c.Update(ctx, "counters", "visits", func(d *client.Doc) error {
//		var v struct{ N int `json:"n"` }
//		if err := d.Decode(&v); err != nil {
//			return err
//		}
//		v.N++
//		return d.Set(v)
//	})
//
// Lower-level writes take preconditions as options: [IfMatch] with an ETag
// you read (412 when it is stale), [IfNoneMatch]("*") to create only, or
// [Version] (409 version_conflict when it is stale).
//
// # Errors
//
// A request that the server refuses returns an [*Error], which carries the
// HTTP status and the problem details (RFC 9457) the server sent: a stable
// Code, a Detail for people, whether the request is Retryable, the server's
// RequestID, on a stale-version conflict the Current document, and on a
// 409 merge_conflict the conflicting paths (Conflicts) and, under the
// manual policy, the id of the recorded conflict (ConflictID). Test
// for it with [errors.As], or with the helpers [IsConflict], [IsNotFound],
// [IsPreconditionFailed], [IsVersionConflict] and [Code].
//
// # Retries
//
// The client retries what is safe to retry, with exponential backoff and
// full jitter, within the limits of a [RetryPolicy] and the context:
// transport failures (a refused or dropped connection) and answers that
// the server marks retryable (503 unavailable, 429 rate limited, 423
// locked), waiting at least as long as their Retry-After header says. Every
// write carries an Idempotency-Key that stays the same on each retry of one
// call, and the server applies each key's write at most once and answers
// a repeat with the first answer (Idempotent-Replayed: true; docs/api.md
// section 9); the request body is sent again whole on every attempt. Conflicts (409 and 412) are never retried as they are:
// sending the same stale precondition again cannot succeed; Update is the
// way to retry them, by re-applying the change to the current state.
//
// # Merges and recorded conflicts
//
// In collections with the merge or manual conflict policy, a write with
// a stale body version is merged by the server when it can be; the Doc
// it returns reports that in Merged. [UseVersion] makes Update write that
// way. Conflicts that the manual policy records are listed with
// [Client.Conflicts], read with [Client.Conflict] and closed with
// [Client.Resolve] or [Client.Dismiss].
//
// # Locks
//
// When an edit must not be interleaved at all, [Client.Lock] takes a lease
// on a document that renews itself until [Lock.Unlock] and reports its loss
// on [Lock.Lost]; writes under it carry [LockToken]. [Client.WithLock]
// runs a function under a lock and cancels its context if the lock is
// lost. Others' writes meet 423 locked ([IsLocked]); a write with the token
// of a lock that ended is refused too ([IsLockLost]).
package client
