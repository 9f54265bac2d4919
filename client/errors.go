package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"
)

// Error is a request that the server answered with an error status. Its
// fields come from the problem details (RFC 9457) in the answer; when the
// answer is not a problem (a proxy's error page, say), Code is empty and
// Detail holds the start of the body.
type Error struct {
	// Method and Path are the request's method and path.
	Method string
	Path   string
	// Status is the HTTP status code.
	Status int
	// Code is the problem's stable, machine-readable code, such as
	// "version_conflict" (see the Code… constants).
	Code string
	// Title is the problem type's short summary.
	Title string
	// Type is the problem type, a URI reference such as
	// "/problems/version-conflict" that a person can open for an
	// explanation.
	Type string
	// Detail says what went wrong and what to do about it, for people.
	Detail string
	// Retryable is the server's word on whether repeating the request,
	// after re-reading or after RetryAfter, can succeed.
	Retryable bool
	// RequestID is the server's id of the request, which its log carries
	// too; quote it when reporting a problem.
	RequestID string
	// RetryAfter is the wait the Retry-After header asked for, or 0.
	RetryAfter time.Duration
	// Current is the document as it is now, which the server sends with a
	// conflict caused by a stale version or ETag (409 version_conflict,
	// 412 precondition_failed, 409 patch_test_failed). Nil when the
	// answer has none, for example because the document does not exist.
	Current *Doc
	// Conflicts lists, on a 409 merge_conflict, the paths that the write
	// and the current document changed differently, with the three
	// values of each.
	Conflicts []ConflictPath
	// ConflictID is, on a 409 merge_conflict in a collection with the
	// manual policy, the id of the conflict the server recorded (see
	// Client.Conflict and Client.Resolve).
	ConflictID string
	// Scope is, on a 403 forbidden, the scope the token lacks (such as
	// "write:orders").
	Scope string
	// Problem is the problem details body as the server sent it, with
	// members this type does not model (a unique violation's field and
	// holder, the referrers of an in_use error, schema errors).
	Problem json.RawMessage
}

// The problem codes of the truce API (docs/api.md), as Error.Code holds them.
const (
	CodeInvalidJSON          = "invalid_json"
	CodeInvalidDocument      = "invalid_document"
	CodeSchemaViolation      = "schema_violation"
	CodeReservedField        = "reserved_field"
	CodeInvalidPatch         = "invalid_patch"
	CodeInvalidPrecondition  = "invalid_precondition"
	CodeInvalidReference     = "invalid_reference"
	CodeInvalidID            = "invalid_id"
	CodeInvalidCollection    = "invalid_collection"
	CodeInvalidSettings      = "invalid_settings"
	CodeInvalidParameter     = "invalid_parameter"
	CodeNotFound             = "not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeAlreadyExists        = "already_exists"
	CodeVersionConflict      = "version_conflict"
	CodeMergeConflict        = "merge_conflict"
	CodeUniqueViolation      = "unique_violation"
	CodeInUse                = "in_use"
	CodePatchTestFailed      = "patch_test_failed"
	CodeNotEmpty             = "not_empty"
	CodeVersionTrimmed       = "version_trimmed"
	CodePreconditionFailed   = "precondition_failed"
	CodeTooLarge             = "too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeIdempotencyKeyReused = "idempotency_key_reused"
	CodeIdempotencyKeyInUse  = "idempotency_key_in_use"
	CodeLocked               = "locked"
	CodePreconditionRequired = "precondition_required"
	CodeRateLimited          = "rate_limited"
	CodeUnauthorized         = "unauthorized"
	CodeForbidden            = "forbidden"
	CodeUnavailable          = "unavailable"
	CodeInternal             = "internal"
	CodeInvalidQuery         = "invalid_query"
	CodeIndexRequired        = "index_required"
	CodeScanTooLarge         = "scan_too_large"
	CodeIndexBuilding        = "index_building"
	CodeInvalidBackupTarget  = "invalid_backup_target"
	CodeBackupUnsupported    = "backup_unsupported"
	CodeImportConflict       = "import_conflict"
	CodeTransactionConflict  = "transaction_conflict"
	CodeTransactionExpired   = "transaction_expired"
	CodeLockTokenMismatch    = "lock_token_mismatch"
	CodeLockExpired          = "lock_expired"
	CodeEventsExpired        = "events_expired"
	// CodeOverloaded (503): the server sheds load past its --max-inflight;
	// nothing was done, and the client retries it after Retry-After.
	CodeOverloaded = "overloaded"
	// CodeInsufficientStorage (507): the server's disk is full; the write
	// was not applied, and can succeed once space is freed.
	CodeInsufficientStorage = "insufficient_storage"

	// CodeConflictClosed (409): the recorded conflict was already resolved
	// or dismissed, so it cannot be resolved or dismissed again.
	CodeConflictClosed = "conflict_closed"
	// CodeInvalidIdempotencyKey (400): the Idempotency-Key is not 1 to 255
	// printable ASCII characters.
	CodeInvalidIdempotencyKey = "invalid_idempotency_key"
	// CodeTooManyOps (400): a batch or an interactive transaction has more
	// ops than the server allows, or writes one document in more than one
	// op.
	CodeTooManyOps = "too_many_ops"
	// CodeFailedDependency (424) is never an Error's own code: in the
	// results of a failed batch (Error.Problem), it marks every op that was
	// not applied because the op at FailedOp failed.
	CodeFailedDependency = "failed_dependency"
)

