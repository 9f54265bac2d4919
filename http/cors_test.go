package http_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/auth/authtest"
	trucehttp "github.com/trucedb/truce/http"
	"github.com/trucedb/truce/pebble"
)

const corsOrigin = "http://app.example:8081"

// mustServeCORS serves a handler that allows corsOrigin, with the admin
// token tokAdmin. The first server checks every answer against the OpenAPI
// document; the second does not, for preflights: they are the CORS
// protocol's, answered before routing, not routes of the API.
func mustServeCORS(tb testing.TB, origins ...string) (checkedURL, rawURL string) {
	tb.Helper()
	keeper, _ := authtest.Keeper(tb, authtest.Token{Name: "admin", Token: tokAdmin, Scopes: []string{"admin"}})
	store, err := pebble.Open(tb.TempDir(), pebble.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	h := trucehttp.NewHandler(truce.NewService(store, truce.Options{}), trucehttp.Options{Auth: keeper, CORSOrigins: origins})
	checkedSrv := httptest.NewServer(checked(tb, h))
	rawSrv := httptest.NewServer(h)
	tb.Cleanup(func() { checkedSrv.Close(); rawSrv.Close(); store.Close() })
	return checkedSrv.URL, rawSrv.URL
}

func corsDo(tb testing.TB, method, url string, body string, headers ...string) *http.Response {
	tb.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestCORSPreflight(t *testing.T) {
	_, raw := mustServeCORS(t, corsOrigin)
	resp := corsDo(t, http.MethodOptions, raw+"/v1/collections/notes/docs/n1", "",
		"Origin", corsOrigin, "Access-Control-Request-Method", "PUT",
		"Access-Control-Request-Headers", "authorization, content-type, if-match, idempotency-key")
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("preflight: %d, want 204 without a token", resp.StatusCode)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != corsOrigin {
		t.Errorf("Access-Control-Allow-Origin %q, want %q", got, corsOrigin)
	}
	for _, h := range []string{"Authorization", "Content-Type", "If-Match", "If-None-Match", "Idempotency-Key", "Lock-Token", "Truce-Transaction", "Last-Event-ID"} {
		if !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), h) {
			t.Errorf("Access-Control-Allow-Headers %q lacks %s", resp.Header.Get("Access-Control-Allow-Headers"), h)
		}
	}
	for _, m := range []string{"GET", "PUT", "PATCH", "DELETE", "POST"} {
		if !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), m) {
			t.Errorf("Access-Control-Allow-Methods %q lacks %s", resp.Header.Get("Access-Control-Allow-Methods"), m)
		}
	}
	if resp.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Error("credentials mode is allowed; tokens travel in Authorization, never in cookies")
	}

	other := corsDo(t, http.MethodOptions, raw+"/v1/collections/notes/docs/n1", "",
		"Origin", "http://evil.example", "Access-Control-Request-Method", "PUT")
	if other.StatusCode == http.StatusNoContent || other.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a preflight from an origin not allowed: %d, Access-Control-Allow-Origin %q", other.StatusCode, other.Header.Get("Access-Control-Allow-Origin"))
	}
}

func TestCORSAnswers(t *testing.T) {
	url, _ := mustServeCORS(t, corsOrigin)
	doc := url + "/v1/collections/notes/docs/n1"
	resp := corsDo(t, http.MethodPut, doc, `{"a":1}`, "Origin", corsOrigin, "Authorization", "Bearer "+tokAdmin, "Content-Type", "application/json")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %d", resp.StatusCode)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != corsOrigin {
		t.Errorf("Access-Control-Allow-Origin %q, want %q", got, corsOrigin)
	}
	for _, h := range []string{"ETag", "Retry-After", "Location", "Truce-Merged", "Lock-Token", "X-Request-Id"} {
		if !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), h) {
			t.Errorf("Access-Control-Expose-Headers %q lacks %s", resp.Header.Get("Access-Control-Expose-Headers"), h)
		}
	}
	if !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Origin") {
		t.Errorf("Vary %q lacks Origin", resp.Header.Values("Vary"))
	}
	// A problem reaches the page too: without the header the browser would
	// hide the 401 and its code.
	unauth := corsDo(t, http.MethodGet, doc, "", "Origin", corsOrigin)
	if unauth.StatusCode != http.StatusUnauthorized || unauth.Header.Get("Access-Control-Allow-Origin") != corsOrigin {
		t.Errorf("GET without a token: %d, Access-Control-Allow-Origin %q", unauth.StatusCode, unauth.Header.Get("Access-Control-Allow-Origin"))
	}
	other := corsDo(t, http.MethodGet, doc, "", "Origin", "http://evil.example", "Authorization", "Bearer "+tokAdmin)
	if other.StatusCode != http.StatusOK || other.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("GET from an origin not allowed: %d, Access-Control-Allow-Origin %q", other.StatusCode, other.Header.Get("Access-Control-Allow-Origin"))
	}

	any, _ := mustServeCORS(t, "*")
	if got := corsDo(t, http.MethodGet, any+"/healthz", "", "Origin", "http://anywhere.example").Header.Get("Access-Control-Allow-Origin"); got != "http://anywhere.example" {
		t.Errorf("with * the origin is echoed; got %q", got)
	}
	none, _ := mustServeCORS(t)
	if got := corsDo(t, http.MethodGet, none+"/healthz", "", "Origin", corsOrigin).Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("without CORSOrigins: Access-Control-Allow-Origin %q", got)
	}
}

func TestCheckCORSOrigin(t *testing.T) {
	for o, ok := range map[string]bool{
		"*": true, "https://app.example.com": true, "http://127.0.0.1:8081": true,
		"https://app.example.com/": false, "app.example.com": false, "ftp://x": false, "https://x/path": false,
		"https://x?q": false, "": false,
	} {
		if err := trucehttp.CheckCORSOrigin(o); (err == nil) != ok {
			t.Errorf("CheckCORSOrigin(%q) = %v, want ok=%v", o, err, ok)
		}
	}
}
