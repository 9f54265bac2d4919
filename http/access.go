package http

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/auth"
)

// access is what a route asks of the caller's token (docs/api.md section 9).
type access int

const (
	// public routes need no token: health, readiness and problem pages.
	public access = iota
	// anyToken routes need a valid token; the handler checks the scopes
	// of every collection the request touches.
	anyToken
	// readPath and writePath need read: or write: on the path's {c}.
	readPath
	writePath
	// admin routes need the admin scope.
	admin
)

// String names the access as the README's table does.
func (a access) String() string {
	return [...]string{"none", "a token; per collection", "read:{c}", "write:{c}", "admin"}[a]
}

// route is one entry of the API: a ServeMux pattern, the access it
// needs, and its handler. Every route of the Handler is in routeTable, so
// that none can be served without a decision on who may call it.
type route struct {
	pattern string
	access  access
	handler http.HandlerFunc
}

// routeTable lists every route of the main mux.
func (h *Handler) routeTable() []route {
	return []route{
		{"GET /{$}", public, h.index},
		{"GET /healthz", public, h.healthz},
		{"GET /readyz", public, h.readyz},
		{"GET /problems/{name}", public, h.problemPage},
		{"GET /metrics", admin, h.serveMetrics},
		{"GET /v1/openapi.json", public, h.serveOpenAPI},
		// The console's files are public; the API calls the page makes
		// are not (console.go).
		{"GET /ui", public, h.consoleRedirect},
		{"GET /ui/{$}", public, h.consolePage},
		{"GET /ui/{file}", public, h.consoleFile},

		{"GET /v1/collections", anyToken, h.listCollections},
		{"GET /v1/collections/{c}", readPath, h.getCollection},
		{"PUT /v1/collections/{c}", admin, h.putCollection},
		{"DELETE /v1/collections/{c}", admin, h.deleteCollection},

		{"GET /v1/collections/{c}/docs", readPath, h.listDocs},
		// A query is a read, though it is a POST: read:{c}, and never an
		// idempotent write (see guard).
		{"POST /v1/collections/{c}/query", readPath, h.queryDocs},
		{"POST /v1/collections/{c}/docs", writePath, h.createDoc},
		{"GET /v1/collections/{c}/docs/{id}", readPath, h.getDoc},
		{"PUT /v1/collections/{c}/docs/{id}", writePath, h.putDoc},
		{"PATCH /v1/collections/{c}/docs/{id}", writePath, h.patchDoc},
		{"DELETE /v1/collections/{c}/docs/{id}", writePath, h.deleteDoc},

		{"GET /v1/collections/{c}/docs/{id}/versions", readPath, h.listVersions},
		{"GET /v1/collections/{c}/docs/{id}/versions/{n}", readPath, h.getVersion},
		{"POST /v1/collections/{c}/docs/{id}/versions/{n}/restore", writePath, h.restore},
		{"GET /v1/collections/{c}/docs/{id}/diff", readPath, h.diff},

		// Breaking a lock (?force=true) needs admin too: see unlock.
		{"POST /v1/collections/{c}/docs/{id}/lock", writePath, h.lock},
		{"GET /v1/collections/{c}/docs/{id}/lock", readPath, h.getLock},
		{"DELETE /v1/collections/{c}/docs/{id}/lock", writePath, h.unlock},

		{"GET /v1/conflicts", anyToken, h.listConflicts},
		{"GET /v1/conflicts/{cid}", anyToken, h.getConflict},
		{"POST /v1/conflicts/{cid}/resolve", anyToken, h.resolveConflict},
		{"POST /v1/conflicts/{cid}/dismiss", anyToken, h.dismissConflict},

		{"GET /v1/events", anyToken, h.events},
		{"GET /v1/changes", anyToken, h.changes},

		{"POST /v1/tx", anyToken, h.postBatch},
		{"POST /v1/transactions", anyToken, h.beginTransaction},
		{"POST /v1/transactions/{tid}/commit", anyToken, h.commitTransaction},
		{"DELETE /v1/transactions/{tid}", anyToken, h.rollbackTransaction},

		{"POST /v1/admin/backup", admin, h.backup},
		{"POST /v1/admin/import", admin, h.importVersion},
	}
}

