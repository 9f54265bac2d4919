package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/auth"
)

// lockRequest is the body of POST …/docs/{id}/lock. Durations are Go
// durations ("30s", "1m30s") or numbers of seconds.
type lockRequest struct {
	TTL   duration `json:"ttl"`
	Owner string   `json:"owner"`
	Wait  duration `json:"wait"`
}

// duration is a JSON duration: a string such as "30s", or seconds.
type duration struct {
	d    time.Duration
	name string
}

func (d *duration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return truce.Errorf(truce.CodeInvalidParameter, "%.40q is not a duration; write it like \"30s\", \"2m\" or \"1m30s\"", s)
		}
		d.d = v
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return truce.Errorf(truce.CodeInvalidParameter, "%.40s is not a duration; write it like \"30s\", or as a number of seconds", b)
	}
	if secs > float64(1<<62)/float64(time.Second) || secs < -float64(1<<62)/float64(time.Second) {
		return truce.Errorf(truce.CodeInvalidParameter, "%.40s seconds is out of range", b)
	}
	d.d = time.Duration(secs * float64(time.Second))
	return nil
}

// lockJSON is a lock as the API shows it. Token is shown only to its
// holder, in the answers to lock and renew.
type lockJSON struct {
	Token      string `json:"token,omitempty"`
	Owner      string `json:"owner"`
	ExpiresAt  string `json:"expiresAt"`
	AcquiredAt string `json:"acquiredAt"`
	Collection string `json:"collection"`
	ID         string `json:"id"`
	Fence      int64  `json:"fence"`
}

func writeLock(w http.ResponseWriter, status int, l *truce.Lock) {
	b, _ := json.Marshal(lockJSON{Token: l.Token, Owner: l.Owner,
		ExpiresAt:  string(truce.AppendTime(nil, l.ExpiresAt)),
		AcquiredAt: string(truce.AppendTime(nil, l.AcquiredAt)),
		Collection: l.Collection, ID: l.ID, Fence: l.Fence})
	w.Header().Set("Cache-Control", "no-store")
	if l.Token != "" {
		w.Header().Set("Lock-Token", l.Token)
	}
	writeJSON(w, status, b)
}

// lockToken reads the Lock-Token header: the bare token, or RFC 4918's
// Coded-URL form <token>. ok is false when there is none.
func lockToken(r *http.Request) (string, bool, error) {
	v, ok := headerValue(r, "Lock-Token")
	if !ok {
		return "", false, nil
	}
	v = strings.TrimSpace(v)
	if len(v) >= 2 && v[0] == '<' && v[len(v)-1] == '>' {
		v = v[1 : len(v)-1]
	}
	if v == "" || len(v) > 255 {
		return "", false, truce.Errorf(truce.CodeInvalidPrecondition, "Lock-Token must be the token a lock request returned (1 to 255 characters)")
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] >= 0x7f {
			return "", false, truce.Errorf(truce.CodeInvalidPrecondition, "Lock-Token %.60q holds a character that no token has; send the token a lock request returned", v)
		}
	}
	return v, true, nil
}

// lock takes the lock (201), or renews it when the request carries the
// holder's Lock-Token (200).
func (h *Handler) lock(w http.ResponseWriter, r *http.Request) {
	if _, err := query(r); err != nil {
		h.problem(w, r, err)
		return
	}
	token, renew, err := lockToken(r)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	body, err := h.jsonBody(w, r)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	var req lockRequest
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			var te *truce.Error
			if errors.As(err, &te) {
				h.problem(w, r, te)
				return
			}
			h.problem(w, r, truce.Errorf(truce.CodeInvalidJSON, "the lock request must be {\"ttl\": \"30s\", \"owner\": \"alice\", \"wait\": \"10s\"} (every field optional): %s", strings.TrimPrefix(err.Error(), "json: ")))
			return
		}
	}
	c, id := r.PathValue("c"), r.PathValue("id")
	if renew {
		l, err := h.svc.RenewLock(r.Context(), c, id, token, req.TTL.d)
		if err != nil {
			h.problem(w, r, err)
			return
		}
		l.Token = token
		writeLock(w, http.StatusOK, l)
		return
	}
	if req.Wait.d > 0 {
		// The server's write timeout must not cut a long wait short.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(min(req.Wait.d, h.svc.MaxLockTTL()) + 30*time.Second))
	}
	l, err := h.lockObserved(r.Context(), truce.LockRequest{Collection: c, ID: id, Owner: req.Owner, TTL: req.TTL.d, Wait: req.Wait.d})
	if err != nil {
		h.problem(w, r, err)
		return
	}
	w.Header().Set("Location", docURL(&truce.Document{Collection: c, ID: id})+"/lock")
	writeLock(w, http.StatusCreated, l)
}

// getLock shows the live lock of a document, without its token, or 404.
func (h *Handler) getLock(w http.ResponseWriter, r *http.Request) {
	if _, err := query(r); err != nil {
		h.problem(w, r, err)
		return
	}
	l, err := h.svc.GetLock(r.Context(), r.PathValue("c"), r.PathValue("id"))
	if err != nil {
		h.problem(w, r, err)
		return
	}
	writeLock(w, http.StatusOK, l)
}

// unlock releases the lock with the holder's Lock-Token, or, with
// ?force=true, breaks whatever lock is held.
func (h *Handler) unlock(w http.ResponseWriter, r *http.Request) {
	q, err := query(r, "force")
	if err != nil {
		h.problem(w, r, err)
		return
	}
	force := false
	if q.Has("force") {
		if force, err = strconv.ParseBool(q.Get("force")); err != nil {
			h.problem(w, r, truce.Errorf(truce.CodeInvalidParameter, "force=%.20q is not true or false", q.Get("force")))
			return
		}
	}
	token, ok, err := lockToken(r)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	c, id := r.PathValue("c"), r.PathValue("id")
	switch {
	case force && !principalOf(r).IsAdmin():
		err = forbidden(principalOf(r), auth.AdminScope)
	case force:
		err = h.svc.BreakLock(r.Context(), c, id)
	case !ok:
		err = truce.Errorf(truce.CodeInvalidPrecondition, "releasing the lock on %s/%s needs the Lock-Token header its lock request returned; an administrator can break it with ?force=true", c, id)
	default:
		err = h.svc.Unlock(r.Context(), c, id, token)
	}
	if err != nil {
		h.problem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// lockObserved is Service.Lock, timed for the metrics.
func (h *Handler) lockObserved(ctx context.Context, req truce.LockRequest) (*truce.Lock, error) {
	m := h.metrics
	if m == nil {
		return h.svc.Lock(ctx, req)
	}
	if req.Wait > 0 {
		m.locksWaiting.Inc()
		defer m.locksWaiting.Dec()
	}
	start := time.Now()
	l, err := h.svc.Lock(ctx, req)
	outcome := "acquired"
	switch {
	case truce.ErrorCode(err) == truce.CodeLocked:
		outcome = "locked"
	case err != nil:
		outcome = "error"
	}
	m.lockWait.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
	return l, err
}
