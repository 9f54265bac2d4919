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

// TransactionHeader is the header that puts a document request in an interactive
// transaction.
const TransactionHeader = "Truce-Transaction"

// Transaction is an interactive transaction (docs/api.md section 7): reads through it
// join its read set, writes through it are staged on the server, invisible
// to others, until Commit applies them all in one commit — or refuses with
// 409 transaction_conflict when a document it read or wrote changed in
// the meantime. Most callers use Client.RunTransaction, which retries a conflicting
// transaction from the start. A Transaction is not safe for concurrent use.
type Transaction struct {
	c         *Client
	id        string
	expiresAt time.Time
	cols      []string // the collection of each staged write, in order
}

// BeginTransaction starts an interactive transaction that the server ends by itself
// after ttl (0: the server's default, 60 s; the server caps long ones).
func (c *Client) BeginTransaction(ctx context.Context, ttl time.Duration) (*Transaction, error) {
	var body []byte
	if ttl > 0 {
		body, _ = json.Marshal(map[string]string{"ttl": ttl.String()})
	} else {
		body = []byte("{}")
	}
	resp, err := c.do(ctx, &request{method: http.MethodPost, path: "/v1/transactions", body: body, ctype: "application/json"})
	if err != nil {
		return nil, err
	}
	var a struct {
		ID        string    `json:"id"`
		ExpiresAt time.Time `json:"expiresAt"`
	}
	if err := json.Unmarshal(resp.body, &a); err != nil || a.ID == "" {
		return nil, fmt.Errorf("client: the server's answer to Begin does not decode: %.100s", resp.body)
	}
	return &Transaction{c: c, id: a.ID, expiresAt: a.ExpiresAt}, nil
}

// ID returns the transaction's id.
func (t *Transaction) ID() string { return t.id }

// ExpiresAt returns when the server ends the transaction by itself.
func (t *Transaction) ExpiresAt() time.Time { return t.expiresAt }

func (t *Transaction) opts(opts []CallOption) []CallOption {
	return append(opts[:len(opts):len(opts)], Header(TransactionHeader, t.id))
}

// Get reads a document in the transaction: the transaction's own staged
// version if it wrote the document (its ETag is empty until the commit),
// else the committed one, whose version joins the read set.
func (t *Transaction) Get(ctx context.Context, collection, id string) (*Doc, error) {
	return t.c.Get(ctx, collection, id, t.opts(nil)...)
}

// Create stages the creation of a document and returns it as it will be
// stored (without an ETag).
func (t *Transaction) Create(ctx context.Context, collection string, body any) (*Doc, error) {
	d, err := t.c.Create(ctx, collection, body, t.opts(nil)...)
	if err == nil {
		t.cols = append(t.cols, collection)
	}
	return d, err
}

// Put stages the creation or replacement of a whole document. It takes
// the options of Client.Put.
func (t *Transaction) Put(ctx context.Context, collection, id string, body any, opts ...CallOption) (*Doc, error) {
	d, err := t.c.Put(ctx, collection, id, body, t.opts(opts)...)
	if err == nil {
		t.cols = append(t.cols, collection)
	}
	return d, err
}

// Patch stages a patch of a document. It takes the options of
// Client.Patch.
func (t *Transaction) Patch(ctx context.Context, collection, id string, p Patch, opts ...CallOption) (*Doc, error) {
	d, err := t.c.Patch(ctx, collection, id, p, t.opts(opts)...)
	if err == nil {
		t.cols = append(t.cols, collection)
	}
	return d, err
}

// Delete stages the deletion of a document. It takes the options of
// Client.Delete.
func (t *Transaction) Delete(ctx context.Context, collection, id string, opts ...CallOption) error {
	err := t.c.Delete(ctx, collection, id, t.opts(opts)...)
	if err == nil {
		t.cols = append(t.cols, collection)
	}
	return err
}

