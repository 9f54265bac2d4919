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
