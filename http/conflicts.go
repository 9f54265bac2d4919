package http

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/trucedb/truce"
)

// conflictLink is the Link header value that points at a recorded conflict.
func conflictLink(id string) string {
	return "</v1/conflicts/" + url.PathEscape(id) + `>; rel="conflict"`
}

func (h *Handler) listConflicts(w http.ResponseWriter, r *http.Request) {
	q, err := query(r, "collection", "id", "status", "limit", "after")
	if err != nil {
		h.problem(w, r, err)
		return
	}
	limit, err := limitParam(q)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	f := truce.ConflictFilter{Collection: q.Get("collection"), DocID: q.Get("id"), Status: truce.ConflictStatus(q.Get("status"))}
	if f.Collection != "" {
		if err := checkCollectionFilter(f.Collection); err != nil {
			h.problem(w, r, err)
			return
		}
	}
	if f.DocID != "" {
		if err := checkIDFilter(f.DocID); err != nil {
			h.problem(w, r, err)
			return
		}
	}
	p := principalOf(r)
	if f.Collection != "" {
		if err := mayRead(p, f.Collection); err != nil {
			h.problem(w, r, err)
			return
		}
	} else if !p.ReadsAll() {
		f.Readable = p.CanRead
	}
	page, err := h.svc.ListConflicts(r.Context(), f, q.Get("after"), limit)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	items := page.Items
	if items == nil {
		items = []*truce.Conflict{}
	}
	out := make([]conflictJSON, len(items))
	for i, c := range items {
		out[i] = renderConflict(c)
	}
	b, err := json.Marshal(struct {
		Items []conflictJSON `json:"items"`
		Next  *string        `json:"next"`
	}{out, cursor(page.Next)})
	if err != nil {
		h.problem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

func cursor(next string) *string {
	if next == "" {
		return nil
	}
	return &next
}

func (h *Handler) getConflict(w http.ResponseWriter, r *http.Request) {
	if _, err := query(r); err != nil {
		h.problem(w, r, err)
		return
	}
	c, err := h.conflictFor(r, false)
	h.writeConflict(w, r, c, err)
}

// conflictFor reads the conflict the request names, as the caller may see
// it: not found unless it may read the conflict's collection (so that a
// conflict of another collection is not even confirmed to exist), and
// forbidden unless it may write it when write is set (resolving and
// dismissing).
func (h *Handler) conflictFor(r *http.Request, write bool) (*truce.Conflict, error) {
	c, err := h.svc.GetConflict(r.Context(), r.PathValue("cid"))
	if err != nil {
		return nil, err
	}
	p := principalOf(r)
	if !p.CanRead(c.Collection) {
		return nil, truce.Errorf(truce.CodeNotFound, "there is no conflict %.80q", c.ID)
	}
	if write {
		return c, mayWrite(p, c.Collection)
	}
	return c, nil
}

func (h *Handler) writeConflict(w http.ResponseWriter, r *http.Request, c *truce.Conflict, err error) {
	if err != nil {
		h.problem(w, r, err)
		return
	}
	b, err := json.Marshal(renderConflict(c))
	if err != nil {
		h.problem(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, b)
}

// resolveRequest is the body of POST /v1/conflicts/{cid}/resolve.
type resolveRequest struct {
	Strategy string          `json:"strategy"`
	Document json.RawMessage `json:"document"`
}

// resolveConflict writes the resolution as a new version of the document
// and answers with that version (204 when the resolution is a delete). The
// Link header points back at the now resolved conflict.
func (h *Handler) resolveConflict(w http.ResponseWriter, r *http.Request) {
	if _, err := h.conflictFor(r, true); err != nil {
		h.problem(w, r, err)
		return
	}
	pre, body, err := h.conditionalJSON(w, r)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	var req resolveRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		h.problem(w, r, truce.Errorf(truce.CodeInvalidJSON, "the resolution must be {\"strategy\": …, \"document\": {…}}: %s", strings.TrimPrefix(err.Error(), "json: ")))
		return
	}
	doc := []byte(req.Document)
	if string(doc) == "null" {
		doc = nil
	}
	res, c, err := h.svc.ResolveConflict(r.Context(), r.PathValue("cid"), req.Strategy, doc, pre, answerKey(w))
	answered(w, err)
	if err == nil {
		w.Header().Set("Link", conflictLink(c.ID))
		if h.metrics != nil {
			h.metrics.count(r.Context(), h.metrics.recorded, c.Collection, "resolved", h.exists)
		}
	}
	h.writeResult(w, r, res, err)
}

func (h *Handler) dismissConflict(w http.ResponseWriter, r *http.Request) {
	if _, err := query(r); err != nil {
		h.problem(w, r, err)
		return
	}
	if _, err := h.conflictFor(r, true); err != nil {
		h.problem(w, r, err)
		return
	}
	c, err := h.svc.DismissConflict(r.Context(), r.PathValue("cid"))
	if err == nil && h.metrics != nil {
		h.metrics.count(r.Context(), h.metrics.recorded, c.Collection, "dismissed", h.exists)
	}
	h.writeConflict(w, r, c, err)
}

// conflictJSON is a conflict as the API shows it: its times in
// truce.TimeLayout, with milliseconds, as every other time the server
// writes. (encoding/json would write RFC 3339 with trailing zeros cut, so
// .120 as .12.) The outer fields hide the embedded ones of the same name.
type conflictJSON struct {
	*truce.Conflict
	CreatedAt string `json:"createdAt"`
	ClosedAt  string `json:"closedAt,omitempty"`
}

func renderConflict(c *truce.Conflict) conflictJSON {
	out := conflictJSON{Conflict: c, CreatedAt: string(truce.AppendTime(nil, c.CreatedAt))}
	if !c.ClosedAt.IsZero() {
		out.ClosedAt = string(truce.AppendTime(nil, c.ClosedAt))
	}
	return out
}
