package http

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// CORS (the Fetch standard's cross-origin protocol) lets pages served from
// other origins call the API from a browser, as the TypeScript client does:
// without it a browser refuses them every answer. Only the origins the
// operator names get it; the bearer token travels in the Authorization
// header, never in cookies, so credentials mode is never allowed.

// corsRequestHeaders are the request headers the API reads that a browser
// must ask leave to send.
var corsRequestHeaders = strings.Join([]string{"Authorization", "Content-Type", "If-Match", "If-None-Match", "If-Unmodified-Since",
	"Idempotency-Key", "Lock-Token", "Truce-Transaction", "Last-Event-ID", "X-Request-Id"}, ", ")

// corsResponseHeaders are the answer headers a page's script may read:
// those of API.md that a client acts on.
var corsResponseHeaders = strings.Join([]string{"ETag", "Last-Modified", "Location", "Retry-After", "Lock-Token",
	"Truce-Merged", "Truce-Staged", "Idempotent-Replayed", "Link", "RateLimit", "RateLimit-Policy",
	"WWW-Authenticate", "X-Request-Id"}, ", ")

// corsMethods are the methods of the API's routes.
const corsMethods = "GET, HEAD, POST, PUT, PATCH, DELETE"

// CheckCORSOrigin says whether o can be an entry of Options.CORSOrigins:
// "*", or an origin as browsers send it (scheme://host[:port], nothing
// after).
func CheckCORSOrigin(o string) error {
	if o == "*" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.HasSuffix(o, "/") {
		return fmt.Errorf("%q is not an origin: give scheme://host[:port], such as https://app.example.com, or *", o)
	}
	return nil
}

// corsAllowed says whether a request from origin may read the answers.
func (h *Handler) corsAllowed(origin string) bool {
	return origin != "" && (slices.Contains(h.corsOrigins, "*") || slices.Contains(h.corsOrigins, origin))
}

// cors adds the CORS headers to the answer of a request from an allowed
// origin, and answers a preflight (OPTIONS with
// Access-Control-Request-Method) itself: 204, before authentication, since
// browsers send preflights without the Authorization header. It reports
// whether it answered.
func (h *Handler) cors(w http.ResponseWriter, r *http.Request) bool {
	if len(h.corsOrigins) == 0 {
		return false
	}
	hd := w.Header()
	hd.Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	if !h.corsAllowed(origin) {
		return false
	}
	hd.Set("Access-Control-Allow-Origin", origin)
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		hd.Set("Access-Control-Expose-Headers", corsResponseHeaders)
		return false
	}
	hd.Set("Access-Control-Allow-Methods", corsMethods)
	hd.Set("Access-Control-Allow-Headers", corsRequestHeaders)
	hd.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
	return true
}