// Commit applies everything the transaction staged, atomically, and
// returns the result of each staged write in order. It fails with 409
// transaction_conflict (IsTransactionConflict; ChangedDocs lists them)
// when a document the transaction read or wrote has changed, and with
// 410 transaction_expired when the transaction is gone.
func (t *Transaction) Commit(ctx context.Context) ([]OpResult, error) {
	resp, err := t.c.do(ctx, &request{method: http.MethodPost, path: "/v1/transactions/" + url.PathEscape(t.id) + "/commit"})
	if err != nil {
		return nil, err
	}
	return parseOpResults(resp.body, t.cols)
}

// Rollback ends the transaction and drops what it staged. Rolling back a
// transaction that is already gone is not an error.
func (t *Transaction) Rollback(ctx context.Context) error {
	_, err := t.c.do(ctx, &request{method: http.MethodDelete, path: "/v1/transactions/" + url.PathEscape(t.id)})
	if Code(err) == CodeTransactionExpired {
		return nil
	}
	return err
}

// IsTransactionConflict reports whether err is a 409
// transaction_conflict: the transaction saw a document that changed
// before it committed, and running it again from the start can succeed.
func IsTransactionConflict(err error) bool { return Code(err) == CodeTransactionConflict }

// TransactionOptions tunes Client.RunTransaction. The zero value is the default.
type TransactionOptions struct {
	// Attempts is how many times fn may run; 0 means 20.
	Attempts int
	// TTL is each transaction's TTL; 0 means the server's default.
	TTL time.Duration
	// BaseDelay and MaxDelay bound the random wait before each new
	// attempt ("full jitter", doubling from BaseDelay up to MaxDelay);
	// 0 means 5 ms and 500 ms.
	BaseDelay, MaxDelay time.Duration
}

// ErrTransactionAttempts wraps the last conflict when RunTransaction gives up.
var ErrTransactionAttempts = errors.New("client: the transaction kept conflicting")

// RunTransaction runs fn in an interactive transaction and commits it, like
// Firestore's RunTransaction. When the commit, or a read or write in fn,
// fails with transaction_conflict, the transaction is rolled back and fn
// runs again from the start in a new one, after a random backoff, up to
// opts.Attempts times; so fn must only read and write through tx and must
// not leave other effects behind. Nothing of a failed attempt is ever
// applied. When fn returns an error the transaction is rolled back and
// the error returned as is.
func (c *Client) RunTransaction(ctx context.Context, fn func(tx *Transaction) error) error {
	return c.RunTransactionWith(ctx, TransactionOptions{}, fn)
}

// RunTransactionWith is RunTransaction with options.
func (c *Client) RunTransactionWith(ctx context.Context, o TransactionOptions, fn func(tx *Transaction) error) error {
	if o.Attempts <= 0 {
		o.Attempts = 20
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = 5 * time.Millisecond
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = 500 * time.Millisecond
	}
	var last error
	for attempt := 1; attempt <= o.Attempts; attempt++ {
		if attempt > 1 {
			d := min(o.MaxDelay, o.BaseDelay<<min(attempt-2, 20))
			if err := c.sleep(ctx, c.jitter(d)); err != nil {
				return fmt.Errorf("client: RunTransaction: the context ended while waiting to retry: %w", errors.Join(err, last))
			}
		}
		tx, err := c.BeginTransaction(ctx, o.TTL)
		if err != nil {
			return err
		}
		err = fn(tx)
		if err == nil {
			if _, err = tx.Commit(ctx); err == nil {
				return nil
			}
		}
		// A commit that failed left the transaction to end; one that
		// applied after all (an answer lost) is gone, and this is a no-op.
		_ = tx.Rollback(context.WithoutCancel(ctx))
		if !IsTransactionConflict(err) {
			return err
		}
		last = err
	}
	return fmt.Errorf("%w %d times: %w", ErrTransactionAttempts, o.Attempts, last)
}
