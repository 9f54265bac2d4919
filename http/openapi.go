package http

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/trucedb/truce"
)

// The OpenAPI 3.1 document at GET /v1/openapi.json is built from the
// route table (access.go) and from apiOps below, one entry per route
// pattern: what the route takes (parameters, headers, body), what it
// answers on success, and the problem codes it may answer beyond those
// every route of its kind may (commonCodes). The problem responses are
// made from the codes with the one table from code to status (statusOf),
// each as the Problem schema with its code restricted to the codes of
// that status. A route without an entry here fails TestOpenAPICoversRoutes,
// and the HTTP tests check every request and answer against the document
// (openapi_check_test.go).
//
// To add a route: add it to routeTable, then an apiOp here keyed by the
// same pattern; reuse the parameters, headers and schemas below or add
// yours to openAPIComponents.

// apiOp describes one route of the API for the OpenAPI document.
type apiOp struct {
	summary string
	// query names the query parameters (components/parameters), headers
	// the request headers (also components/parameters).
	query, headers []string
	// body names the request body (components/requestBodies); "" for none.
	body string
	// ok maps each success status to its response (components/responses).
	ok map[int]string
	// codes are the problem codes the route may answer beyond commonCodes.
	codes []truce.Code
}

// Codes every route of a kind may answer.
var (
	// anyRouteCodes: a malformed path, an unknown query parameter, the
	// server's own failures.
	anyRouteCodes = []truce.Code{truce.CodeInvalidID, truce.CodeInvalidParameter, truce.CodeInternal, truce.CodeUnavailable,
		truce.CodeOverloaded, truce.CodeInsufficientStorage}
	// tokenCodes: every route that needs a token.
	tokenCodes = []truce.Code{truce.CodeUnauthorized, truce.CodeForbidden, truce.CodeRateLimited}
	// bodyCodes: every route that reads a body, and takes an
	// Idempotency-Key.
	bodyCodes = []truce.Code{truce.CodeInvalidJSON, truce.CodeTooLarge, truce.CodeUnsupportedMediaType,
		truce.CodeInvalidIdempotencyKey, truce.CodeIdempotencyKeyReused, truce.CodeIdempotencyKeyInUse}
	// writeCodes: every document write.
	writeCodes = []truce.Code{truce.CodeInvalidDocument, truce.CodeSchemaViolation, truce.CodeReservedField,
		truce.CodeInvalidPrecondition, truce.CodeInvalidReference, truce.CodeInvalidCollection,
		truce.CodeNotFound, truce.CodeAlreadyExists, truce.CodeVersionConflict, truce.CodeMergeConflict,
		truce.CodeUniqueViolation, truce.CodeInUse, truce.CodePreconditionFailed, truce.CodePreconditionRequired,
		truce.CodeLocked, truce.CodeLockExpired, truce.CodeTransactionExpired, truce.CodeTransactionConflict,
		truce.CodePatchTestFailed, truce.CodeInvalidPatch}
	// readCodes: every read of a collection's documents.
	readCodes = []truce.Code{truce.CodeInvalidCollection, truce.CodeNotFound, truce.CodeTransactionExpired,
		truce.CodeInvalidPrecondition, truce.CodePreconditionFailed, truce.CodeTransactionConflict}
	// txCodes: every transaction.
	txCodes = []truce.Code{truce.CodeInvalidCollection, truce.CodeInvalidDocument, truce.CodeSchemaViolation,
		truce.CodeReservedField, truce.CodeInvalidPrecondition, truce.CodeInvalidReference, truce.CodeNotFound,
		truce.CodeAlreadyExists, truce.CodeVersionConflict, truce.CodeMergeConflict, truce.CodeUniqueViolation,
		truce.CodeInUse, truce.CodePreconditionFailed, truce.CodePreconditionRequired, truce.CodeLocked,
		truce.CodeLockExpired, truce.CodeTooManyOps, truce.CodePatchTestFailed, truce.CodeInvalidPatch,
		truce.CodeTransactionConflict, truce.CodeTransactionExpired, truce.CodeFailedDependency}
)

// Headers of a document write.
var writeHeaders = []string{"IfMatch", "IfNoneMatch", "IfUnmodifiedSince", "IdempotencyKey", "LockToken", "TruceTransaction"}