// transactionRouteTable lists the document routes of a request that
// carries Truce-Transaction: the same scopes as without it.
func (h *Handler) transactionRouteTable() []route {
	return []route{
		{"GET /v1/collections/{c}/docs/{id}", readPath, h.transactionGetDoc},
		{"POST /v1/collections/{c}/docs", writePath, h.transactionCreateDoc},
		{"PUT /v1/collections/{c}/docs/{id}", writePath, h.transactionPutDoc},
		{"PATCH /v1/collections/{c}/docs/{id}", writePath, h.transactionPatchDoc},
		{"DELETE /v1/collections/{c}/docs/{id}", writePath, h.transactionDeleteDoc},
	}
}

// register adds the routes to m, each behind the check of its access, and
// notes the paths of the public ones.
func (h *Handler) register(m *http.ServeMux, routes []route) {
	for _, rt := range routes {
		m.Handle(rt.pattern, h.guard(rt))
		if rt.access == public {
			_, path, _ := strings.Cut(rt.pattern, " ")
			// "/{$}" matches "/" alone, not every path under it.
			path = strings.TrimSuffix(path, "{$}")
			if i := strings.IndexByte(path, '{'); i >= 0 {
				h.publicPrefixes = append(h.publicPrefixes, path[:i])
			} else {
				h.publicPaths = append(h.publicPaths, path)
			}
		}
	}
}

// isPublic reports whether path is one of the public routes' (what load
// balancers and people reading problem pages ask), served without a token
// and without rate limits.
func (h *Handler) isPublic(path string) bool {
	if slices.Contains(h.publicPaths, path) {
		return true
	}
	for _, p := range h.publicPrefixes {
		if strings.HasPrefix(path, p) && !strings.Contains(path[len(p):], "/") {
			return true
		}
	}
	return false
}

// guard checks that the caller may use rt, then runs it behind the
// Idempotency-Key layer: a stored answer is replayed only to a caller the
// route admits. ServeHTTP authenticated the caller already; an anyToken
// route checks each collection it touches itself.
func (h *Handler) guard(rt route) http.Handler {
	if rt.access == public {
		return rt.handler
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := principalOf(r)
		var err error
		switch rt.access {
		case readPath:
			err = mayRead(p, r.PathValue("c"))
		case writePath:
			err = mayWrite(p, r.PathValue("c"))
		case admin:
			if !p.IsAdmin() {
				err = forbidden(p, auth.AdminScope)
			}
		}
		if err != nil {
			h.problem(w, r, err)
			return
		}
		if rt.access == readPath {
			// A read changes nothing, so it has no answer to keep for an
			// Idempotency-Key: repeating it is already safe.
			rt.handler.ServeHTTP(w, r)
			return
		}
		h.idempotent(w, r, rt.handler)
	})
}

// forbidden is the 403 of a token that lacks scope.
func forbidden(p *auth.Principal, scope auth.Scope) error {
	return &truce.Error{Code: truce.CodeForbidden, Scope: string(scope),
		Detail: "the token " + p.Name + " lacks the scope " + string(scope) + " that this request needs"}
}

// mayRead and mayWrite answer the 403 of a request that touches
// collection, or nil when p may.
func mayRead(p *auth.Principal, collection string) error {
	if p.CanRead(collection) {
		return nil
	}
	return forbidden(p, auth.ReadScope(collection))
}

func mayWrite(p *auth.Principal, collection string) error {
	if p.CanWrite(collection) {
		return nil
	}
	return forbidden(p, auth.WriteScope(collection))
}

type principalKey struct{}

