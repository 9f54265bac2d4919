package http

import (
	"net/http"
	"strconv"

	"github.com/trucedb/truce"
)

func (h *Handler) listVersions(w http.ResponseWriter, r *http.Request) {
	q, err := query(r, "limit", "before")
	if err != nil {
		h.problem(w, r, err)
		return
	}
	limit, err := limitParam(q)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	var before int64
	if q.Has("before") {
		if before, err = versionValue("before", q.Get("before")); err != nil {
			h.problem(w, r, err)
			return
		}
	}
	page, err := h.svc.ListVersions(r.Context(), r.PathValue("c"), r.PathValue("id"), before, limit)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	b := make([]byte, 0, 64+80*len(page.Items))
	b = append(b, `{"items":[`...)
	for i, d := range page.Items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"version":`...)
		b = strconv.AppendInt(b, d.Version, 10)
		b = append(b, `,"etag":`...)
		b = strconv.AppendQuote(b, d.ETag())
		b = append(b, `,"updatedAt":"`...)
		b = truce.AppendTime(b, d.UpdatedAt)
		b = append(b, '"')
		if d.UpdatedBy != "" {
			b = append(b, `,"updatedBy":`...)
			b = strconv.AppendQuote(b, d.UpdatedBy)
		}
		b = append(b, `,"deleted":`...)
		b = strconv.AppendBool(b, d.Deleted)
		b = append(b, '}')
	}
	b = append(b, `],"next":`...)
	b = appendCursor(b, page.Next)
	b = append(b, '}')
	writeJSON(w, http.StatusOK, b)
}

func (h *Handler) getVersion(w http.ResponseWriter, r *http.Request) {
	if _, err := query(r); err != nil {
		h.problem(w, r, err)
		return
	}
	n, err := versionValue("version number", r.PathValue("n"))
	if err != nil {
		h.problem(w, r, err)
		return
	}
	d, err := h.svc.GetVersion(r.Context(), r.PathValue("c"), r.PathValue("id"), n)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	w.Header().Set("ETag", d.ETag())
	w.Header().Set("Last-Modified", httpDate(d.UpdatedAt))
	writeJSON(w, http.StatusOK, d.JSON())
}

func (h *Handler) diff(w http.ResponseWriter, r *http.Request) {
	q, err := query(r, "from", "to")
	if err != nil {
		h.problem(w, r, err)
		return
	}
	if !q.Has("from") || !q.Has("to") {
		h.problem(w, r, truce.Errorf(truce.CodeInvalidParameter, "diff needs both from= and to= version numbers"))
		return
	}
	from, err := versionValue("from", q.Get("from"))
	if err != nil {
		h.problem(w, r, err)
		return
	}
	to, err := versionValue("to", q.Get("to"))
	if err != nil {
		h.problem(w, r, err)
		return
	}
	patch, err := h.svc.Diff(r.Context(), r.PathValue("c"), r.PathValue("id"), from, to)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json-patch+json")
	w.Header().Set("Content-Length", strconv.Itoa(len(patch)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(patch)
}

func (h *Handler) restore(w http.ResponseWriter, r *http.Request) {
	pre, err := writePreconditions(r)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	n, err := versionValue("version number", r.PathValue("n"))
	if err != nil {
		h.problem(w, r, err)
		return
	}
	res, err := h.svc.Restore(r.Context(), r.PathValue("c"), r.PathValue("id"), n, pre, answerKey(w))
	answered(w, err)
	h.writeResult(w, r, res, err)
}