// apiOps describes every route of routeTable, by pattern.
var apiOps = map[string]apiOp{
	"GET /{$}":             {summary: "What this server is, and links to the API, its OpenAPI document, health, metrics and the documentation", ok: map[int]string{200: "Index"}},
	"GET /healthz":         {summary: "The process is up", ok: map[int]string{200: "Status"}},
	"GET /readyz":          {summary: "The store is reachable", ok: map[int]string{200: "Status"}},
	"GET /problems/{name}": {summary: "The page that explains a problem type", ok: map[int]string{200: "HTML"}, codes: []truce.Code{truce.CodeNotFound}},
	"GET /metrics":         {summary: "Prometheus metrics (text format)", ok: map[int]string{200: "Metrics"}, codes: []truce.Code{truce.CodeNotFound}},
	"GET /v1/openapi.json": {summary: "This document", ok: map[int]string{200: "OpenAPI"}},
	"GET /ui":              {summary: "Redirects to the web console, /ui/", ok: map[int]string{301: "Redirect"}, codes: []truce.Code{truce.CodeNotFound}},
	"GET /ui/{$}":          {summary: "The web console's page (when the server serves it); it asks for a token and calls this API", ok: map[int]string{200: "HTML", 304: "NotModified"}, codes: []truce.Code{truce.CodeNotFound}},
	"GET /ui/{file}":       {summary: "One of the web console's scripts or styles", ok: map[int]string{200: "ConsoleFile", 304: "NotModified"}, codes: []truce.Code{truce.CodeNotFound}},

	"GET /v1/collections":        {summary: "List the collections the token may read", ok: map[int]string{200: "CollectionList"}},
	"GET /v1/collections/{c}":    {summary: "A collection's settings and counts", ok: map[int]string{200: "Collection"}, codes: []truce.Code{truce.CodeInvalidCollection, truce.CodeNotFound}},
	"PUT /v1/collections/{c}":    {summary: "Create a collection or change its settings", headers: []string{"IdempotencyKey"}, body: "Settings", ok: map[int]string{200: "Collection", 201: "CollectionCreated"}, codes: append(slices.Clone(bodyCodes), truce.CodeInvalidCollection, truce.CodeInvalidSettings, truce.CodeUniqueViolation, truce.CodeInvalidReference, truce.CodeSchemaViolation)},
	"DELETE /v1/collections/{c}": {summary: "Delete a collection (409 not_empty unless force=true)", query: []string{"force"}, headers: []string{"IdempotencyKey"}, ok: map[int]string{204: "NoContent"}, codes: append(slices.Clone(bodyCodes), truce.CodeInvalidCollection, truce.CodeNotFound, truce.CodeNotEmpty, truce.CodeInUse)},

	"POST /v1/collections/{c}/query": {summary: "Query documents: filters, order and pages over secondary indexes (a read: read scope, no Idempotency-Key)", body: "Query", ok: map[int]string{200: "QueryPage"},
		codes: []truce.Code{truce.CodeInvalidJSON, truce.CodeTooLarge, truce.CodeUnsupportedMediaType, truce.CodeInvalidCollection, truce.CodeNotFound,
			truce.CodeInvalidQuery, truce.CodeIndexRequired, truce.CodeScanTooLarge, truce.CodeIndexBuilding}},
	"POST /v1/collections/{c}/docs:get": {summary: "Read many documents by id in one snapshot (a read: read scope, no Idempotency-Key)", body: "GetMany", ok: map[int]string{200: "Lookup"},
		codes: []truce.Code{truce.CodeInvalidJSON, truce.CodeTooLarge, truce.CodeUnsupportedMediaType, truce.CodeInvalidCollection, truce.CodeNotFound,
			truce.CodeInvalidID, truce.CodeInvalidParameter}},
	"GET /v1/collections/{c}/docs":         {summary: "List live documents by id", query: []string{"limit", "after"}, ok: map[int]string{200: "DocumentList"}, codes: readCodes},
	"POST /v1/collections/{c}/docs":        {summary: "Create a document", headers: writeHeaders, body: "Document", ok: map[int]string{201: "DocumentCreated", 202: "Staged"}, codes: append(slices.Clone(bodyCodes), writeCodes...)},
	"GET /v1/collections/{c}/docs/{id}":    {summary: "Read a document", headers: []string{"IfNoneMatch", "IfUnmodifiedSince", "TruceTransaction"}, ok: map[int]string{200: "Document", 304: "NotModified"}, codes: readCodes},
	"PUT /v1/collections/{c}/docs/{id}":    {summary: "Create or replace a document", query: []string{"version"}, headers: writeHeaders, body: "Document", ok: map[int]string{200: "Document", 201: "DocumentCreated", 202: "Staged"}, codes: append(slices.Clone(bodyCodes), writeCodes...)},
	"PATCH /v1/collections/{c}/docs/{id}":  {summary: "Patch a document (JSON Merge Patch or JSON Patch)", query: []string{"version"}, headers: writeHeaders, body: "Patch", ok: map[int]string{200: "Document", 202: "Staged"}, codes: append(slices.Clone(bodyCodes), writeCodes...)},
	"DELETE /v1/collections/{c}/docs/{id}": {summary: "Delete a document (a tombstone version)", query: []string{"version"}, headers: writeHeaders, ok: map[int]string{202: "Staged", 204: "NoContent"}, codes: append(slices.Clone(bodyCodes), writeCodes...)},

	"GET /v1/collections/{c}/docs/{id}/versions":              {summary: "A document's versions, newest first", query: []string{"limit", "before"}, ok: map[int]string{200: "VersionList"}, codes: readCodes},
	"GET /v1/collections/{c}/docs/{id}/versions/{n}":          {summary: "A document as it was at version n", ok: map[int]string{200: "Document"}, codes: append(slices.Clone(readCodes), truce.CodeVersionTrimmed)},
	"POST /v1/collections/{c}/docs/{id}/versions/{n}/restore": {summary: "Write version n's content as a new version", headers: []string{"IfMatch", "IfNoneMatch", "IfUnmodifiedSince", "IdempotencyKey", "LockToken"}, ok: map[int]string{200: "Document", 201: "DocumentCreated"}, codes: append(append(slices.Clone(bodyCodes), writeCodes...), truce.CodeVersionTrimmed)},
	"GET /v1/collections/{c}/docs/{id}/diff":                  {summary: "A JSON Patch from version a to version b", query: []string{"from", "to"}, ok: map[int]string{200: "Diff"}, codes: append(slices.Clone(readCodes), truce.CodeVersionTrimmed)},
	"POST /v1/collections/{c}/docs/{id}/lock":                 {summary: "Take (or, with Lock-Token, renew) a document's lock", headers: []string{"LockToken", "IdempotencyKey"}, body: "LockRequest", ok: map[int]string{200: "Lock", 201: "LockTaken"}, codes: append(slices.Clone(bodyCodes), truce.CodeInvalidCollection, truce.CodeLocked, truce.CodeLockExpired, truce.CodeLockTokenMismatch, truce.CodeNotFound, truce.CodeInvalidPrecondition)},
	"GET /v1/collections/{c}/docs/{id}/lock":                  {summary: "A document's live lock, without its token", ok: map[int]string{200: "Lock"}, codes: []truce.Code{truce.CodeInvalidCollection, truce.CodeNotFound}},
	"DELETE /v1/collections/{c}/docs/{id}/lock":               {summary: "Release a lock (Lock-Token), or break it (force=true, admin)", query: []string{"force"}, headers: []string{"LockToken", "IdempotencyKey"}, ok: map[int]string{204: "NoContent"}, codes: append(slices.Clone(bodyCodes), truce.CodeInvalidCollection, truce.CodeNotFound, truce.CodeLockTokenMismatch, truce.CodeLockExpired, truce.CodeInvalidPrecondition)},
	"GET /v1/conflicts":                                       {summary: "List recorded conflicts", query: []string{"collection", "queryId", "status", "limit", "after"}, ok: map[int]string{200: "ConflictList"}, codes: []truce.Code{truce.CodeInvalidCollection}},
	"GET /v1/conflicts/{cid}":                                 {summary: "A recorded conflict", ok: map[int]string{200: "Conflict"}, codes: []truce.Code{truce.CodeNotFound}},
	"POST /v1/conflicts/{cid}/resolve":                        {summary: "Resolve a conflict by writing a new version", headers: []string{"IfMatch", "IdempotencyKey", "LockToken"}, body: "Resolution", ok: map[int]string{200: "Document", 201: "DocumentCreated", 204: "NoContent"}, codes: append(append(slices.Clone(bodyCodes), writeCodes...), truce.CodeConflictClosed)},
	"POST /v1/conflicts/{cid}/dismiss":                        {summary: "Close a conflict without a write", headers: []string{"IdempotencyKey"}, ok: map[int]string{200: "Conflict"}, codes: append(slices.Clone(bodyCodes), truce.CodeNotFound, truce.CodeConflictClosed)},
	"GET /v1/events":                                          {summary: "The change feed as server-sent events (or a WebSocket)", query: []string{"collection", "queryId", "types", "since", "document"}, headers: []string{"LastEventID"}, ok: map[int]string{101: "SwitchingProtocols", 200: "EventStream"}, codes: []truce.Code{truce.CodeInvalidCollection, truce.CodeEventsExpired}},
	"GET /v1/changes":                                         {summary: "The change feed as JSON pages, long-polling with wait", query: []string{"collection", "queryId", "types", "since", "document", "limit", "wait"}, headers: []string{"LastEventID"}, ok: map[int]string{200: "Changes"}, codes: []truce.Code{truce.CodeInvalidCollection, truce.CodeEventsExpired}},
	"POST /v1/tx":                                             {summary: "An atomic batch: all the ops or none", headers: []string{"IdempotencyKey"}, body: "Batch", ok: map[int]string{200: "BatchResults"}, codes: append(slices.Clone(bodyCodes), txCodes...)},
	"POST /v1/transactions":                                   {summary: "Begin an interactive transaction", headers: []string{"IdempotencyKey"}, body: "TransactionRequest", ok: map[int]string{201: "Transaction"}, codes: bodyCodes},
	"POST /v1/transactions/{tid}/commit":                      {summary: "Commit an interactive transaction", headers: []string{"IdempotencyKey"}, ok: map[int]string{200: "BatchResults"}, codes: append(slices.Clone(bodyCodes), txCodes...)},
	"POST /v1/admin/backup":                                   {summary: "Back the store up, online and consistent, into a directory of the server's file system (Pebble; PostgreSQL answers 501)", headers: []string{"IdempotencyKey"}, body: "BackupRequest", ok: map[int]string{200: "BackupManifest"}, codes: append(slices.Clone(bodyCodes), truce.CodeInvalidBackupTarget, truce.CodeBackupUnsupported)},
	"POST /v1/admin/import": {summary: "Write one line of truce export (a document's version as another server held it) keeping its version, times and author; rerunning a line changes nothing (Truce-Import: unchanged)", headers: []string{"IdempotencyKey"}, body: "ImportLine", ok: map[int]string{200: "Imported", 201: "DocumentCreated"},
		codes: append(append(slices.Clone(bodyCodes), writeCodes...), truce.CodeImportConflict)},
	"DELETE /v1/transactions/{tid}": {summary: "Roll an interactive transaction back", headers: []string{"IdempotencyKey"}, ok: map[int]string{204: "NoContent"}, codes: append(slices.Clone(bodyCodes), truce.CodeTransactionExpired, truce.CodeNotFound)},
}

