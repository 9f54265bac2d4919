package http

import (
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/trucedb/truce"
)

// problemType is what a problem type says to people beyond its code and
// status: a short, fixed title (the problem's title member) and the
// explanation its page gives of when it happens and how to resolve it,
// in HTTP terms (headers, URLs, the server's flags).
type problemType struct {
	title   string
	explain string
}

// problemTypes holds the problem type of every truce code.
var problemTypes = map[truce.Code]problemType{
	truce.CodeInvalidJSON: {"Invalid JSON",
		"The request body is not valid JSON, or it uses JSON that truce refuses: duplicate object keys, " +
			"nesting deeper than 64 levels, numbers outside the range of a 64-bit float, or invalid UTF-8. " +
			"Fix the body and send it again."},
	truce.CodeInvalidDocument: {"Invalid document",
		"A document must be a JSON object no larger than the server's --max-doc-bytes. " +
			"Send an object such as {\"title\": \"hello\"}."},
	truce.CodeSchemaViolation: {"Schema violation",
		"The document does not satisfy the collection's JSON Schema. The problem lists each error with the JSON " +
			"Pointer of the offending value; fix those values, or change the schema with PUT /v1/collections/{c}."},
	truce.CodeReservedField: {"Reserved field",
		"Top-level fields that start with an underscore belong to truce (_id, _version, _createdAt, _updatedAt, " +
			"_deleted). A body may carry _id (it must match the URL) and _version (a precondition); any other " +
			"underscore field, and any patch that touches one, is refused. Rename the field."},
	truce.CodeInvalidPatch: {"Invalid patch",
		"The PATCH body is not a valid JSON Merge Patch (RFC 7396: a JSON object) or JSON Patch (RFC 6902: an " +
			"array of operations), or an operation cannot apply to the document (a path that does not exist, an " +
			"index out of range), or the result is not a JSON object. Re-read the document and build the patch again."},
	truce.CodeInvalidPrecondition: {"Invalid precondition",
		"If-Match and If-None-Match take \"*\" or a comma-separated list of quoted entity tags, exactly as the " +
			"ETag header gave them; _version and ?version= take a positive integer. Fix the header or value."},
	truce.CodeInvalidReference: {"Invalid reference",
		"A field that the collection declares as a reference must hold the id (a string) of a live document in " +
			"the referenced collection. Create the referenced document first, or fix the id."},
	truce.CodeInvalidID: {"Invalid id",
		"A document id is 1 to 255 bytes of letters, digits and . _ ~ : @ - (and not \".\" or \"..\"). " +
			"Percent-encoded characters outside that set are refused too."},
	truce.CodeInvalidCollection: {"Invalid collection name",
		"A collection name is 1 to 63 characters: a lowercase letter or digit, then lowercase letters, digits, " +
			"_ and -."},
	truce.CodeInvalidSettings: {"Invalid collection settings",
		"The collection settings are malformed: an unknown field, an unknown conflict policy, a unique or " +
			"reference field that is not a plain top-level name, a schema that does not compile, or a negative " +
			"historyLimit. The detail names the field; fix it and PUT the settings again."},
	truce.CodeInvalidParameter: {"Invalid query parameter",
		"A query parameter is unknown or its value is malformed (limit must be 1-1000, cursors must come from " +
			"a previous page, versions are positive integers). Fix the URL."},
	truce.CodeNotFound: {"Not found",
		"There is no live document (or collection, or version) at this URL. A deleted document is not found, " +
			"but its history is still readable under /versions."},
	truce.CodeMethodNotAllowed: {"Method not allowed",
		"This URL does not support the request's method. The Allow header lists the methods it does support."},
	truce.CodeAlreadyExists: {"Already exists",
		"A POST named an _id that a live document already has. Use PUT to replace it, or choose another id."},
	truce.CodeVersionConflict: {"Version conflict",
		"The request's _version (or ?version=) is not the document's current version: someone else changed it " +
			"since you read it. The problem's current member holds the document as it is now; apply your change " +
			"to it and send the write again with the new version."},
	truce.CodeMergeConflict: {"Merge conflict",
		"The collection merges writes with a stale version, but the request and the changes made since its " +
			"version changed the same paths differently. The problem lists each path with the base, current and " +
			"proposed values, and carries the current document: decide each path and send the result with the " +
			"current _version."},
	truce.CodeUniqueViolation: {"Unique violation",
		"The collection declares a field unique and another live document already holds this value. The " +
			"problem names the field, the value and the document that holds it. Choose another value."},
	truce.CodeInUse: {"In use",
		"Live documents reference this document through a field the referencing collection declares in its " +
			"references. The problem lists them; change or delete them first."},
	truce.CodePatchTestFailed: {"Patch test failed",
		"A JSON Patch test operation did not match the document. The document changed since you read it: " +
			"re-read it and build the patch again."},
	truce.CodeNotEmpty: {"Collection not empty",
		"The collection still holds live documents. Delete them first, or send DELETE with ?force=true to drop " +
			"the collection with all its documents and history."},
	truce.CodeVersionTrimmed: {"Version trimmed",
		"This version existed but is older than the collection's historyLimit keeps. Newer versions are listed " +
			"under /versions."},
	truce.CodePreconditionFailed: {"Precondition failed",
		"If-Match did not match the document's current ETag (or there is no live document), or If-None-Match " +
			"matched it. The problem's current member holds the document as it is now; re-read, re-apply your " +
			"change and send it with the new ETag."},
	truce.CodeTooLarge: {"Too large",
		"The request body, or the document it would produce, is larger than the server allows " +
			"(--max-doc-bytes). Make it smaller."},
	truce.CodeUnsupportedMediaType: {"Unsupported media type",
		"Documents are sent as application/json. PATCH takes application/merge-patch+json (RFC 7396) or " +
			"application/json-patch+json (RFC 6902). Set the Content-Type header accordingly."},
	truce.CodePreconditionRequired: {"Precondition required",
		"The collection has requirePreconditions set: every write must say which version it changes, with " +
			"If-Match, If-None-Match: * (create only), _version in the body, or ?version=. Read the document and " +
			"send its ETag."},
	truce.CodeConflictClosed: {"Conflict closed",
		"The recorded conflict was already resolved or dismissed, so it cannot be resolved or dismissed " +
			"again. GET /v1/conflicts/{id} shows how it was closed; the document's history shows the resolution."},
	truce.CodeIdempotencyKeyReused: {"Idempotency key reused",
		"The Idempotency-Key was used before with a different request (method, URL, preconditions or body). " +
			"A key names one logical request: generate a new key for a new request."},
	truce.CodeIdempotencyKeyInUse: {"Idempotency key in use",
		"A request with the same Idempotency-Key is still being processed. Wait for Retry-After and send it " +
			"again: you will get the first request's answer."},
	truce.CodeInvalidIdempotencyKey: {"Invalid idempotency key",
		"An Idempotency-Key is 1 to 255 printable ASCII characters, for example a UUID. Quotes are allowed " +
			"around it (the IETF draft's structured-field string) and are not part of the key."},
	truce.CodeLocked: {"Locked",
		"Another client holds a lock on the document (POST .../lock), and writes without its Lock-Token are " +
			"refused until it releases the lock or its TTL ends. The problem names the owner and when the lock " +
			"expires; wait for Retry-After, or take the lock yourself with a wait."},
	truce.CodeLockTokenMismatch: {"Lock token mismatch",
		"The Lock-Token sent does not belong to the lock that is held on the document, so it cannot release " +
			"or renew it. Use the token the lock request returned; an administrator can break the lock with " +
			"DELETE .../lock?force=true."},
	truce.CodeLockExpired: {"Lock expired",
		"The Lock-Token names a lock that is no longer held: its TTL ended (or it was released or broken) " +
			"before this request. Anything written since may have changed the document: re-read it, take the " +
			"lock again and redo the change."},
	truce.CodeTransactionConflict: {"Transaction conflict",
		"A document that the transaction read or wrote changed after the transaction saw it, so committing " +
			"would lose that change. Nothing was applied. The problem lists the documents that changed; run the " +
			"transaction again from the start (client.RunTransaction does this for you)."},
	truce.CodeTransactionExpired: {"Transaction expired",
		"The interactive transaction passed its TTL (or was committed or rolled back) and is gone, with " +
			"everything it staged. Begin a new transaction and redo its reads and writes."},
	truce.CodeFailedDependency: {"Failed dependency",
		"This operation of a transaction was not applied because another operation of the same transaction " +
			"failed (see failedOp); the transaction is all or nothing. Fix that operation and send the whole " +
			"transaction again."},
	truce.CodeTooManyOps: {"Too many operations",
		"The transaction has more operations than the server allows (--max-tx-ops, 1000 by default), or names " +
			"one document in more than one write operation. Split it into smaller transactions."},
	truce.CodeEventsExpired: {"Events expired",
		"The position you resume from (Last-Event-ID or ?since=) is older than the change feed keeps " +
			"(--event-retention), so events after it may be gone. Re-read the documents you follow, then " +
			"subscribe again without since to start from now."},
	truce.CodeUnauthorized: {"Unauthorized",
		"The server needs a bearer token (Authorization: Bearer <token>), and the request had none, or one it " +
			"does not know: mistyped, or revoked from the server's --auth-file. An operator makes a token with " +
			"truce token create and gives it to you once; the CLI sends it with --token or $TRUCE_TOKEN."},
	truce.CodeForbidden: {"Forbidden",
		"The token is valid but lacks the scope this request needs, which the problem's scope member names: " +
			"read:<collection> to read a collection's documents, history, conflicts and events, write:<collection> " +
			"to write them (it implies read), * for every collection, and admin for collection settings and " +
			"breaking locks. Ask for a token with that scope."},
	truce.CodeRateLimited: {"Rate limited",
		"The caller (its token, or its address without one) sent more requests than its rate limit allows " +
			"(--rate-limit and --burst, or the token's own rate). Wait for Retry-After and send the request " +
			"again; the RateLimit header says how many requests are left."},
	truce.CodeUnavailable: {"Unavailable",
		"The server is shutting down or its store is not reachable. Retry after a moment."},
	truce.CodeInvalidQuery: {"Invalid query",
		"The body of POST /v1/collections/{c}/query is malformed: an unknown member or operator, a path that is " +
			"empty or names a reserved field other than _id, _version, _createdAt and _updatedAt, an operand of the " +
			"wrong type ($in and $nin take lists, $exists a boolean, $prefix a string), a limit outside 1-1000, " +
			"orderBy paths in different directions, or an after cursor that another query gave. The problem's " +
			"errors member points at the offending part; fix it and send the query again."},
	truce.CodeIndexRequired: {"Index required",
		"No index of the collection selects exactly the documents this query asks for, in its order. An index " +
			"serves a query when its leading paths are compared for equality and then at most one path is a range " +
			"($lt $lte $gt $gte $prefix $exists) or the orderBy path. The detail names an index that would serve it: " +
			"add it to the collection's indexes with PUT /v1/collections/{c}, or send \"scan\": true to examine the " +
			"documents (up to the server's --max-scan-docs per page)."},
	truce.CodeScanTooLarge: {"Scan too large",
		"The query asked to scan, and filling one page would examine more documents than the server allows " +
			"(--max-scan-docs, 10,000 by default). Add an index that serves the query, or narrow it with conditions " +
			"an index serves."},
	truce.CodeIndexBuilding: {"Index building",
		"The index that serves this query was added to a collection that had documents and is still being " +
			"built in the background; GET /v1/collections/{c} shows \"building\": true until it is done. Retry " +
			"after Retry-After, or send \"scan\": true to examine the documents meanwhile."},
	truce.CodeInvalidBackupTarget: {"Invalid backup target",
		"POST /v1/admin/backup writes the backup into the directory named by \"to\", on the server's own file " +
			"system: an absolute path to a directory that does not exist yet or is empty, which the server may " +
			"create and write. Name another directory (truce backup --to DIR)."},
	truce.CodeBackupUnsupported: {"Backup not supported by this store",
		"This server keeps its data in a store that cannot copy itself (PostgreSQL): back it up with pg_dump or " +
			"your PostgreSQL backups, or copy its documents and history with truce export, which works on every store."},
	truce.CodeImportConflict: {"Import conflict",
		"POST /v1/admin/import writes a document's version as it was on another server, and the document here " +
			"already holds that version number with other content, or a newer version: the target is not a copy of " +
			"the source. Import into an empty server (or collection), or leave the document out."},
	truce.CodeOverloaded: {"Overloaded",
		"The server is serving as many requests at once as it takes (--max-inflight) and sheds the rest at " +
			"once rather than queue them. Nothing was done: send the request again after Retry-After, with backoff; " +
			"a write with an Idempotency-Key is safe to repeat. An operator adds capacity (more nodes over " +
			"PostgreSQL, or a faster disk) or raises --max-inflight if the server has memory and CPU to spare."},
	truce.CodeInsufficientStorage: {"Insufficient storage",
		"The store's disk is full, so the server cannot make the write durable, and did not apply it. Reads " +
			"keep working, and GET /readyz says why the server is not ready. Retry after Retry-After: the write " +
			"succeeds once an operator frees space (or grows the volume), with no restart."},
	truce.CodeInternal: {"Internal error",
		"Something failed inside the server; the server log has the cause, under the problem's requestId."},
}

