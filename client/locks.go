package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// LockToken makes a write carry the Lock-Token of a lock its caller holds
// on the document (Lock.Token), which a locked document requires: without
// it the server answers 423 locked, and with the token of a lock that has
// ended, 412 lock_expired (IsLockLost). Create, Put, Patch, Delete,
// Restore and Resolve take it.
func LockToken(token string) CallOption {
	return func(c *callConfig) {
		if token == "" || strings.ContainsAny(token, "\r\n") {
			c.err = fmt.Errorf("client: LockToken(%q) is not a lock token", token)
		}
		c.setHeader(optLockToken, "Lock-Token", token)
	}
}

// LockOwner names who takes a lock, as others see it (LockInfo.Owner and
// the 423 answers they get). Lock and WithLock take it.
func LockOwner(name string) CallOption {
	return func(c *callConfig) { c.use(optLockOwner); c.lockOwner = name }
}

// LockWait makes Lock wait up to d for a lock that another client holds:
// the server queues the request behind earlier ones and grants the lock as
// soon as it is released or ends. Without it, Lock fails at once with 423
// locked (IsLocked) when the document is locked. Lock and WithLock take it.
func LockWait(d time.Duration) CallOption {
	return func(c *callConfig) {
		c.use(optLockWait)
		if d < 0 {
			c.err = fmt.Errorf("client: LockWait(%s) is negative", d)
		}
		c.lockWait = d
	}
}

// ErrLockLost is the cause of a WithLock context, and of Lock.Err, when the
// lock ended before it was released: a renewal failed, or the server says
// the lock is no longer held.
var ErrLockLost = errors.New("client: the lock was lost")

// LockInfo describes a lock as the server shows it to anyone.
type LockInfo struct {
	Collection string    `json:"collection"`
	ID         string    `json:"id"`
	Owner      string    `json:"owner"`
	AcquiredAt time.Time `json:"acquiredAt"`
	ExpiresAt  time.Time `json:"expiresAt"`
	// Fence grows with every lock the server grants: a downstream system
	// can refuse work fenced by a lower number than one it has seen.
	Fence int64 `json:"fence"`
}

type lockAnswer struct {
	LockInfo
	Token string `json:"token"`
}

// Lock is a held lock on one document. It renews itself in the background
// (every third of its ttl) until Unlock; if it cannot — the server says the
// lock ended, or no renewal gets through before it expires — Lost is
// closed and Err says why. Pass Token to the writes that the lock
// protects with LockToken. A Lock is safe for concurrent use.
type Lock struct {
	c     *Client
	info  LockInfo
	token string
	ttl   time.Duration
	path  string

	mu      sync.Mutex
	expires time.Time
	err     error

	lost     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	lostOnce sync.Once
}

// Lock takes the lock on a document for ttl (0: the server's default,
// 30 s; the server caps it, 5 min by default) and returns it, renewing
// itself until Unlock. The document need not exist: holding the lock, you
// alone may create it. A document locked by someone else is an error for
// which IsLocked is true, whose Detail names the holder; LockWait(d) waits
// for it instead, in FIFO order. It takes LockOwner, LockWait and
// IdempotencyKey.
func (c *Client) Lock(ctx context.Context, collection, id string, ttl time.Duration, opts ...CallOption) (*Lock, error) {
	cfg, err := applyOptions("Lock", opts, optLockOwner, optLockWait, optIdempotencyKey)
	if err != nil {
		return nil, err
	}
	path, err := lockPath(collection, id)
	if err != nil {
		return nil, err
	}
	if ttl < 0 {
		return nil, fmt.Errorf("client: Lock ttl %s is negative", ttl)
	}
	req := map[string]any{}
	if ttl > 0 {
		req["ttl"] = ttl.String()
	}
	if cfg.lockOwner != "" {
		req["owner"] = cfg.lockOwner
	}
	if cfg.lockWait > 0 {
		req["wait"] = cfg.lockWait.String()
	}
	b, _ := json.Marshal(req)
	resp, err := c.do(ctx, &request{method: http.MethodPost, path: path, header: cfg.header, body: b,
		ctype: "application/json", final: []string{CodeLocked}})
	if err != nil {
		return nil, err
	}
	var a lockAnswer
	if err := json.Unmarshal(resp.body, &a); err != nil || a.Token == "" {
		return nil, fmt.Errorf("client: the server's answer to a lock request is not a lock: %.200s", resp.body)
	}
	if ttl == 0 {
		ttl = a.ExpiresAt.Sub(a.AcquiredAt)
	}
	l := &Lock{c: c, info: a.LockInfo, token: a.Token, ttl: ttl, path: path, expires: a.ExpiresAt,
		lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go l.renewLoop()
	return l, nil
}

// Token returns the lock's token, for LockToken.
func (l *Lock) Token() string { return l.token }

// Info returns the lock as the server granted it, with the expiry of the
// last renewal.
func (l *Lock) Info() LockInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := l.info
	i.ExpiresAt = l.expires
	return i
}

