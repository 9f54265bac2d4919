package http

import (
	"slices"

	"github.com/trucedb/truce"
)

// obj is a JSON Schema of an object with props; required lists the members
// it must have.
func obj(props map[string]any, required ...string) map[string]any {
	s := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func typ(t string) map[string]any { return map[string]any{"type": t} }

func arrayOf(items any) map[string]any { return map[string]any{"type": "array", "items": items} }

// anyType is a schema of any of the types. It is written with anyOf, not
// as a list of types, which generators such as oapi-codegen do not take.
func anyType(types ...string) map[string]any {
	var of []any
	for _, t := range types {
		of = append(of, typ(t))
	}
	return map[string]any{"anyOf": of}
}

func nullable(t string) map[string]any { return anyType(t, "null") }

func param(in, name, desc string, schema any) map[string]any {
	p := map[string]any{"in": in, "name": name, "description": desc, "schema": schema}
	if in == "path" {
		p["required"] = true
	}
	return p
}

func jsonContent(schema any) map[string]any {
	return map[string]any{"application/json": map[string]any{"schema": schema}}
}

// response is a response object with a JSON body of schema (nil: no
// body) and the headers named.
func response(desc string, schema any, headers ...string) map[string]any {
	r := map[string]any{"description": desc}
	hs := map[string]any{"X-Request-Id": ref("headers", "X-Request-Id"),
		"RateLimit": ref("headers", "RateLimit"), "RateLimit-Policy": ref("headers", "RateLimit-Policy")}
	for _, h := range headers {
		hs[h] = ref("headers", h)
	}
	r["headers"] = hs
	if schema != nil {
		r["content"] = jsonContent(schema)
	}
	return r
}

// allCodes lists every problem code, for the Problem schema.
func allCodes() []string {
	var cs []string
	for c := range statusOf {
		cs = append(cs, string(c))
	}
	slices.Sort(cs)
	return cs
}

// openAPIComponents returns the components of the OpenAPI document.
func openAPIComponents() map[string]any {
	idSchema := map[string]any{"type": "string", "pattern": `^[A-Za-z0-9._~:@-]{1,255}$`}
	nameSchema := map[string]any{"type": "string", "pattern": `^[a-z0-9][a-z0-9_-]{0,62}$`}
	docRef := obj(map[string]any{"collection": typ("string"), "id": typ("string"), "field": typ("string")})
	document := map[string]any{
		"type": "object", "description": "A JSON document with its reserved fields.",
		"properties": map[string]any{
			"_id": typ("string"), "_version": map[string]any{"type": "integer", "minimum": 1},
			"_createdAt": map[string]any{"type": "string", "format": "date-time"},
			"_updatedAt": map[string]any{"type": "string", "format": "date-time"},
			"_updatedBy": typ("string"), "_deleted": typ("boolean"),
			"_expiresAt": map[string]any{"type": "string", "format": "date-time", "description": "When the document expires and is deleted (a versioned delete); the client may write it, null for none."},
			"_etag":      map[string]any{"type": "string", "description": "The version's entity tag, on the items of a query (whose answer has no ETag header per document)."},
		},
		"required": []string{"_id", "_version"},
	}
	problem := obj(map[string]any{
		"type": typ("string"), "title": typ("string"), "status": typ("integer"), "detail": typ("string"),
		"instance": typ("string"), "code": map[string]any{"type": "string", "enum": allCodes()},
		"retryable": typ("boolean"), "requestId": typ("string"),
		"current":   obj(map[string]any{"version": typ("integer"), "etag": typ("string"), "document": ref("schemas", "Document")}, "version", "etag"),
		"errors":    arrayOf(obj(map[string]any{"pointer": typ("string"), "message": typ("string")})),
		"referrers": arrayOf(docRef),
		"field":     typ("string"), "value": map[string]any{}, "holder": docRef,
		"conflicts":  arrayOf(obj(map[string]any{"path": typ("string"), "base": map[string]any{}, "current": map[string]any{}, "proposed": map[string]any{}}, "path")),
		"conflictId": typ("string"), "owner": typ("string"), "expiresAt": typ("string"), "scope": typ("string"),
		"failedOp": typ("integer"),
		"results":  arrayOf(obj(map[string]any{"status": typ("integer"), "code": typ("string"), "problem": map[string]any{}}, "status")),
		"changed":  arrayOf(docRef),
	}, "type", "title", "status", "detail", "instance", "code", "retryable", "requestId")
	problem["description"] = "An RFC 9457 problem with truce's members; code is stable, and /problems/{name} explains each."
	settings := map[string]any{
		"type": "object", "additionalProperties": false,
		"properties": map[string]any{
			"conflictPolicy":       map[string]any{"type": "string", "enum": []string{"reject", "merge", "manual", "last-write-wins"}},
			"requirePreconditions": typ("boolean"),
			"unique":               arrayOf(typ("string")),
			"references":           map[string]any{"type": "object", "additionalProperties": typ("string")},
			"schema":               anyType("object", "boolean"),
			"historyLimit":         map[string]any{"type": "integer", "minimum": 0},
			"ttl":                  map[string]any{"type": "string", "description": "A Go duration (at least 1s, such as 24h): a write of a document without _expiresAt gives it one ttl later."},
			"indexes":              arrayOf(arrayOf(typ("string"))),
		},
	}
	collection := map[string]any{"type": "object", "properties": map[string]any{
		"name": typ("string"), "conflictPolicy": typ("string"), "documents": typ("integer"), "deleted": typ("integer"),
	}, "required": []string{"name"}}
	conflict := obj(map[string]any{
		"id": typ("string"), "collection": typ("string"), "docId": typ("string"),
		"status":      map[string]any{"type": "string", "enum": []string{string(truce.ConflictOpen), string(truce.ConflictResolved), string(truce.ConflictDismissed)}},
		"baseVersion": typ("integer"), "currentVersion": typ("integer"),
	}, "id", "collection", "docId", "status")
	lock := obj(map[string]any{
		"token": typ("string"), "owner": typ("string"), "expiresAt": typ("string"), "acquiredAt": typ("string"),
		"collection": typ("string"), "id": typ("string"), "fence": typ("integer"),
	}, "owner", "expiresAt", "collection", "id")
	event := obj(map[string]any{
		"seq": typ("integer"), "type": typ("string"), "collection": typ("string"), "id": typ("string"),
		"version": typ("integer"), "etag": typ("string"), "time": typ("string"), "document": typ("object"),
		"conflictId": typ("string"), "info": typ("object"),
		"expired": map[string]any{"type": "boolean", "description": "true on the document.deleted of a document whose _expiresAt passed."},
	}, "seq", "type", "time")
	opResult := obj(map[string]any{"status": typ("integer"), "etag": typ("string"), "document": ref("schemas", "Document"),
		"code": typ("string"), "problem": ref("schemas", "Problem")}, "status")
	batchOp := obj(map[string]any{
		"op":         map[string]any{"type": "string", "enum": []string{"check", "create", "put", "patch", "delete"}},
		"collection": typ("string"), "id": typ("string"), "ifMatch": typ("string"), "ifNoneMatch": typ("string"),
		"version": typ("integer"), "document": typ("object"), "mergePatch": map[string]any{}, "jsonPatch": typ("array"),
		"lockToken": typ("string"),
	}, "op", "collection")
	duration := map[string]any{"type": "string", "description": "a Go duration such as 30s or 2m"}
	lockDuration := anyType("string", "number")
	lockDuration["description"] = "a Go duration such as 30s or 2m, or a number of seconds"

	return map[string]any{
		"securitySchemes": map[string]any{"bearer": map[string]any{
			"type": "http", "scheme": "bearer",
			"description": "A token from the server's --auth-file (truce token create). Its scopes: read:<collection|*>, write:<collection|*> (implies read), admin. Without an auth file the server needs none.",
		}},
		"schemas": map[string]any{
			"Problem": problem, "Document": document, "Settings": settings, "Collection": collection,
			"Conflict": conflict, "Lock": lock, "Event": event, "OpResult": opResult, "Op": batchOp,
		},
		"parameters": suffixed("parameters", map[string]any{
			"path_c":            withGoName(param("path", "c", "A collection name.", nameSchema), "CollectionName"),
			"path_id":           param("path", "id", "A document id.", idSchema),
			"path_n":            param("path", "n", "A version number.", map[string]any{"type": "integer", "minimum": 1}),
			"path_cid":          param("path", "cid", "A recorded conflict's id.", typ("string")),
			"path_tid":          param("path", "tid", "An interactive transaction's id.", typ("string")),
			"path_name":         param("path", "name", "A problem type's name, such as version-conflict.", typ("string")),
			"path_file":         param("path", "file", "A file of the web console, such as app.js.", map[string]any{"type": "string", "pattern": `^[A-Za-z0-9._-]{1,100}$`}),
			"limit":             param("query", "limit", "The most items of a page.", map[string]any{"type": "integer", "minimum": 1, "maximum": truce.MaxPageSize}),
			"after":             param("query", "after", "The cursor of the next page (next of the previous one).", typ("string")),
			"before":            param("query", "before", "The cursor of the next page of versions.", typ("string")),
			"version":           param("query", "version", "The version the write is based on (409 version_conflict, or a merge, when stale).", map[string]any{"type": "integer", "minimum": 1}),
			"force":             param("query", "force", "Delete a collection that is not empty; break a lock (admin).", typ("boolean")),
			"from":              param("query", "from", "The version the diff starts from.", map[string]any{"type": "integer", "minimum": 1}),
			"to":                param("query", "to", "The version the diff ends at.", map[string]any{"type": "integer", "minimum": 1}),
			"collection":        param("query", "collection", "Only this collection.", nameSchema),
			"queryId":           param("query", "id", "Only this document id.", idSchema),
			"status":            param("query", "status", "Only conflicts in this status.", map[string]any{"type": "string", "enum": []string{"open", "resolved", "dismissed"}}),
			"types":             param("query", "types", "Only these event types, comma-separated.", typ("string")),
			"since":             param("query", "since", "Deliver the events after this seq.", map[string]any{"type": "integer", "minimum": 0}),
			"document":          param("query", "document", "Whether events carry the document (default true).", typ("boolean")),
			"wait":              param("query", "wait", "How long to wait for an event when there is none (long poll).", duration),
			"IfMatch":           param("header", "If-Match", "Write only if the document's ETag is one of these, or * for any live document (412 otherwise).", typ("string")),
			"IfNoneMatch":       param("header", "If-None-Match", "On a read: 304 if the ETag matches. On a write: * creates only (412 if live).", typ("string")),
			"IfUnmodifiedSince": param("header", "If-Unmodified-Since", "Without If-Match: 412 if the document was modified after this HTTP date (to the second; prefer If-Match, which tells apart two writes of one second).", typ("string")),
			"IdempotencyKey":    param("header", "Idempotency-Key", "Replay the first answer to a repeated request (per caller).", map[string]any{"type": "string", "minLength": 1, "maxLength": 255}),
			"LockToken":         param("header", "Lock-Token", "The token of the lock the caller holds.", typ("string")),
			"TruceTransaction":  param("header", "Truce-Transaction", "The interactive transaction this request belongs to: reads join its read set, writes are staged (202).", typ("string")),
			"LastEventID":       param("header", "Last-Event-ID", "Resume the feed after this seq.", typ("string")),
		}),
		"headers": map[string]any{
			"ETag":                hdr("The document version's strong entity tag."),
			"Last-Modified":       hdr("When the version was written."),
			"Location":            hdr("The URL of the created resource."),
			"Truce-Merged":        hdr("base=N, current=M: the write was merged with the changes made since its version."),
			"Truce-Import":        hdr("unchanged: the document already held the imported version; nothing was written."),
			"Truce-Staged":        hdr("true: the answer is the transaction's staged version."),
			"Lock-Token":          hdr("The lock's token, for its holder."),
			"Link":                hdr("<…/conflicts/{id}>; rel=\"conflict\": the recorded conflict."),
			"Retry-After":         hdr("Seconds to wait before a retry can succeed."),
			"RateLimit":           hdr("The caller's remaining requests (IETF draft)."),
			"RateLimit-Policy":    hdr("The caller's rate limit (IETF draft)."),
			"X-Request-Id":        hdr("The request's id, echoed when the client sent one."),
			"Idempotent-Replayed": hdr("true: the answer is the stored one of an earlier request with this Idempotency-Key."),
			"WWW-Authenticate":    hdr("Bearer realm=\"truce\", on a 401."),
		},
		"requestBodies": suffixed("requestBodies", map[string]any{
			"Document": map[string]any{"required": true, "content": jsonContent(typ("object"))},
			"Settings": map[string]any{"content": jsonContent(ref("schemas", "Settings"))},
			"Query": map[string]any{"description": "The query; an empty body is the query {} (every live document in id order).", "content": jsonContent(map[string]any{
				"type": "object", "additionalProperties": false,
				"description": "where maps a dotted path to a value (equality) or to operators $eq $ne $lt $lte $gt $gte $in $nin $exists $prefix; $and and $or take lists.",
				"properties": map[string]any{
					"where":   typ("object"),
					"orderBy": arrayOf(obj(map[string]any{"field": typ("string"), "desc": typ("boolean")}, "field")),
					"limit":   map[string]any{"type": "integer", "minimum": 0, "maximum": truce.MaxPageSize, "description": "page size; 0 means 100"},
					"after":   typ("string"), "fields": arrayOf(typ("string")), "scan": typ("boolean"),
				},
			})},
			"GetMany": map[string]any{"required": true, "content": jsonContent(obj(map[string]any{
				"ids": map[string]any{"type": "array", "maxItems": truce.MaxGetMany, "items": idSchema, "description": "The ids to read, in the order of the answer; an id may repeat."}}, "ids"))},
			"LockRequest":        map[string]any{"content": jsonContent(obj(map[string]any{"ttl": lockDuration, "owner": typ("string"), "wait": lockDuration}))},
			"Resolution":         map[string]any{"required": true, "content": jsonContent(obj(map[string]any{"strategy": map[string]any{"type": "string", "enum": []string{"keep-current", "take-proposed", "merge", "custom"}}, "document": nullable("object")}, "strategy"))},
			"Batch":              map[string]any{"required": true, "content": jsonContent(obj(map[string]any{"ops": arrayOf(ref("schemas", "Op"))}, "ops"))},
			"TransactionRequest": map[string]any{"content": jsonContent(obj(map[string]any{"ttl": duration}))},
			"ImportLine": map[string]any{"required": true, "content": jsonContent(map[string]any{"allOf": []any{ref("schemas", "Document"),
				map[string]any{"type": "object", "required": []string{"_collection", "_id", "_version", "_createdAt", "_updatedAt"},
					"properties": map[string]any{"_collection": typ("string")}, "description": "One line of truce export: a document's version with _collection, _id, _version, _createdAt, _updatedAt, _updatedBy, and _deleted for a deletion."}}})},
			"BackupRequest": map[string]any{"required": true, "content": jsonContent(map[string]any{"type": "object", "additionalProperties": false, "required": []string{"to"},
				"properties": map[string]any{"to": map[string]any{"type": "string", "description": "An absolute path, on the server's file system, to a directory that does not exist or is empty."}}})},
		}),
		"responses": suffixed("responses", map[string]any{
			"Status": response("OK", obj(map[string]any{"status": typ("string")}, "status")),
			"Index": response("What this server is, and where to go next", obj(map[string]any{"name": typ("string"), "api": typ("string"),
				"links": obj(map[string]any{"openapi": typ("string"), "collections": typ("string"), "healthz": typ("string"), "readyz": typ("string"),
					"metrics": typ("string"), "docs": typ("string"), "reference": typ("string"), "console": typ("string")}, "openapi", "healthz", "readyz", "docs")}, "name", "api", "links")),
			"HTML":     map[string]any{"description": "An HTML page", "content": map[string]any{"text/html": map[string]any{"schema": typ("string")}}},
			"Redirect": response("Go to Location", nil, "Location"),
			"ConsoleFile": map[string]any{"description": "A file of the web console", "headers": response("", nil, "ETag")["headers"], "content": map[string]any{
				"text/html": map[string]any{"schema": typ("string")}, "text/javascript": map[string]any{"schema": typ("string")},
				"text/css": map[string]any{"schema": typ("string")}, "image/svg+xml": map[string]any{"schema": typ("string")}}},
			"Metrics":         map[string]any{"description": "The Prometheus text format", "content": map[string]any{"text/plain": map[string]any{"schema": typ("string")}}},
			"OpenAPI":         response("This document", typ("object")),
			"NoContent":       response("Done", nil),
			"NotModified":     response("The document still has the ETag of If-None-Match", nil, "ETag"),
			"Document":        response("The document", ref("schemas", "Document"), "ETag", "Last-Modified", "Truce-Merged", "Truce-Staged", "Idempotent-Replayed", "Link"),
			"Imported":        response("The stored version", ref("schemas", "Document"), "ETag", "Last-Modified", "Truce-Import", "Idempotent-Replayed"),
			"DocumentCreated": response("The created document", ref("schemas", "Document"), "ETag", "Last-Modified", "Location", "Idempotent-Replayed"),
			"Staged":          response("The write is staged in the transaction", nil, "Truce-Staged", "Truce-Merged"),
			"QueryPage": response("A page of a query's answer, read in one snapshot", obj(map[string]any{"items": arrayOf(ref("schemas", "Document")), "next": nullable("string"),
				"asOf": map[string]any{"type": "integer", "minimum": 0, "description": "The change-log seq of the snapshot: GET /v1/events?since=asOf continues it exactly."}}, "items", "next", "asOf")),
			"Lookup": response("The documents asked for, in the order asked, read in one snapshot", obj(map[string]any{
				"items": arrayOf(obj(map[string]any{"id": typ("string"), "found": map[string]any{"type": "boolean", "description": "false: the id has no live document (never created, deleted, or expired); etag and document are absent."},
					"etag": map[string]any{"type": "string", "description": "The version's entity tag, as a GET's ETag header."}, "document": ref("schemas", "Document")}, "id", "found")),
				"asOf": map[string]any{"type": "integer", "minimum": 0, "description": "The change-log seq of the snapshot: GET /v1/events?since=asOf continues it exactly."}}, "items", "asOf")),
			"DocumentList": response("A page of documents", obj(map[string]any{"items": arrayOf(ref("schemas", "Document")), "next": nullable("string")}, "items")),
			"VersionList":  response("A page of versions", obj(map[string]any{"items": arrayOf(obj(map[string]any{"version": typ("integer"), "updatedAt": typ("string"), "deleted": typ("boolean")}, "version")), "next": nullable("string")}, "items")),
			"Diff": map[string]any{"description": "An RFC 6902 JSON Patch", "headers": response("", nil)["headers"],
				"content": map[string]any{"application/json-patch+json": map[string]any{"schema": typ("array")}}},
			"Collection":         response("The collection", ref("schemas", "Collection")),
			"CollectionCreated":  response("The created collection", ref("schemas", "Collection"), "Location"),
			"CollectionList":     response("The collections", obj(map[string]any{"items": arrayOf(ref("schemas", "Collection"))}, "items")),
			"Lock":               response("The lock", ref("schemas", "Lock"), "Lock-Token"),
			"LockTaken":          response("The lock, taken", ref("schemas", "Lock"), "Lock-Token", "Location"),
			"Conflict":           response("The recorded conflict", ref("schemas", "Conflict")),
			"ConflictList":       response("A page of recorded conflicts", obj(map[string]any{"items": arrayOf(ref("schemas", "Conflict")), "next": nullable("string")}, "items")),
			"EventStream":        map[string]any{"description": "Server-sent events: id: <seq>, event: <type>, data: <Event as JSON>", "content": map[string]any{"text/event-stream": map[string]any{"schema": typ("string")}}},
			"SwitchingProtocols": map[string]any{"description": "A WebSocket of events, one Event as JSON per message"},
			"Changes":            response("A page of events", obj(map[string]any{"items": arrayOf(ref("schemas", "Event")), "last": typ("integer")}, "items", "last")),
			"BatchResults":       response("Every op applied", obj(map[string]any{"results": arrayOf(ref("schemas", "OpResult"))}, "results")),
			"BackupManifest": response("The complete backup's manifest, also written last into its directory as manifest.json", obj(map[string]any{
				"format": typ("integer"), "store": typ("string"), "dir": typ("string"), "created": typ("string"), "bytes": typ("integer"),
				"seq":   map[string]any{"type": "integer", "minimum": 0, "description": "The change-log seq of the last commit the backup holds."},
				"files": arrayOf(obj(map[string]any{"path": typ("string"), "size": typ("integer"), "sha256": typ("string")}, "path", "size", "sha256")),
			}, "format", "store", "seq", "created", "dir", "files", "bytes")),
			"Transaction": response("The transaction", obj(map[string]any{"id": typ("string"), "expiresAt": typ("string")}, "id", "expiresAt"), "Location"),
		}),
	}
}

func hdr(desc string) map[string]any {
	return map[string]any{"description": desc, "schema": typ("string")}
}

// withGoName names a parameter's Go identifier for oapi-codegen: a path
// parameter c would clash with the receiver of its client's methods.
func withGoName(p map[string]any, name string) map[string]any {
	p["x-go-name"] = name
	return p
}

// inlineBodies are request bodies written into their operation, not as
// components: oapi-codegen names the types of a component's media types
// alike, and a PATCH takes two.
var inlineBodies = map[string]any{
	"Patch": map[string]any{"required": true, "content": map[string]any{
		"application/merge-patch+json": map[string]any{"schema": typ("object")},
		"application/json-patch+json": map[string]any{"schema": arrayOf(obj(map[string]any{
			"op":   map[string]any{"type": "string", "enum": []string{"add", "remove", "replace", "move", "copy", "test"}},
			"path": typ("string"), "from": typ("string"), "value": map[string]any{},
		}, "op", "path"))},
	}},
}
