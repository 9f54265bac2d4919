package http

import (
	"encoding/json"
	"net/http"

	"github.com/trucedb/truce"
)

func (h *Handler) putCollection(w http.ResponseWriter, r *http.Request) {
	body, err := h.jsonRequest(w, r)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	settings, err := truce.DecodeSettings(body)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	info, created, err := h.svc.PutCollection(r.Context(), r.PathValue("c"), settings)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/v1/collections/"+info.Name)
	}
	h.writeValue(w, r, status, info)
}

func (h *Handler) getCollection(w http.ResponseWriter, r *http.Request) {
	if _, err := query(r); err != nil {
		h.problem(w, r, err)
		return
	}
	info, err := h.svc.GetCollection(r.Context(), r.PathValue("c"))
	if err != nil {
		h.problem(w, r, err)
		return
	}
	h.writeValue(w, r, http.StatusOK, info)
}

func (h *Handler) listCollections(w http.ResponseWriter, r *http.Request) {
	if _, err := query(r); err != nil {
		h.problem(w, r, err)
		return
	}
	infos, err := h.svc.ListCollections(r.Context())
	if err != nil {
		h.problem(w, r, err)
		return
	}
	// A token sees only the collections it may read.
	items := make([]*truce.CollectionInfo, 0, len(infos))
	p := principalOf(r)
	for _, c := range infos {
		if p.CanRead(c.Name) {
			items = append(items, c)
		}
	}
	h.writeValue(w, r, http.StatusOK, map[string]any{"items": items})
}

func (h *Handler) deleteCollection(w http.ResponseWriter, r *http.Request) {
	q, err := query(r, "force")
	if err != nil {
		h.problem(w, r, err)
		return
	}
	force := false
	switch q.Get("force") {
	case "", "false":
	case "true":
		force = true
	default:
		h.problem(w, r, truce.Errorf(truce.CodeInvalidParameter, "force must be true or false"))
		return
	}
	if err := h.svc.DeleteCollection(r.Context(), r.PathValue("c"), force); err != nil {
		h.problem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) writeValue(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	writeJSON(w, status, b)
}
