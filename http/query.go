package http

import (
	"net/http"

	"github.com/trucedb/truce"
)

// queryDocs serves POST /v1/collections/{c}/query (docs/api.md section 3): the
// body is the query, the answer one page with the cursor of the next and
// the change-log position of the snapshot it read.
func (h *Handler) queryDocs(w http.ResponseWriter, r *http.Request) {
	body, err := h.jsonRequest(w, r)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	q, err := truce.DecodeQuery(body)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	page, err := h.svc.Query(r.Context(), r.PathValue("c"), q)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, page.AppendJSON(make([]byte, 0, 4096)))
}