// Error returns "METHOD PATH: detail (code, HTTP status)".
func (e *Error) Error() string {
	var b strings.Builder
	if e.Method != "" {
		b.WriteString(e.Method + " " + e.Path + ": ")
	}
	detail := e.Detail
	if detail == "" {
		detail = http.StatusText(e.Status)
	}
	b.WriteString(detail)
	b.WriteString(" (")
	if e.Code != "" {
		b.WriteString(e.Code + ", ")
	}
	fmt.Fprintf(&b, "HTTP %d)", e.Status)
	return b.String()
}

// problem is the JSON of a problem details body.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Code      string `json:"code"`
	Retryable *bool  `json:"retryable"`
	RequestID string `json:"requestId"`
	Current   *struct {
		Version  int64           `json:"version"`
		ETag     string          `json:"etag"`
		Document json.RawMessage `json:"document"`
	} `json:"current"`
	Conflicts  []ConflictPath `json:"conflicts"`
	ConflictID string         `json:"conflictId"`
	Scope      string         `json:"scope"`
}

// newError builds the *Error of an answer with an error status.
func newError(r *request, resp *response) *Error {
	e := &Error{
		Method:     r.method,
		Path:       r.path,
		Status:     resp.status,
		RequestID:  resp.header.Get("X-Request-Id"),
		RetryAfter: parseRetryAfter(resp.header.Get("Retry-After"), time.Now()),
	}
	mt, _, _ := mime.ParseMediaType(resp.header.Get("Content-Type"))
	var p problem
	if (mt == "application/problem+json" || mt == "application/json") && json.Unmarshal(resp.body, &p) == nil && p.Code != "" {
		e.Code, e.Title, e.Type, e.Detail = p.Code, p.Title, p.Type, p.Detail
		if p.RequestID != "" {
			e.RequestID = p.RequestID
		}
		if p.Retryable != nil {
			e.Retryable = *p.Retryable
		}
		e.Problem = json.RawMessage(resp.body)
		e.Conflicts, e.ConflictID, e.Scope = p.Conflicts, p.ConflictID, p.Scope
		if c := p.Current; c != nil && len(c.Document) > 0 && string(c.Document) != "null" {
			if d, err := parseDoc(collectionOf(r.path), c.Document); err == nil {
				d.ETag = c.ETag
				if d.Version == 0 {
					d.Version = c.Version
				}
				e.Current = d
			}
		}
		return e
	}
	// Not a problem: a proxy or load balancer answered. Its gateway and
	// overload statuses are worth retrying.
	switch resp.status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		e.Retryable = true
	}
	e.Title = http.StatusText(resp.status)
	if r.method != http.MethodHead {
		e.Detail = strings.TrimSpace(truncate(string(resp.body), 200))
	}
	return e
}

// collectionOf returns the collection name in a path /v1/collections/{c}/….
func collectionOf(path string) string {
	rest, ok := strings.CutPrefix(path, "/v1/collections/")
	if !ok {
		return ""
	}
	c, _, _ := strings.Cut(rest, "/")
	return c
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// asError returns the *Error in err's chain, or nil.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// Code returns the problem code of the *Error in err's chain, such as
// "unique_violation", or "" when there is none (nil, a transport error, an
// answer that is not a problem).
func Code(err error) string {
	if e := asError(err); e != nil {
		return e.Code
	}
	return ""
}

// IsConflict reports whether err says that the document is not in the
// state the request was based on: a stale If-Match or If-None-Match (412
// precondition_failed) or a stale version (409 version_conflict or
// merge_conflict). Such a request cannot succeed as it is; re-read the
// document (or use the Error's Current), re-apply the change and send it
// again, which is what Update does.
func IsConflict(err error) bool {
	e := asError(err)
	if e == nil {
		return false
	}
	return e.Status == http.StatusPreconditionFailed ||
		(e.Status == http.StatusConflict && (e.Code == CodeVersionConflict || e.Code == CodeMergeConflict))
}

// IsNotFound reports whether err is a 404: no live document (or
// collection, or version) at that URL.
func IsNotFound(err error) bool {
	e := asError(err)
	return e != nil && e.Status == http.StatusNotFound
}

// IsPreconditionFailed reports whether err is a 412: an If-Match or
// If-None-Match header that the document's current state fails.
func IsPreconditionFailed(err error) bool {
	e := asError(err)
	return e != nil && e.Status == http.StatusPreconditionFailed
}

// IsVersionConflict reports whether err is a 409 version_conflict: a
// _version or Version(n) that is not the document's current version.
func IsVersionConflict(err error) bool {
	e := asError(err)
	return e != nil && e.Code == CodeVersionConflict
}
