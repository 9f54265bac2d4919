package http

import (
	"net/http"

	"github.com/trucedb/truce"
)

// getManyDocs serves POST /v1/collections/{c}/docs:get: the live documents
// with the ids of the body, {"ids": [...]}, each with its ETag, in the order
// asked and read in one snapshot; an id without a live document is an item
// with "found": false. A read: read scope, no Idempotency-Key.
func (h *Handler) getManyDocs(w http.ResponseWriter, r *http.Request) {
	body, err := h.jsonRequest(w, r)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	ids, err := truce.DecodeGetMany(body)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	l, err := h.svc.GetMany(r.Context(), r.PathValue("c"), ids)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, l.AppendJSON(make([]byte, 0, 4096)))
}
