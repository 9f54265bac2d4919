package http_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	trucehttp "github.com/trucedb/truce/http"
	"github.com/trucedb/truce/web"
)

// The console's files are served without a token, with their types and a
// policy that keeps the page to its own origin; the API the page calls
// still wants one.
func TestConsoleFiles(t *testing.T) {
	s := mustAuthServer(t, trucehttp.Options{Console: web.Console})
	page := s.do("GET", "/ui/", nil).want(t, http.StatusOK, "")
	if ct := page.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("GET /ui/: Content-Type %q, want text/html", ct)
	}
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("GET /ui/: Content-Security-Policy %q", csp)
	}
	if !bytes.Contains(page.Body, []byte(`src="app.js"`)) {
		t.Errorf("GET /ui/ does not load app.js:\n%s", page.Body)
	}
	for file, ct := range map[string]string{"app.js": "text/javascript", "style.css": "text/css"} {
		r := s.do("GET", "/ui/"+file, nil).want(t, http.StatusOK, "")
		if got := r.Header.Get("Content-Type"); !strings.HasPrefix(got, ct) {
			t.Errorf("GET /ui/%s: Content-Type %q, want %s", file, got, ct)
		}
		etag := r.Header.Get("ETag")
		if etag == "" {
			t.Fatalf("GET /ui/%s: no ETag", file)
		}
		s.do("GET", "/ui/"+file, nil, "If-None-Match: "+etag).want(t, http.StatusNotModified, "")
	}
	s.do("GET", "/ui/nope.js", nil).want(t, http.StatusNotFound, "not_found")
	s.do("GET", "/ui/a/b.js", nil).want(t, http.StatusUnauthorized, "unauthorized")
	s.do("GET", "/v1/collections", nil).want(t, http.StatusUnauthorized, "unauthorized")

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(s.base + "/ui")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("GET /ui: %d to %q, want 301 to /ui/", resp.StatusCode, resp.Header.Get("Location"))
	}

	if links := s.do("GET", "/", nil).want(t, http.StatusOK, "").JSON(t)["links"].(map[string]any); links["console"] != "/ui/" {
		t.Errorf("GET / links %v, want console /ui/", links)
	}
}

// A Handler made without a console answers 404 at /ui/, and GET / does
// not link to it.
func TestConsoleAbsent(t *testing.T) {
	c := mustServe(t)
	c.do("GET", "/ui/", nil).want(t, http.StatusNotFound, "not_found")
	c.do("GET", "/ui/app.js", nil).want(t, http.StatusNotFound, "not_found")
	if links := c.do("GET", "/", nil).want(t, http.StatusOK, "").JSON(t)["links"].(map[string]any); links["console"] != nil {
		t.Errorf("GET / links the console %v, but there is none", links["console"])
	}
}