// openAPIDocument returns the OpenAPI document of the routes, and an error
// naming the routes apiOps lacks, which the document leaves out.
func openAPIDocument(routes []route) (map[string]any, error) {
	paths := map[string]map[string]any{}
	var missing []string
	for _, rt := range routes {
		op, ok := apiOps[rt.pattern]
		if !ok {
			missing = append(missing, rt.pattern)
			continue
		}
		method, path, _ := strings.Cut(rt.pattern, " ")
		path = strings.TrimSuffix(path, "{$}") // "/{$}" is the path "/"
		item := paths[path]
		if item == nil {
			item = map[string]any{}
			paths[path] = item
		}
		item[strings.ToLower(method)] = operation(rt, method, path, op)
	}
	var err error
	if len(missing) > 0 {
		err = fmt.Errorf("the OpenAPI document lacks the routes %s: add them to apiOps (http/openapi.go)", strings.Join(missing, ", "))
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "truce",
			"version":     "1",
			"description": "truce, a JSON document server that never loses an update. Its reference is docs/api.md in the repository; every problem is application/problem+json (RFC 9457) with a stable code.",
		},
		"servers":    []any{map[string]any{"url": "/"}},
		"paths":      paths,
		"components": openAPIComponents(),
	}, err
}

// operation builds one operation object.
func operation(rt route, method, path string, op apiOp) map[string]any {
	var params []any
	for seg := range strings.SplitSeq(path, "/") {
		if strings.HasPrefix(seg, "{") {
			params = append(params, ref("parameters", "path_"+strings.Trim(seg, "{}")))
		}
	}
	for _, q := range op.query {
		params = append(params, ref("parameters", q))
	}
	for _, h := range op.headers {
		params = append(params, ref("parameters", h))
	}
	o := map[string]any{
		"summary":     op.summary,
		"operationId": operationID(method, path),
		"responses":   responses(rt, method, path, op),
	}
	if len(params) > 0 {
		o["parameters"] = params
	}
	if op.body != "" {
		o["requestBody"] = ref("requestBodies", op.body)
		if b, ok := inlineBodies[op.body]; ok {
			o["requestBody"] = b
		}
	}
	switch rt.access {
	case public:
		o["security"] = []any{}
	default:
		o["security"] = []any{map[string]any{"bearer": []string{scopeOf(rt.access)}}}
	}
	return o
}

