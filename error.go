package truce

import (
	"errors"
	"fmt"
	"time"
)

// Code is a stable, machine-readable error code. Clients branch on it; its
// spelling never changes once released. The http package maps each code to
// one HTTP status and one problem type.
type Code string

// The error codes. Each one has a single cause; Retryable says whether a
// retry can succeed. The http package holds each code's title and the page
// that explains how to resolve it.
const (
	CodeInvalidJSON           Code = "invalid_json"
	CodeInvalidDocument       Code = "invalid_document"
	CodeSchemaViolation       Code = "schema_violation"
	CodeReservedField         Code = "reserved_field"
	CodeInvalidPatch          Code = "invalid_patch"
	CodeInvalidPrecondition   Code = "invalid_precondition"
	CodeInvalidReference      Code = "invalid_reference"
	CodeInvalidID             Code = "invalid_id"
	CodeInvalidCollection     Code = "invalid_collection"
	CodeInvalidSettings       Code = "invalid_settings"
	CodeInvalidParameter      Code = "invalid_parameter"
	CodeNotFound              Code = "not_found"
	CodeMethodNotAllowed      Code = "method_not_allowed"
	CodeAlreadyExists         Code = "already_exists"
	CodeVersionConflict       Code = "version_conflict"
	CodeMergeConflict         Code = "merge_conflict"
	CodeUniqueViolation       Code = "unique_violation"
	CodeInUse                 Code = "in_use"
	CodePatchTestFailed       Code = "patch_test_failed"
	CodeNotEmpty              Code = "not_empty"
	CodeVersionTrimmed        Code = "version_trimmed"
	CodePreconditionFailed    Code = "precondition_failed"
	CodeTooLarge              Code = "too_large"
	CodeUnsupportedMediaType  Code = "unsupported_media_type"
	CodePreconditionRequired  Code = "precondition_required"
	CodeConflictClosed        Code = "conflict_closed"
	CodeIdempotencyKeyReused  Code = "idempotency_key_reused"
	CodeIdempotencyKeyInUse   Code = "idempotency_key_in_use"
	CodeInvalidIdempotencyKey Code = "invalid_idempotency_key"
	CodeLocked                Code = "locked"
	CodeLockTokenMismatch     Code = "lock_token_mismatch"
	CodeLockExpired           Code = "lock_expired"
	CodeTransactionConflict   Code = "transaction_conflict"
	CodeTransactionExpired    Code = "transaction_expired"
	CodeFailedDependency      Code = "failed_dependency"
	CodeTooManyOps            Code = "too_many_ops"
	CodeEventsExpired         Code = "events_expired"
	CodeUnauthorized          Code = "unauthorized"
	CodeForbidden             Code = "forbidden"
	CodeRateLimited           Code = "rate_limited"
	CodeUnavailable           Code = "unavailable"
	CodeInternal              Code = "internal"
	CodeInvalidQuery          Code = "invalid_query"
	CodeIndexRequired         Code = "index_required"
	CodeScanTooLarge          Code = "scan_too_large"
	CodeIndexBuilding         Code = "index_building"
	CodeInvalidBackupTarget   Code = "invalid_backup_target"
	CodeBackupUnsupported     Code = "backup_unsupported"
	CodeImportConflict        Code = "import_conflict"
	// CodeOverloaded: the server has as many requests in flight as it
	// takes (--max-inflight); retry after Retry-After.
	CodeOverloaded Code = "overloaded"
	// CodeInsufficientStorage: the store's disk is full; reads still work,
	// and the write can succeed once space is freed.
	CodeInsufficientStorage Code = "insufficient_storage"
)