// principalOf returns who the request acts for, as ServeHTTP found it. A
// request it did not admit (a public route's) is nobody: it may do nothing.
func principalOf(r *http.Request) *auth.Principal {
	if p, ok := r.Context().Value(principalKey{}).(*auth.Principal); ok {
		return p
	}
	return auth.Nobody
}

// clientAddr is the client's address without its port.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// admit authenticates the request and spends one request of its caller's
// rate limit. It answers 401 or 429 itself and returns false, or returns
// the request carrying its Principal.
func (h *Handler) admit(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	var p *auth.Principal
	if h.auth == nil {
		p = auth.Anonymous(clientAddr(r))
	} else {
		token, ok := bearerToken(r.Header.Values("Authorization"))
		if ok {
			p = h.auth.Set().Authenticate(token)
		}
		if p == nil {
			if !h.allow(w, r, addrBucket(clientAddr(r)), 0, 0) {
				return nil, false
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="truce"`)
			detail := "this server needs a bearer token: send Authorization: Bearer <token> (truce token create makes one)"
			if ok {
				detail = "the bearer token is not one this server knows (revoked, or mistyped); ask for a new one"
			}
			h.problem(w, r, &truce.Error{Code: truce.CodeUnauthorized, Detail: detail})
			return nil, false
		}
	}
	bucket := p.Key()
	if !p.Authenticated() {
		bucket = addrBucket(p.Name)
	}
	if !h.allow(w, r, bucket, p.Limit, p.Burst) {
		return nil, false
	}
	ctx := context.WithValue(r.Context(), principalKey{}, p)
	// Writes need the caller (for _updatedBy and their reference checks);
	// so does every call of an interactive transaction, its reads
	// included, since a transaction belongs to the caller that began it.
	// Plain reads do without.
	if _, inTransaction := r.Header[TransactionHeader]; inTransaction || r.Method != http.MethodGet && r.Method != http.MethodHead {
		c := truce.Caller{Name: p.Name}
		if p.Authenticated() {
			// Transactions belong to tokens. Without auth there is no one
			// to keep out, and a client's address may change between its
			// requests (::1 and 127.0.0.1), so they belong to nobody.
			c.ID = p.Key()
		}
		if !p.ReadsAll() {
			c.CanRead = p.CanRead
		}
		if !p.WritesAll() {
			c.CanWrite = p.CanWrite
		}
		ctx = truce.WithCaller(ctx, c)
	}
	return r.WithContext(ctx), true
}

// addrBucket names the rate-limit bucket of a client address: the address,
// or for IPv6 its /64, which one host usually has whole.
func addrBucket(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil || !a.Is6() || a.Is4In6() {
		return "addr:" + addr
	}
	p, _ := a.Prefix(64)
	return "addr:" + p.String()
}

// allow spends one request of bucket (limit and burst, or the server's
// when limit is zero), sets the RateLimit fields, and answers 429 and
// returns false when the bucket is empty.
func (h *Handler) allow(w http.ResponseWriter, r *http.Request, bucket string, limit rate.Limit, burst int) bool {
	lim, b := h.rate, h.burst
	if limit > 0 {
		lim, b = limit, burst
	}
	if lim == rate.Inf {
		return true // no limit, and no RateLimit fields to show
	}
	v := h.limits.take(bucket, lim, b, time.Now())
	v.setHeaders(w.Header())
	if !v.allowed {
		if h.metrics != nil {
			h.metrics.rateLimited.Inc()
		}
		h.problem(w, r, &truce.Error{Code: truce.CodeRateLimited, RetryAfter: v.wait,
			Detail: "too many requests from this caller (" + strconv.FormatFloat(float64(lim), 'g', 4, 64) + " a second, " + strconv.Itoa(b) + " at once); wait for Retry-After"})
		return false
	}
	return true
}

// bearerToken returns the token of an Authorization: Bearer header. More
// than one Authorization header, another scheme, or an empty token is no
// token.
func bearerToken(values []string) (string, bool) {
	if len(values) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.Trim(token, " ")
	if token == "" || len(token) > 4096 || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}