// problemTypeOf returns the problem type of c; an unknown code is
// described as internal.
func problemTypeOf(c truce.Code) problemType {
	if pt, ok := problemTypes[c]; ok {
		return pt
	}
	return problemTypes[truce.CodeInternal]
}

var problemTmpl = template.Must(template.New("problem").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} — truce</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem;color:#222}
code{background:#f3f3f3;padding:.1em .3em;border-radius:3px}dt{font-weight:600}</style></head>
<body><h1>{{.Title}}</h1>
<dl><dt>HTTP status</dt><dd>{{.Status}}</dd><dt>code</dt><dd><code>{{.Code}}</code></dd>
<dt>retryable</dt><dd>{{if .Retryable}}yes: the same change can succeed after re-reading the document or waiting for Retry-After{{else}}no: the request must change before it can succeed{{end}}</dd></dl>
<h2>What happened and how to resolve it</h2><p>{{.Explain}}</p>
<p>Every problem answer carries <code>requestId</code>; the server log has the same id.</p>
</body></html>
`))

// problemPage serves /problems/{name}: what the problem means and how to
// resolve it.
func (h *Handler) problemPage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	code := truce.Code(strings.ReplaceAll(name, "-", "_"))
	if _, ok := statusOf[code]; !ok || strings.Contains(name, "_") {
		h.problem(w, r, truce.Errorf(truce.CodeNotFound, "there is no problem type %q", name))
		return
	}
	pt := problemTypeOf(code)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Header().Set("Last-Modified", startTime)
	_ = problemTmpl.Execute(w, map[string]any{
		"Title": pt.title, "Status": StatusOf(code), "Code": code, "Retryable": code.Retryable(), "Explain": pt.explain,
	})
}

var startTime = time.Now().UTC().Format(http.TimeFormat)