// Lost is closed when the lock is lost; Err then says why.
func (l *Lock) Lost() <-chan struct{} { return l.lost }

// Err returns why the lock was lost (an error that wraps ErrLockLost), or
// nil while it is held or after Unlock.
func (l *Lock) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// renewLoop renews the lock every third of its ttl until Unlock or loss.
func (l *Lock) renewLoop() {
	defer close(l.done)
	every := max(l.ttl/3, 10*time.Millisecond)
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		err := l.renew()
		switch {
		case err == nil:
			t.Reset(every)
		case IsLockLost(err) || Code(err) == CodeLockTokenMismatch:
			l.markLost(err)
			return
		default:
			// The server is unreachable or failing: retry while the lock
			// still lasts.
			l.mu.Lock()
			left := time.Until(l.expires)
			l.mu.Unlock()
			if left <= 0 {
				l.markLost(err)
				return
			}
			t.Reset(min(every, max(left/4, 10*time.Millisecond)))
		}
	}
}

// Renew extends the lock to its ttl from now; the background renewal does
// this by itself.
func (l *Lock) Renew(ctx context.Context) error {
	err := l.renew1(ctx)
	if IsLockLost(err) || Code(err) == CodeLockTokenMismatch {
		l.markLost(err)
	}
	return err
}

func (l *Lock) renew() error {
	l.mu.Lock()
	deadline := l.expires
	l.mu.Unlock()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	go func() { // Unlock cancels a renewal in flight
		select {
		case <-l.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return l.renew1(ctx)
}

func (l *Lock) renew1(ctx context.Context) error {
	i, err := l.c.RenewLock(ctx, l.info.Collection, l.info.ID, l.token, l.ttl)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.expires = i.ExpiresAt
	l.mu.Unlock()
	return nil
}

// RenewLock extends a lock by its token to ttl from now (0: the server's
// default), for a caller that kept the token rather than the Lock, which
// renews itself. The token of a lock that ended is IsLockLost; another
// holder's lock is 409 lock_token_mismatch.
func (c *Client) RenewLock(ctx context.Context, collection, id, token string, ttl time.Duration, opts ...CallOption) (*LockInfo, error) {
	cfg, err := applyOptions("RenewLock", opts, optIdempotencyKey)
	if err != nil {
		return nil, err
	}
	path, err := lockPath(collection, id)
	if err != nil {
		return nil, err
	}
	if token == "" || ttl < 0 {
		return nil, errors.New("client: RenewLock needs the lock's token and a ttl that is not negative")
	}
	req := map[string]string{}
	if ttl > 0 {
		req["ttl"] = ttl.String()
	}
	b, _ := json.Marshal(req)
	h := cfg.header
	if h == nil {
		h = http.Header{}
	}
	h.Set("Lock-Token", token)
	resp, err := c.do(ctx, &request{method: http.MethodPost, path: path, header: h, body: b, ctype: "application/json"})
	if err != nil {
		return nil, err
	}
	var a lockAnswer
	if err := json.Unmarshal(resp.body, &a); err != nil {
		return nil, fmt.Errorf("client: the server's answer to a lock renewal is not a lock: %.200s", resp.body)
	}
	return &a.LockInfo, nil
}

func (l *Lock) markLost(err error) {
	l.lostOnce.Do(func() {
		l.mu.Lock()
		l.err = fmt.Errorf("%w: %s/%s: %w", ErrLockLost, l.info.Collection, l.info.ID, err)
		l.mu.Unlock()
		close(l.lost)
	})
}

// Detach stops the background renewal and leaves the lock held until its
// ttl ends, for a program that hands the token on (as 'truce lock' prints
// it) and exits.
func (l *Lock) Detach() {
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
}

// Unlock stops the renewal and releases the lock. Releasing a lock that
// was lost is an error for which IsLockLost is true.
func (l *Lock) Unlock(ctx context.Context) error {
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
	return l.c.Unlock(ctx, l.info.Collection, l.info.ID, l.token)
}

// WithLock takes the lock on a document (as Lock does, with its options),
// runs fn, and releases the lock. fn's context is cancelled, with cause
// ErrLockLost, if the lock is lost while fn runs; pass l.Token() to fn's
// writes with LockToken, so that the server refuses them once the lock is
// gone. WithLock returns fn's error, else the loss of the lock, else the
// error of the release.
func (c *Client) WithLock(ctx context.Context, collection, id string, ttl time.Duration,
	fn func(ctx context.Context, l *Lock) error, opts ...CallOption) error {
	l, err := c.Lock(ctx, collection, id, ttl, opts...)
	if err != nil {
		return err
	}
	fctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-l.Lost():
			cancel(l.Err())
		case <-fctx.Done():
		}
	}()
	ferr := fn(fctx, l)
	uctx, ucancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer ucancel()
	uerr := l.Unlock(uctx)
	switch {
	case ferr != nil:
		return ferr
	case l.Err() != nil:
		return l.Err()
	}
	return uerr
}

