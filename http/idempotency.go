package http

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/trucedb/truce"
)

// idempotent wraps the writes (POST, PUT, PATCH, DELETE) that carry an
// Idempotency-Key: the first answer is stored with a fingerprint of the
// request, per caller; the same key and request get that answer again with
// Idempotent-Replayed: true; the same key with another request is 422; a
// key whose first request is still running is 409 with Retry-After. A
// Service write stores its own answer in its commit when the handler gives
// it the key (answerKey) and reports that it did (answered); any other
// answer is stored here once it is written.
func (h *Handler) idempotent(w http.ResponseWriter, r *http.Request, next http.Handler) {
	raw, ok := headerValue(r, "Idempotency-Key")
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		ok = false
	}
	if !ok {
		next.ServeHTTP(w, r)
		return
	}
	key, err := parseIdempotencyKey(raw)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	body, err := h.readBody(w, r)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	r.Body = readCloser{bytes.NewReader(body)}
	k := &truce.IdempotencyKey{Caller: principalOf(r).Key(), Key: key, Fingerprint: fingerprint(r, body)}

	rec, claim, err := h.svc.ClaimIdempotency(r.Context(), k)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	if rec != nil {
		if !rec.Matches(k.Fingerprint) {
			h.problem(w, r, truce.Errorf(truce.CodeIdempotencyKeyReused, "Idempotency-Key %q was used with a different request; use a new key for a new request", key))
			return
		}
		h.replay(w, r, rec)
		return
	}
	defer func() {
		if err := claim.Release(r.Context()); err != nil {
			h.log.Warn("releasing an Idempotency-Key failed; it is free again when its claim ends", "err", err)
		}
	}()

	cw := &captureWriter{ResponseWriter: w, key: k}
	next.ServeHTTP(cw, r)
	// A 423 is not stored: nothing was done, and the same request, retried
	// after Retry-After, is meant to succeed once the lock is gone. Nor
	// are 401, 403 and 429: they answer the caller, not the request, and
	// the same request is meant to succeed once the token, its scopes or
	// its rate allow it.
	if cw.stored || cw.status >= 500 || cw.status == 0 || cw.status == http.StatusLocked ||
		cw.status == http.StatusUnauthorized || cw.status == http.StatusForbidden || cw.status == http.StatusTooManyRequests ||
		(cw.status == http.StatusConflict && bytes.Contains(cw.body.Bytes(), []byte(`"idempotency_key_in_use"`))) {
		return
	}
	a := encodeAnswer(cw.status, cw.Header().Get("Content-Type"), cw.body.Bytes())
	if err := h.svc.SaveIdempotency(r.Context(), k, a); err != nil {
		h.log.Warn("storing the answer to an Idempotency-Key failed", "err", err)
	}
}

// answerKey returns the Idempotency-Key of the request w answers, for the
// Service write that answers it to store its answer in its own commit, or
// nil when the request carries none.
func answerKey(w http.ResponseWriter) *truce.IdempotencyKey {
	if cw, ok := w.(*captureWriter); ok {
		return cw.key
	}
	return nil
}

// answered tells the Idempotency-Key wrapper how the Service write that
// was given answerKey(w) ended: without an error it stored its answer in
// its own commit, and the wrapper stores nothing more.
func answered(w http.ResponseWriter, err error) {
	if cw, ok := w.(*captureWriter); ok && cw.key != nil && err == nil {
		cw.stored = true
	}
}

// storedAnswer is an answer as this package stores it for an
// Idempotency-Key (truce.IdempotencyRecord's Answer), JSON-encoded. The
// pebble store hands the records it wrote before answers were opaque to
// the Service in this form too (pebble/idempotency.go): keep its members
// while such records may live.
type storedAnswer struct {
	Status      int    `json:"s"`
	ContentType string `json:"ct,omitempty"`
	Body        []byte `json:"b,omitempty"`
}

// encodeAnswer returns the stored form of an answer.
func encodeAnswer(status int, contentType string, body []byte) []byte {
	b, _ := json.Marshal(storedAnswer{Status: status, ContentType: contentType, Body: body}) // never fails
	return b
}

// decodeAnswer reads what encodeAnswer wrote.
func decodeAnswer(b []byte) (storedAnswer, error) {
	var a storedAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("stored answer: %w", err)
	}
	if a.Status < 100 || a.Status > 999 {
		return a, fmt.Errorf("stored answer: status %d", a.Status)
	}
	return a, nil
}

// replay answers with a stored answer.
func (h *Handler) replay(w http.ResponseWriter, r *http.Request, rec *truce.IdempotencyRecord) {
	if h.metrics != nil {
		h.metrics.replays.Inc()
	}
	if res := rec.Result; res != nil {
		w.Header().Set("Idempotent-Replayed", "true")
		h.writeResult(w, r, *res, nil)
		return
	}
	a, err := decodeAnswer(rec.Answer)
	if err != nil {
		h.problem(w, r, fmt.Errorf("Idempotency-Key %q: %w", rec.Key, err))
		return
	}
	w.Header().Set("Idempotent-Replayed", "true")
	if a.ContentType != "" {
		w.Header().Set("Content-Type", a.ContentType)
	}
	if a.ContentType == "application/problem+json" {
		// A refusal that recorded a conflict links to it, replayed too.
		var p struct {
			ConflictID string `json:"conflictId"`
		}
		if json.Unmarshal(a.Body, &p) == nil && p.ConflictID != "" {
			w.Header().Set("Link", conflictLink(p.ConflictID))
		}
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(a.Body)))
	w.WriteHeader(a.Status)
	_, _ = w.Write(a.Body)
}

// parseIdempotencyKey accepts a bare key or an RFC 8941 string ("key").
func parseIdempotencyKey(v string) (string, error) {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	if v == "" || len(v) > 255 {
		return "", truce.Errorf(truce.CodeInvalidIdempotencyKey, "Idempotency-Key must be 1 to 255 characters")
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x21 || v[i] > 0x7e || v[i] == '"' || v[i] == '\\' {
			return "", truce.Errorf(truce.CodeInvalidIdempotencyKey, "Idempotency-Key %.60q has a character outside printable ASCII", v)
		}
	}
	return v, nil
}

// fingerprint digests what makes two requests the same request: method,
// path, query, the headers that change the outcome, and the body.
func fingerprint(r *http.Request, body []byte) []byte {
	d := sha256.New()
	for _, s := range []string{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Content-Type"),
		strings.Join(r.Header.Values("If-Match"), ","), strings.Join(r.Header.Values("If-None-Match"), ","), r.Header.Get("Lock-Token"), r.Header.Get(TransactionHeader)} {
		d.Write([]byte(s))
		d.Write([]byte{0})
	}
	d.Write(body)
	return d.Sum(nil)
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// captureWriter keeps a copy of the answer to store it, and carries the
// request's key to the handler (answerKey) and back whether the handler's
// write stored its answer itself (answered).
type captureWriter struct {
	http.ResponseWriter
	key    *truce.IdempotencyKey
	stored bool
	status int
	body   bytes.Buffer
}

func (c *captureWriter) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.body.Write(b)
	return c.ResponseWriter.Write(b)
}
