package http

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/trucedb/truce"
)

// query returns the request's query parameters, refusing unknown and
// repeated ones: a misspelt parameter must not be silently ignored.
func query(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, truce.Errorf(truce.CodeInvalidParameter, "the query string is malformed: %v", err)
	}
	for k, vs := range q {
		known := false
		for _, a := range allowed {
			if k == a {
				known = true
				break
			}
		}
		if !known {
			if len(allowed) == 0 {
				return nil, truce.Errorf(truce.CodeInvalidParameter, "unknown query parameter %.60q: this URL takes none", k)
			}
			return nil, truce.Errorf(truce.CodeInvalidParameter, "unknown query parameter %.60q: this URL takes %s", k, strings.Join(allowed, ", "))
		}
		if len(vs) > 1 {
			return nil, truce.Errorf(truce.CodeInvalidParameter, "query parameter %q is given %d times", k, len(vs))
		}
	}
	return q, nil
}

// intParam parses an optional non-negative integer query parameter.
func intParam(q url.Values, name string) (int64, error) {
	s := q.Get(name)
	if s == "" {
		if _, ok := q[name]; ok {
			return 0, truce.Errorf(truce.CodeInvalidParameter, "%s is empty; give a number", name)
		}
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, truce.Errorf(truce.CodeInvalidParameter, "%s=%.40q is not a non-negative integer", name, s)
	}
	return n, nil
}

// versionParam parses a version number (positive) from the query or path.
func versionValue(name, s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		if name == "version" {
			return 0, truce.Errorf(truce.CodeInvalidPrecondition, "version=%.40q is not a positive integer", s)
		}
		return 0, truce.Errorf(truce.CodeInvalidParameter, "%s=%.40q is not a positive version number", name, s)
	}
	return n, nil
}

// preconditions reads If-Match, If-None-Match, Lock-Token and ?version=
// (when allowed).
// writePreconditions reads the preconditions of a PATCH, DELETE or restore,
// whose only query parameter is ?version=.
func writePreconditions(r *http.Request) (truce.Precondition, error) {
	q, err := query(r, "version")
	if err != nil {
		return truce.Precondition{}, err
	}
	return preconditions(r, q)
}

func preconditions(r *http.Request, q url.Values) (truce.Precondition, error) {
	var p truce.Precondition
	var err error
	if v, ok := headerValue(r, "If-Match"); ok {
		if p.IfMatch, err = truce.ParseETagList(v); err != nil {
			return p, err
		}
	}
	if v, ok := headerValue(r, "If-None-Match"); ok {
		if p.IfNoneMatch, err = truce.ParseETagList(v); err != nil {
			return p, err
		}
	}
	if v := r.Header.Get("If-Unmodified-Since"); v != "" {
		// RFC 9110 13.1.4: a value that is not an HTTP date is ignored.
		if t, err := http.ParseTime(v); err == nil {
			p.IfUnmodifiedSince = t
		}
	}
	if p.LockToken, _, err = lockToken(r); err != nil {
		return p, err
	}
	if q != nil && q.Has("version") {
		if p.Version, err = versionValue("version", q.Get("version")); err != nil {
			return p, err
		}
	}
	return p, nil
}

// headerValue joins the values of a header that may be sent several times.
func headerValue(r *http.Request, name string) (string, bool) {
	vs := r.Header.Values(name)
	if len(vs) == 0 {
		return "", false
	}
	return strings.Join(vs, ", "), true
}

// mediaType returns the request's media type, lowercased, without
// parameters; "" when there is no Content-Type.
func mediaType(r *http.Request) (string, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return "", nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", truce.Errorf(truce.CodeUnsupportedMediaType, "Content-Type %.80q is malformed; send application/json", ct)
	}
	return mt, nil
}

// requireJSON accepts application/json, any +json type, or no type.
func requireJSON(r *http.Request) error {
	mt, err := mediaType(r)
	if err != nil {
		return err
	}
	if mt == "" || mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json") &&
		mt != string(truce.MergePatch) && mt != string(truce.JSONPatch)) {
		return nil
	}
	return truce.Errorf(truce.CodeUnsupportedMediaType, "Content-Type %s is not taken here; send the document as application/json", mt)
}

// readBody reads the whole request body up to the handler's limit.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	limit := h.bodyLimit(r)
	if r.ContentLength > limit {
		return nil, truce.Errorf(truce.CodeTooLarge, "the body is %d bytes; the limit is %d", r.ContentLength, limit)
	}
	body, err := readAll(http.MaxBytesReader(w, r.Body, limit), r.ContentLength)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, truce.Errorf(truce.CodeTooLarge, "the body is over the limit of %d bytes", limit)
	}
	if err != nil {
		return nil, truce.Errorf(truce.CodeInvalidJSON, "reading the body failed: %v", err)
	}
	return body, nil
}

// readAll is io.ReadAll with the buffer sized from Content-Length, which
// saves the repeated growth of a 512-byte start on every write.
func readAll(r io.Reader, size int64) ([]byte, error) {
	if size < 0 || size > 1<<20 {
		size = 512
	}
	b := make([]byte, 0, size+1)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// limitParam parses ?limit=: absent is 0 (the service's default); an
// explicit 0, or anything over the maximum, is refused with the value sent.
func limitParam(q url.Values) (int, error) {
	limit, err := intParam(q, "limit")
	if err != nil {
		return 0, err
	}
	if (limit == 0 && q.Has("limit")) || limit > truce.MaxPageSize {
		return 0, truce.Errorf(truce.CodeInvalidParameter, "limit must be between 1 and %d, not %d", truce.MaxPageSize, limit)
	}
	return int(limit), nil
}

// jsonRequest reads the body of a request that takes no query parameters
// and a JSON body: an unknown parameter is 400, another body type 415.
func (h *Handler) jsonRequest(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if _, err := query(r); err != nil {
		return nil, err
	}
	return h.jsonBody(w, r)
}

// jsonBody reads a body that must be application/json (415 otherwise).
func (h *Handler) jsonBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if err := requireJSON(r); err != nil {
		return nil, err
	}
	return h.readBody(w, r)
}

// patchRequest reads a PATCH: ?version=, the preconditions, a patch media
// type (RFC 7396 or RFC 6902; 415 otherwise) and the body.
func (h *Handler) patchRequest(w http.ResponseWriter, r *http.Request) (truce.Precondition, truce.PatchType, []byte, error) {
	pre, err := writePreconditions(r)
	if err != nil {
		return truce.Precondition{}, "", nil, err
	}
	mt, err := mediaType(r)
	if err != nil {
		return truce.Precondition{}, "", nil, err
	}
	typ := truce.PatchType(mt)
	if typ != truce.MergePatch && typ != truce.JSONPatch {
		if mt == "" {
			mt = "none"
		}
		return truce.Precondition{}, "", nil, truce.Errorf(truce.CodeUnsupportedMediaType,
			"PATCH takes Content-Type %s (RFC 7396) or %s (RFC 6902), not %s", truce.MergePatch, truce.JSONPatch, mt)
	}
	body, err := h.readBody(w, r)
	return pre, typ, body, err
}
