package truce

// CodeInfo describes an error code for people and for retry logic.
type CodeInfo struct {
	// Title is a short, fixed summary of the problem.
	Title string
	// Retryable reports whether repeating the request, after re-reading
	// the document or waiting for Retry-After, can succeed.
	Retryable bool
	// Explain says when the problem happens and how to resolve it.
	Explain string
}

var codeInfo = map[Code]CodeInfo{
	CodeInvalidJSON: {"Invalid JSON", false,
		"The request body is not valid JSON, or it uses JSON that truce refuses: duplicate object keys, " +
			"nesting deeper than 64 levels, numbers outside the range of a 64-bit float, or invalid UTF-8. " +
			"Fix the body and send it again."},
	CodeInvalidDocument: {"Invalid document", false,
		"A document must be a JSON object no larger than the server's --max-doc-bytes. " +
			"Send an object such as {\"title\": \"hello\"}."},
	CodeSchemaViolation: {"Schema violation", false,
		"The document does not satisfy the collection's JSON Schema. The problem lists each error with the JSON " +
			"Pointer of the offending value; fix those values, or change the schema with PUT /v1/collections/{c}."},
	CodeReservedField: {"Reserved field", false,
		"Top-level fields that start with an underscore belong to truce (_id, _version, _createdAt, _updatedAt, " +
			"_deleted). A body may carry _id (it must match the URL) and _version (a precondition); any other " +
			"underscore field, and any patch that touches one, is refused. Rename the field."},
	CodeInvalidPatch: {"Invalid patch", false,
		"The PATCH body is not a valid JSON Merge Patch (RFC 7396: a JSON object) or JSON Patch (RFC 6902: an " +
			"array of operations), or an operation cannot apply to the document (a path that does not exist, an " +
			"index out of range), or the result is not a JSON object. Re-read the document and build the patch again."},
	CodeInvalidPrecondition: {"Invalid precondition", false,
		"If-Match and If-None-Match take \"*\" or a comma-separated list of quoted entity tags, exactly as the " +
			"ETag header gave them; _version and ?version= take a positive integer. Fix the header or value."},
	CodeInvalidReference: {"Invalid reference", false,
		"A field that the collection declares as a reference must hold the id (a string) of a live document in " +
			"the referenced collection. Create the referenced document first, or fix the id."},
	CodeInvalidID: {"Invalid id", false,
		"A document id is 1 to 255 bytes of letters, digits and . _ ~ : @ - (and not \".\" or \"..\"). " +
			"Percent-encoded characters outside that set are refused too."},
	CodeInvalidCollection: {"Invalid collection name", false,
		"A collection name is 1 to 63 characters: a lowercase letter or digit, then lowercase letters, digits, " +
			"_ and -."},
	CodeInvalidSettings: {"Invalid collection settings", false,
		"The collection settings are malformed: an unknown field, an unknown conflict policy, a unique or " +
			"reference field that is not a plain top-level name, a schema that does not compile, or a negative " +
			"historyLimit. The detail names the field; fix it and PUT the settings again."},
	CodeInvalidParameter: {"Invalid query parameter", false,
		"A query parameter is unknown or its value is malformed (limit must be 1-1000, cursors must come from " +
			"a previous page, versions are positive integers). Fix the URL."},
	CodeNotFound: {"Not found", false,
		"There is no live document (or collection, or version) at this URL. A deleted document is not found, " +
			"but its history is still readable under /versions."},
	CodeMethodNotAllowed: {"Method not allowed", false,
		"This URL does not support the request's method. The Allow header lists the methods it does support."},
	CodeAlreadyExists: {"Already exists", false,
		"A POST named an _id that a live document already has. Use PUT to replace it, or choose another id."},
	CodeVersionConflict: {"Version conflict", true,
		"The request's _version (or ?version=) is not the document's current version: someone else changed it " +
			"since you read it. The problem's current member holds the document as it is now; apply your change " +
			"to it and send the write again with the new version."},
	CodeMergeConflict: {"Merge conflict", true,
		"The collection merges writes with a stale version, but the request and the changes made since its " +
			"version changed the same paths differently. The problem lists each path with the base, current and " +
			"proposed values, and carries the current document: decide each path and send the result with the " +
			"current _version."},
	CodeUniqueViolation: {"Unique violation", false,
		"The collection declares a field unique and another live document already holds this value. The " +
			"problem names the field, the value and the document that holds it. Choose another value."},
	CodeInUse: {"In use", false,
		"Live documents reference this document through a field the referencing collection declares in its " +
			"references. The problem lists them; change or delete them first."},
	CodePatchTestFailed: {"Patch test failed", true,
		"A JSON Patch test operation did not match the document. The document changed since you read it: " +
			"re-read it and build the patch again."},
	CodeNotEmpty: {"Collection not empty", false,
		"The collection still holds live documents. Delete them first, or send DELETE with ?force=true to drop " +
			"the collection with all its documents and history."},
	CodeVersionTrimmed: {"Version trimmed", false,
		"This version existed but is older than the collection's historyLimit keeps. Newer versions are listed " +
			"under /versions."},
	CodePreconditionFailed: {"Precondition failed", true,
		"If-Match did not match the document's current ETag (or there is no live document), or If-None-Match " +
			"matched it. The problem's current member holds the document as it is now; re-read, re-apply your " +
			"change and send it with the new ETag."},
	CodeTooLarge: {"Too large", false,
		"The request body, or the document it would produce, is larger than the server allows " +
			"(--max-doc-bytes). Make it smaller."},
	CodeUnsupportedMediaType: {"Unsupported media type", false,
		"Documents are sent as application/json. PATCH takes application/merge-patch+json (RFC 7396) or " +
			"application/json-patch+json (RFC 6902). Set the Content-Type header accordingly."},
	CodePreconditionRequired: {"Precondition required", false,
		"The collection has requirePreconditions set: every write must say which version it changes, with " +
			"If-Match, If-None-Match: * (create only), _version in the body, or ?version=. Read the document and " +
			"send its ETag."},
	CodeConflictClosed: {"Conflict closed", false,
		"The recorded conflict was already resolved or dismissed, so it cannot be resolved or dismissed " +
			"again. GET /v1/conflicts/{id} shows how it was closed; the document's history shows the resolution."},
	CodeIdempotencyKeyReused: {"Idempotency key reused", false,
		"The Idempotency-Key was used before with a different request (method, URL, preconditions or body). " +
			"A key names one logical request: generate a new key for a new request."},
	CodeIdempotencyKeyInUse: {"Idempotency key in use", true,
		"A request with the same Idempotency-Key is still being processed. Wait for Retry-After and send it " +
			"again: you will get the first request's answer."},
	CodeInvalidIdempotencyKey: {"Invalid idempotency key", false,
		"An Idempotency-Key is 1 to 255 printable ASCII characters, for example a UUID. Quotes are allowed " +
			"around it (the IETF draft's structured-field string) and are not part of the key."},
	CodeLocked: {"Locked", true,
		"Another client holds a lock on the document (POST .../lock), and writes without its Lock-Token are " +
			"refused until it releases the lock or its TTL ends. The problem names the owner and when the lock " +
			"expires; wait for Retry-After, or take the lock yourself with a wait."},
	CodeLockTokenMismatch: {"Lock token mismatch", false,
		"The Lock-Token sent does not belong to the lock that is held on the document, so it cannot release " +
			"or renew it. Use the token the lock request returned; an administrator can break the lock with " +
			"DELETE .../lock?force=true."},
	CodeLockExpired: {"Lock expired", true,
		"The Lock-Token names a lock that is no longer held: its TTL ended (or it was released or broken) " +
			"before this request. Anything written since may have changed the document: re-read it, take the " +
			"lock again and redo the change."},
	CodeTransactionConflict: {"Transaction conflict", true,
		"A document that the transaction read or wrote changed after the transaction saw it, so committing " +
			"would lose that change. Nothing was applied. The problem lists the documents that changed; run the " +
			"transaction again from the start (client.RunTransaction does this for you)."},
	CodeTransactionExpired: {"Transaction expired", false,
		"The interactive transaction passed its TTL (or was committed or rolled back) and is gone, with " +
			"everything it staged. Begin a new transaction and redo its reads and writes."},
	CodeFailedDependency: {"Failed dependency", false,
		"This operation of a transaction was not applied because another operation of the same transaction " +
			"failed (see failedOp); the transaction is all or nothing. Fix that operation and send the whole " +
			"transaction again."},
	CodeTooManyOps: {"Too many operations", false,
		"The transaction has more operations than the server allows (--max-tx-ops, 1000 by default), or names " +
			"one document in more than one write operation. Split it into smaller transactions."},
	CodeEventsExpired: {"Events expired", false,
		"The position you resume from (Last-Event-ID or ?since=) is older than the change feed keeps " +
			"(--event-retention), so events after it may be gone. Re-read the documents you follow, then " +
			"subscribe again without since to start from now."},
	CodeUnavailable: {"Unavailable", true,
		"The server is shutting down or its store is not reachable. Retry after a moment."},
	CodeInternal: {"Internal error", true,
		"Something failed inside the server; the server log has the cause, under the problem's requestId."},
}

// Info returns the title, retryability and explanation of c. An unknown code
// is described as internal.
func (c Code) Info() CodeInfo {
	if i, ok := codeInfo[c]; ok {
		return i
	}
	return codeInfo[CodeInternal]
}

// Codes returns every known code.
func Codes() []Code {
	out := make([]Code, 0, len(codeInfo))
	for c := range codeInfo {
		out = append(out, c)
	}
	return out
}
