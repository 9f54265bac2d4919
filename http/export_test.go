package http

import (
	"net/http"

	"github.com/trucedb/truce"
)

// DecodeBatch is how h reads the ops of a POST /v1/tx body sent as r (whose
// Lock-Token header applies to the ops that name none): the ops the
// Service gets, or the error the client would get as a problem.
func DecodeBatch(h *Handler, r *http.Request, body []byte) ([]truce.Op, error) {
	return h.decodeBatch(r, body)
}

// RouteAccess is one route of a Handler and the access it needs, as the
// README's table names it.
type RouteAccess struct {
	Pattern string
	Access  string
	// Transaction marks the routes of requests with Truce-Transaction.
	Transaction bool
}

// Routes lists every route h serves, from its route tables.
func Routes(h *Handler) []RouteAccess {
	var out []RouteAccess
	for _, rt := range h.routeTable() {
		out = append(out, RouteAccess{Pattern: rt.pattern, Access: rt.access.String()})
	}
	for _, rt := range h.transactionRouteTable() {
		out = append(out, RouteAccess{Pattern: rt.pattern, Access: rt.access.String(), Transaction: true})
	}
	return out
}

// BearerToken exposes the Authorization header parser to the fuzzer.
func BearerToken(values []string) (string, bool) { return bearerToken(values) }

// ProblemType returns the title and explanation that code's problem page
// gives, for the API reference (docs/api.md).
func ProblemType(c truce.Code) (title, explain string) {
	pt := problemTypeOf(c)
	return pt.title, pt.explain
}
