package http

import (
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

// statusOf is the one table from error code to HTTP status.
var statusOf = map[truce.Code]int{
	truce.CodeInvalidJSON:           http.StatusBadRequest,
	truce.CodeInvalidDocument:       http.StatusBadRequest,
	truce.CodeSchemaViolation:       http.StatusBadRequest,
	truce.CodeReservedField:         http.StatusBadRequest,
	truce.CodeInvalidPatch:          http.StatusBadRequest,
	truce.CodeInvalidPrecondition:   http.StatusBadRequest,
	truce.CodeInvalidReference:      http.StatusBadRequest,
	truce.CodeInvalidID:             http.StatusBadRequest,
	truce.CodeInvalidCollection:     http.StatusBadRequest,
	truce.CodeInvalidSettings:       http.StatusBadRequest,
	truce.CodeInvalidParameter:      http.StatusBadRequest,
	truce.CodeNotFound:              http.StatusNotFound,
	truce.CodeMethodNotAllowed:      http.StatusMethodNotAllowed,
	truce.CodeAlreadyExists:         http.StatusConflict,
	truce.CodeVersionConflict:       http.StatusConflict,
	truce.CodeMergeConflict:         http.StatusConflict,
	truce.CodeUniqueViolation:       http.StatusConflict,
	truce.CodeInUse:                 http.StatusConflict,
	truce.CodePatchTestFailed:       http.StatusConflict,
	truce.CodeNotEmpty:              http.StatusConflict,
	truce.CodeVersionTrimmed:        http.StatusGone,
	truce.CodePreconditionFailed:    http.StatusPreconditionFailed,
	truce.CodeTooLarge:              http.StatusRequestEntityTooLarge,
	truce.CodeUnsupportedMediaType:  http.StatusUnsupportedMediaType,
	truce.CodePreconditionRequired:  http.StatusPreconditionRequired,
	truce.CodeConflictClosed:        http.StatusConflict,
	truce.CodeIdempotencyKeyReused:  http.StatusUnprocessableEntity,
	truce.CodeIdempotencyKeyInUse:   http.StatusConflict,
	truce.CodeInvalidIdempotencyKey: http.StatusBadRequest,
	truce.CodeLocked:                http.StatusLocked,
	truce.CodeLockTokenMismatch:     http.StatusConflict,
	truce.CodeLockExpired:           http.StatusPreconditionFailed,
	truce.CodeTransactionConflict:   http.StatusConflict,
	truce.CodeTransactionExpired:    http.StatusGone,
	truce.CodeFailedDependency:      http.StatusFailedDependency,
	truce.CodeTooManyOps:            http.StatusBadRequest,
	truce.CodeEventsExpired:         http.StatusGone,
	truce.CodeUnauthorized:          http.StatusUnauthorized,
	truce.CodeForbidden:             http.StatusForbidden,
	truce.CodeRateLimited:           http.StatusTooManyRequests,
	truce.CodeUnavailable:           http.StatusServiceUnavailable,
	truce.CodeInternal:              http.StatusInternalServerError,
	truce.CodeInvalidQuery:          http.StatusBadRequest,
	truce.CodeIndexRequired:         http.StatusBadRequest,
	truce.CodeScanTooLarge:          http.StatusBadRequest,
	truce.CodeIndexBuilding:         http.StatusServiceUnavailable,
	truce.CodeInvalidBackupTarget:   http.StatusBadRequest,
	truce.CodeBackupUnsupported:     http.StatusNotImplemented,
	truce.CodeImportConflict:        http.StatusConflict,
	truce.CodeOverloaded:            http.StatusServiceUnavailable,
	truce.CodeInsufficientStorage:   http.StatusInsufficientStorage,
}

// StatusOf returns the HTTP status that answers an error code.
func StatusOf(c truce.Code) int {
	if s, ok := statusOf[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// problemName is the last segment of a code's problem type URI.
func problemName(c truce.Code) string { return strings.ReplaceAll(string(c), "_", "-") }

// Problem is an RFC 9457 problem details body with truce's members.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Instance  string `json:"instance"`
	Code      string `json:"code"`
	Retryable bool   `json:"retryable"`
	RequestID string `json:"requestId"`
	// Current is the document as it is now, on a stale-version conflict.
	Current *Current `json:"current,omitempty"`
	// Errors lists schema violations.
	Errors []truce.Violation `json:"errors,omitempty"`
	// Referrers lists the documents that reference the one being deleted.
	Referrers []truce.DocRef `json:"referrers,omitempty"`
	// Field, Value and Holder describe a unique violation.
	Field  string        `json:"field,omitempty"`
	Value  any           `json:"value,omitempty"`
	Holder *truce.DocRef `json:"holder,omitempty"`
	// Conflicts lists the paths a merge could not combine.
	Conflicts []truce.MergeConflict `json:"conflicts,omitempty"`
	// ConflictID names the conflict a manual policy recorded.
	ConflictID string `json:"conflictId,omitempty"`
	// Owner and ExpiresAt describe the lock that refused the request.
	Owner     string `json:"owner,omitempty"`
	ExpiresAt string `json:"expiresAt,omitempty"`
	// Scope names the scope the token lacks (403).
	Scope string `json:"scope,omitempty"`
}

// Current is the state a client needs to recover from a conflict.
type Current struct {
	Version  int64           `json:"version"`
	ETag     string          `json:"etag"`
	Document json.RawMessage `json:"document"`
}

// problem answers err as problem+json. Internal errors are logged with the
// request id and shown without their cause.
func (h *Handler) problem(w http.ResponseWriter, r *http.Request, err error) {
	var te *truce.Error
	if r.Context().Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		// The client went away (or the server is shutting down) while the
		// request waited, for the disk say: no fault of the server's, and
		// nobody may read the answer.
		h.log.Debug("request ended before its answer", "requestId", w.Header().Get("X-Request-Id"), "method", r.Method, "path", r.URL.Path, "err", err)
		h.writeProblem(w, r, w.Header().Get("X-Request-Id"), StatusOf(truce.CodeUnavailable), &truce.Error{Code: truce.CodeUnavailable,
			Detail: "the request ended (the client went away or the server is shutting down) before it was answered; a write's outcome is unknown: re-read, or retry with the same Idempotency-Key"})
		return
	}
	if !errors.As(err, &te) {
		h.log.Error("internal error", "requestId", w.Header().Get("X-Request-Id"), "method", r.Method, "path", r.URL.Path, "err", err)
		te = &truce.Error{Code: truce.CodeInternal, Detail: truce.ErrorDetail(err)}
	} else if te.Code == truce.CodeInternal || te.Code == truce.CodeUnavailable {
		h.log.Error("request failed", "requestId", w.Header().Get("X-Request-Id"), "path", r.URL.Path, "err", err)
	}
	h.writeProblem(w, r, w.Header().Get("X-Request-Id"), StatusOf(te.Code), te)
}

// hideReferrers leaves out of an in_use problem the referring documents
// of collections p may not read; the count of referrers stays, since the
// refusal itself says that some exist.
func hideReferrers(p *auth.Principal, te *truce.Error) *truce.Error {
	if p.ReadsAll() {
		return te
	}
	kept := make([]truce.DocRef, 0, len(te.Referrers))
	for _, ref := range te.Referrers {
		if p.CanRead(ref.Collection) {
			kept = append(kept, ref)
		}
	}
	if len(kept) == len(te.Referrers) {
		return te
	}
	c := *te
	c.Referrers = kept
	n := strconv.Itoa(len(te.Referrers))
	if len(te.Referrers) >= 100 { // the Service lists the first 100
		n += " or more"
	}
	c.Detail = "the document is referenced by " + n + " live document(s)"
	if len(kept) > 0 {
		c.Detail += ", e.g. " + kept[0].Collection + "/" + kept[0].ID + " (field " + kept[0].Field + ")"
	}
	c.Detail += ", some in collections this token may not read; change or delete them first"
	return &c
}

// writeProblem answers te as problem+json with status. Every problem passes
// here, so here it leaves out what the caller may not read.
func (h *Handler) writeProblem(w http.ResponseWriter, r *http.Request, rid string, status int, te *truce.Error) {
	if len(te.Referrers) > 0 {
		te = hideReferrers(principalOf(r), te)
	}
	noteCode(w, te.Code)
	if h.metrics != nil {
		h.countProblem(r, status, te)
	}
	title := problemTypeOf(te.Code).title
	p := Problem{
		Type: "/problems/" + problemName(te.Code), Title: title, Status: status,
		Detail: te.Detail + advice(r, te), Instance: r.URL.Path, Code: string(te.Code), Retryable: te.Code.Retryable(),
		RequestID: rid, Errors: te.Violations, Referrers: te.Referrers,
		Field: te.Field, Value: te.Value, Holder: te.Holder, Conflicts: te.Conflicts,
		ConflictID: te.ConflictID, Owner: te.LockOwner, Scope: te.Scope,
	}
	if !te.LockExpiresAt.IsZero() {
		p.ExpiresAt = string(truce.AppendTime(nil, te.LockExpiresAt))
	}
	if p.Detail == "" {
		p.Detail = title
	}
	if c := te.Current; c != nil && !c.Deleted {
		p.Current = &Current{Version: c.Version, ETag: c.ETag(), Document: c.JSON()}
	}
	body, err := json.Marshal(p)
	if err != nil {
		body = []byte(`{"type":"/problems/internal","title":"Internal error","status":500,"code":"internal"}`)
		status = http.StatusInternalServerError
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/problem+json")
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	hd.Del("ETag")
	hd.Del("Last-Modified")
	if te.ConflictID != "" {
		hd.Set("Link", conflictLink(te.ConflictID))
	}
	if te.Code == truce.CodeUnavailable {
		hd.Set("Retry-After", "1")
	}
	if te.Code == truce.CodeUnsupportedMediaType {
		acceptedTypes(hd, r.Method)
	}
	if te.RetryAfter > 0 {
		hd.Set("Retry-After", strconv.FormatInt(int64((te.RetryAfter+time.Second-1)/time.Second), 10))
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// acceptedTypes names, on a 415, the body types the request could have
// had: Accept-Patch on a PATCH (RFC 5789, section 2.2), Accept on the
// other methods, whose bodies are JSON (RFC 9110, section 15.5.16).
func acceptedTypes(hd http.Header, method string) {
	if method == http.MethodPatch {
		hd.Set("Accept-Patch", string(truce.MergePatch)+", "+string(truce.JSONPatch))
		return
	}
	hd.Set("Accept", "application/json")
}