// codes lists every code, each with whether repeating the same call can
// succeed once the state it ran into has changed.
var codes = []struct {
	code      Code
	retryable bool
}{
	{CodeInvalidJSON, false},
	{CodeInvalidDocument, false},
	{CodeSchemaViolation, false},
	{CodeReservedField, false},
	{CodeInvalidPatch, false},
	{CodeInvalidPrecondition, false},
	{CodeInvalidReference, false},
	{CodeInvalidID, false},
	{CodeInvalidCollection, false},
	{CodeInvalidSettings, false},
	{CodeInvalidParameter, false},
	{CodeNotFound, false},
	{CodeMethodNotAllowed, false},
	{CodeAlreadyExists, false},
	{CodeVersionConflict, true},
	{CodeMergeConflict, true},
	{CodeUniqueViolation, false},
	{CodeInUse, false},
	{CodePatchTestFailed, true},
	{CodeNotEmpty, false},
	{CodeVersionTrimmed, false},
	{CodePreconditionFailed, true},
	{CodeTooLarge, false},
	{CodeUnsupportedMediaType, false},
	{CodePreconditionRequired, false},
	{CodeConflictClosed, false},
	{CodeIdempotencyKeyReused, false},
	{CodeIdempotencyKeyInUse, true},
	{CodeInvalidIdempotencyKey, false},
	{CodeLocked, true},
	{CodeLockTokenMismatch, false},
	{CodeLockExpired, true},
	{CodeTransactionConflict, true},
	{CodeTransactionExpired, false},
	{CodeFailedDependency, false},
	{CodeTooManyOps, false},
	{CodeEventsExpired, false},
	{CodeUnauthorized, false},
	{CodeForbidden, false},
	{CodeRateLimited, true},
	{CodeUnavailable, true},
	{CodeInternal, true},
	{CodeInvalidQuery, false},
	{CodeIndexRequired, false},
	{CodeScanTooLarge, false},
	{CodeIndexBuilding, true},
	{CodeInvalidBackupTarget, false},
	{CodeBackupUnsupported, false},
	{CodeImportConflict, false},
	{CodeOverloaded, true},
	{CodeInsufficientStorage, true},
}

// Codes returns every code, in the order they are declared.
func Codes() []Code {
	out := make([]Code, len(codes))
	for i, c := range codes {
		out[i] = c.code
	}
	return out
}

// Retryable reports whether repeating the same call can succeed, without
// changing it, once the state that refused it has moved on: after
// re-reading the document (a stale version), after Error.RetryAfter (a
// lock), or after a moment (the store was unavailable). Every other code
// needs a changed call. An unknown code is retryable, as CodeInternal is.
func (c Code) Retryable() bool {
	for _, k := range codes {
		if k.code == c {
			return k.retryable
		}
	}
	return true
}

// Error is the error every Service method returns for a failure the caller
// can act on. Anything else that escapes the Service is an internal error.
type Error struct {
	// Code says what went wrong, for programs.
	Code Code
	// Detail says what went wrong and what to do, for people.
	Detail string
	// Current is the document as it is now, on a conflict caused by a stale
	// version or a failed ETag precondition, so the caller can recover
	// without another read. Nil when the document does not exist.
	Current *Document
	// Violations lists each schema error with its JSON Pointer
	// (CodeSchemaViolation).
	Violations []Violation
	// Referrers lists live documents that reference the one being deleted
	// (CodeInUse).
	Referrers []DocRef
	// Field and Value name the unique field and the value that another
	// document already holds (CodeUniqueViolation), and Holder names it.
	Field  string
	Value  any
	Holder *DocRef
	// Conflicts lists the paths a merge could not combine
	// (CodeMergeConflict).
	Conflicts []MergeConflict
	// ConflictID names the conflict recorded for this refusal, when the
	// collection's policy is manual (CodeMergeConflict).
	ConflictID string
	// LockOwner and LockExpiresAt describe the lock that refused a write
	// or a lock request (CodeLocked): who holds it and when it ends. The
	// lock's token is never shown. LockExpiresAt is zero when no lock is
	// live (a request that waited behind others in the queue).
	LockOwner     string
	LockExpiresAt time.Time
	// RetryAfter, when positive, is how long to wait before a retry can
	// succeed (CodeLocked: until the lock ends).
	RetryAfter time.Duration
	// Changed lists the documents that changed under an interactive
	// transaction (CodeTransactionConflict).
	Changed []DocRef
	// Scope names the scope the caller lacks (CodeForbidden), such as
	// "write:orders".
	Scope string

	// conflict is the draft of the conflict a manual policy records.
	conflict *Conflict
}

// Violation is one schema error: where in the document, and what is wrong.
type Violation struct {
	Pointer string `json:"pointer"`
	Message string `json:"message"`
}

// DocRef names a document.
type DocRef struct {
	Collection string `json:"collection"`
	ID         string `json:"id"`
	// Field is the referencing field, when the ref describes a reference.
	Field string `json:"field,omitempty"`
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Detail
}

// Errorf returns an *Error with the given code and a formatted detail.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err: the Code of an *Error anywhere in its
// chain, "" for nil, and CodeInternal for anything else.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorDetail returns the detail of an *Error in err's chain, or a generic
// message for an internal error, whose text is not meant for clients.
func ErrorDetail(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Detail
	}
	return "internal error; the server log has the cause"
}
