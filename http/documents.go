package http

import (
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/trucedb/truce"
)

// docURL is the canonical URL of a document.
func docURL(d *truce.Document) string {
	return "/v1/collections/" + d.Collection + "/docs/" + url.PathEscape(d.ID)
}

// writeDocument answers with a document, its ETag and Last-Modified.
func writeDocument(w http.ResponseWriter, r *http.Request, status int, d *truce.Document) {
	setDocHeaders(w.Header(), d.ETag(), d.UpdatedAt)
	if status == http.StatusCreated {
		w.Header().Set("Location", docURL(d))
	}
	bp := docBufs.Get().(*[]byte)
	b := d.AppendJSON((*bp)[:0])
	// A Write that succeeded is done with b: HTTP/1 copies it or sends it
	// before returning. One that failed may not be (HTTP/2 gives up on a
	// reset stream while its frame writer still holds the bytes).
	if err := writeJSON(w, status, b); err == nil && cap(b) <= maxPooledDocBuf {
		*bp = b
		docBufs.Put(bp)
	}
}

// setDocHeaders sets the headers of a document answer, a 304 included:
// its ETag, Last-Modified, and no-cache so that caches revalidate.
func setDocHeaders(hd http.Header, etag string, updated time.Time) {
	hd.Set("ETag", etag)
	hd.Set("Last-Modified", httpDate(updated))
	hd.Set("Cache-Control", "no-cache")
}

// docBufs holds buffers for the JSON of the documents writeDocument sends,
// which every GET and every write answers with: the buffer is free again
// once Write returns. maxPooledDocBuf keeps the pool from holding on to
// the few large documents.
var docBufs = sync.Pool{New: func() any { return new([]byte) }}

const maxPooledDocBuf = 64 << 10

func (h *Handler) createDoc(w http.ResponseWriter, r *http.Request) {
	body, err := h.jsonRequest(w, r)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	token, _, err := lockToken(r)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	d, err := h.svc.CreateLocked(r.Context(), r.PathValue("c"), body, token, answerKey(w))
	answered(w, err)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	writeDocument(w, r, http.StatusCreated, d)
}

// getDoc serves GET and HEAD, with conditional requests (RFC 9110 13.2.2):
// If-Match or If-Unmodified-Since (412), then If-None-Match or
// If-Modified-Since (304).
func (h *Handler) getDoc(w http.ResponseWriter, r *http.Request) {
	if _, err := query(r); err != nil {
		h.problem(w, r, err)
		return
	}
	pre, err := preconditions(r, nil)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	d, err := h.svc.Get(r.Context(), r.PathValue("c"), r.PathValue("id"))
	if err != nil {
		if len(pre.IfMatch) > 0 && truce.ErrorCode(err) == truce.CodeNotFound {
			err = &truce.Error{Code: truce.CodePreconditionFailed, Detail: "If-Match: " + truce.ErrorDetail(err)}
		}
		h.problem(w, r, err)
		return
	}
	etag := d.ETag()
	if len(pre.IfMatch) > 0 && !truce.MatchStrong(pre.IfMatch, etag) {
		h.problem(w, r, &truce.Error{Code: truce.CodePreconditionFailed, Current: d,
			Detail: "If-Match: " + d.Collection + "/" + d.ID + " is at " + etag})
		return
	}
	if pre.ModifiedSince(d.UpdatedAt) {
		h.problem(w, r, &truce.Error{Code: truce.CodePreconditionFailed, Current: d,
			Detail: "If-Unmodified-Since: " + d.Collection + "/" + d.ID + " was last modified at " + httpDate(d.UpdatedAt)})
		return
	}
	if notModified(r, pre, etag, d.UpdatedAt) {
		setDocHeaders(w.Header(), etag, d.UpdatedAt)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeDocument(w, r, http.StatusOK, d)
}

func notModified(r *http.Request, pre truce.Precondition, etag string, updated time.Time) bool {
	if len(pre.IfNoneMatch) > 0 {
		return truce.MatchWeak(pre.IfNoneMatch, etag)
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		t, err := http.ParseTime(ims)
		return err == nil && !updated.Truncate(time.Second).After(t)
	}
	return false
}

func (h *Handler) putDoc(w http.ResponseWriter, r *http.Request) {
	pre, body, err := h.conditionalJSON(w, r, "version")
	if err != nil {
		h.problem(w, r, err)
		return
	}
	res, err := h.svc.Put(r.Context(), r.PathValue("c"), r.PathValue("id"), body, pre, answerKey(w))
	answered(w, err)
	h.writeResult(w, r, res, err)
}

func (h *Handler) writeResult(w http.ResponseWriter, r *http.Request, res truce.WriteResult, err error) {
	switch {
	case err != nil:
		h.problem(w, r, err)
	case res.Document.Deleted:
		w.WriteHeader(http.StatusNoContent)
	case res.Merged != nil:
		if h.metrics != nil && w.Header().Get("Idempotent-Replayed") == "" {
			h.metrics.count(r.Context(), h.metrics.merges, r.PathValue("c"), "merged", h.exists)
		}
		w.Header().Set("Truce-Merged", "base="+strconv.FormatInt(res.Merged.Base, 10)+", current="+strconv.FormatInt(res.Merged.Current, 10))
		writeDocument(w, r, http.StatusOK, res.Document)
	case res.Created:
		writeDocument(w, r, http.StatusCreated, res.Document)
	default:
		writeDocument(w, r, http.StatusOK, res.Document)
	}
}

func (h *Handler) patchDoc(w http.ResponseWriter, r *http.Request) {
	pre, typ, body, err := h.patchRequest(w, r)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	res, err := h.svc.Patch(r.Context(), r.PathValue("c"), r.PathValue("id"), typ, body, pre, answerKey(w))
	answered(w, err)
	h.writeResult(w, r, res, err)
}

func (h *Handler) deleteDoc(w http.ResponseWriter, r *http.Request) {
	pre, err := writePreconditions(r)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	_, err = h.svc.Delete(r.Context(), r.PathValue("c"), r.PathValue("id"), pre, answerKey(w))
	answered(w, err)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) listDocs(w http.ResponseWriter, r *http.Request) {
	q, err := query(r, "limit", "after")
	if err != nil {
		h.problem(w, r, err)
		return
	}
	limit, err := limitParam(q)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	page, err := h.svc.List(r.Context(), r.PathValue("c"), q.Get("after"), limit)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	b := make([]byte, 0, 4096)
	b = append(b, `{"items":[`...)
	for i, d := range page.Items {
		if i > 0 {
			b = append(b, ',')
		}
		b = d.AppendJSON(b)
	}
	b = append(b, `],"next":`...)
	b = appendCursor(b, page.Next)
	b = append(b, '}')
	writeJSON(w, http.StatusOK, b)
}

func appendCursor(b []byte, next string) []byte {
	if next == "" {
		return append(b, "null"...)
	}
	return strconv.AppendQuote(b, next)
}

// conditionalJSON reads what a conditional write with a JSON body brings:
// the query (only the given parameters; "version" becomes a body-style
// precondition), the header preconditions, and the body.
func (h *Handler) conditionalJSON(w http.ResponseWriter, r *http.Request, params ...string) (truce.Precondition, []byte, error) {
	q, err := query(r, params...)
	if err != nil {
		return truce.Precondition{}, nil, err
	}
	pre, err := preconditions(r, q)
	if err != nil {
		return pre, nil, err
	}
	if err := requireJSON(r); err != nil {
		return pre, nil, err
	}
	body, err := h.readBody(w, r)
	return pre, body, err
}