// GetLock returns the live lock on a document, without its token; a
// document that is not locked is an error for which IsNotFound is true.
func (c *Client) GetLock(ctx context.Context, collection, id string, opts ...CallOption) (*LockInfo, error) {
	cfg, err := applyOptions("GetLock", opts)
	if err != nil {
		return nil, err
	}
	path, err := lockPath(collection, id)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, &request{method: http.MethodGet, path: path, header: cfg.header})
	if err != nil {
		return nil, err
	}
	var i LockInfo
	if err := json.Unmarshal(resp.body, &i); err != nil {
		return nil, fmt.Errorf("client: the server's answer is not a lock: %.200s", resp.body)
	}
	return &i, nil
}

// Unlock releases a lock by its token, for a caller that kept the token
// rather than the Lock (Lock.Unlock is the usual way). A wrong token is
// 409 lock_token_mismatch; the token of a lock that ended is IsLockLost.
func (c *Client) Unlock(ctx context.Context, collection, id, token string, opts ...CallOption) error {
	cfg, err := applyOptions("Unlock", opts, optIdempotencyKey)
	if err != nil {
		return err
	}
	path, err := lockPath(collection, id)
	if err != nil {
		return err
	}
	if token == "" {
		return errors.New("client: Unlock needs the lock's token")
	}
	h := cfg.header
	if h == nil {
		h = http.Header{}
	}
	h.Set("Lock-Token", token)
	_, err = c.do(ctx, &request{method: http.MethodDelete, path: path, header: h})
	return err
}

// BreakLock releases whatever lock is held on a document, without its
// token: for an administrator, when a holder vanished. No lock is an error
// for which IsNotFound is true.
func (c *Client) BreakLock(ctx context.Context, collection, id string, opts ...CallOption) error {
	cfg, err := applyOptions("BreakLock", opts, optIdempotencyKey)
	if err != nil {
		return err
	}
	path, err := lockPath(collection, id)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, &request{method: http.MethodDelete, path: path, query: map[string][]string{"force": {"true"}}, header: cfg.header})
	return err
}

// IsLocked reports whether err is a 423: another client holds the lock on
// the document. The Error's RetryAfter says when the lock ends.
func IsLocked(err error) bool { return Code(err) == CodeLocked }

// IsLockLost reports whether err says that the lock whose token the
// request carried is no longer held (412 lock_expired), or is a Lock's
// ErrLockLost.
func IsLockLost(err error) bool { return Code(err) == CodeLockExpired || errors.Is(err, ErrLockLost) }

func lockPath(collection, id string) (string, error) {
	p, err := docPath(collection, id)
	if err != nil {
		return "", err
	}
	return p + "/lock", nil
}