// scopeOf names the scope a route needs, as a role of the bearer scheme.
func scopeOf(a access) string {
	switch a {
	case readPath:
		return "read:{c}"
	case writePath:
		return "write:{c}"
	case admin:
		return "admin"
	}
	return "read:<collection> or write:<collection> for each collection touched"
}

// operationID names an operation from its method and path:
// "GET /v1/collections/{c}/docs/{id}" is getCollectionsCDocsId.
func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for seg := range strings.SplitSeq(path, "/") {
		seg = strings.Trim(seg, "{}")
		if seg == "" || seg == "v1" {
			continue
		}
		for part := range strings.FieldsFuncSeq(seg, func(r rune) bool { return r == '.' || r == '-' || r == '_' || r == ':' }) {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	if path == "/" {
		b.WriteString("Index")
	} else if strings.HasSuffix(path, "/") {
		b.WriteString("Page") // "/ui/" apart from "/ui"
	}
	return b.String()
}

// responses builds an operation's responses: its successes, and one
// problem response per status of its codes.
func responses(rt route, method, path string, op apiOp) map[string]any {
	out := map[string]any{}
	for status, name := range op.ok {
		out[strconv.Itoa(status)] = ref("responses", name)
	}
	codes := slices.Clone(anyRouteCodes)
	if rt.access != public {
		codes = append(codes, tokenCodes...)
	}
	codes = append(codes, op.codes...)
	if method == http.MethodGet {
		codes = append(codes, truce.CodeMethodNotAllowed) // HEAD is GET; others 405
	}
	byStatus := map[int][]string{}
	for _, c := range codes {
		s := StatusOf(c)
		if !slices.Contains(byStatus[s], string(c)) {
			byStatus[s] = append(byStatus[s], string(c))
		}
	}
	for status, cs := range byStatus {
		sort.Strings(cs)
		var desc strings.Builder
		desc.WriteString(http.StatusText(status) + ": a problem with code ")
		for i, c := range cs {
			if i > 0 {
				desc.WriteString(", ")
			}
			desc.WriteString(c + " (/problems/" + problemName(truce.Code(c)) + ")")
		}
		out[strconv.Itoa(status)] = map[string]any{
			"description": desc.String(),
			"headers":     problemHeaders(),
			"content": map[string]any{"application/problem+json": map[string]any{"schema": map[string]any{
				"allOf": []any{ref("schemas", "Problem"), map[string]any{"properties": map[string]any{"code": map[string]any{"enum": cs}}}},
			}}},
		}
	}
	return out
}

func problemHeaders() map[string]any {
	return map[string]any{
		"X-Request-Id":     ref("headers", "X-Request-Id"),
		"Retry-After":      ref("headers", "Retry-After"),
		"WWW-Authenticate": ref("headers", "WWW-Authenticate"),
		"RateLimit":        ref("headers", "RateLimit"),
		"RateLimit-Policy": ref("headers", "RateLimit-Policy"),
		"Link":             ref("headers", "Link"),
	}
}

// ref refers to a component. Parameters, responses and request bodies
// are named with a suffix of their kind, so that generators (oapi-codegen)
// make no two Go types of the same name.
func ref(kind, name string) map[string]any {
	return map[string]any{"$ref": "#/components/" + kind + "/" + name + componentSuffix[kind]}
}

var componentSuffix = map[string]string{"parameters": "Param", "responses": "Response", "requestBodies": "Body"}

// suffixed returns components with the suffix of their kind.
func suffixed(kind string, components map[string]any) map[string]any {
	out := make(map[string]any, len(components))
	for name, c := range components {
		out[name+componentSuffix[kind]] = c
	}
	return out
}

var (
	openAPIOnce sync.Once
	openAPIJSON []byte
	openAPIErr  error
)

// serveOpenAPI serves GET /v1/openapi.json.
func (h *Handler) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	if _, err := query(r); err != nil {
		h.problem(w, r, err)
		return
	}
	openAPIOnce.Do(func() {
		doc, err := openAPIDocument(h.routeTable())
		if err != nil {
			// A route without its description: the tests fail on it, and
			// the server serves the rest.
			h.log.Error("OpenAPI", "err", err)
		}
		openAPIJSON, openAPIErr = json.Marshal(doc)
	})
	if openAPIErr != nil {
		h.problem(w, r, openAPIErr)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, openAPIJSON)
}

// OpenAPI returns the OpenAPI 3.1 document that GET /v1/openapi.json
// serves, indented (for tests, and for generators: truce openapi). It
// fails when a route of the server has no description in it.
func OpenAPI() ([]byte, error) {
	// The route table only names the handlers: a zero Handler lists them.
	doc, err := openAPIDocument((&Handler{}).routeTable())
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(doc, "", "  ")
}
