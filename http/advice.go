package http

import (
	"net/http"
	"strings"

	"github.com/trucedb/truce"
)

// advice returns what writeProblem appends to the detail of te, answering
// r, so that a person knows what to send: the Service words its details in
// the domain's terms ("requires every write to be conditional on the
// version it changes"), and the HTTP spelling of the remedy (a header, a
// query parameter, a URL) is added here. Only codes that this package
// never raises itself are advised, so that no detail says it twice.
func advice(r *http.Request, te *truce.Error) string {
	if te.Detail == "" {
		return ""
	}
	switch te.Code {
	case truce.CodePreconditionRequired:
		switch {
		case r.Pattern == "POST /v1/tx":
			return ": give the op ifMatch, ifNoneMatch or version"
		case strings.HasSuffix(r.Pattern, "/commit"):
			return "" // the staged writes are fixed; nothing to send
		case strings.HasSuffix(r.Pattern, "/resolve"):
			return ": send If-Match with that ETag"
		}
		return ": send If-Match with the ETag you read, If-None-Match: * to create, or the version you read (_version / ?version=)"
	case truce.CodeNotEmpty:
		return ": send ?force=true"
	case truce.CodeTransactionExpired:
		return " (POST /v1/transactions begins one)"
	case truce.CodeMergeConflict:
		if te.ConflictID != "" {
			return " (GET /v1/conflicts/" + te.ConflictID + ")"
		}
	case truce.CodeEventsExpired:
		return " (without since or Last-Event-ID)"
	case truce.CodeIndexRequired:
		return " (the \"scan\" member of the body; indexes are set with PUT /v1/collections/" + r.PathValue("c") + ")"
	case truce.CodeIndexBuilding:
		return " (GET /v1/collections/" + r.PathValue("c") + " shows when it is done)"
	}
	return ""
}
