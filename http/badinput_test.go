package http_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trucedb/truce"
	trucehttp "github.com/trucedb/truce/http"
	"github.com/trucedb/truce/pebble"
)

// The bad-input matrix: malformed and hostile requests, each of which must
// get its documented 4xx problem (status and code), leave the server up,
// and change nothing: the change log's last seq and the collections stay
// as they were.

// hostile is a server as `truce serve` runs it (trucehttp.NewServer, so
// its header limit and timeouts), on 127.0.0.1, over a Pebble store that
// the test can read directly.
type hostile struct {
	client
	addr  string
	store *pebble.Store
}

func mustServeHostile(t *testing.T) *hostile {
	t.Helper()
	store, err := pebble.Open(t.TempDir(), pebble.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	svc := truce.NewService(store, truce.Options{MaxDocBytes: 64 << 10})
	srv := trucehttp.NewServer(trucehttp.NewHandler(svc, trucehttp.Options{}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		if err := store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	base := "http://" + ln.Addr().String()
	return &hostile{client: client{tb: t, base: base, hc: &http.Client{Timeout: 30 * time.Second,
		// A redirect is an answer too: the matrix sees it, not its target.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, addr: ln.Addr().String(), store: store}
}

// snapshot is what must not change: the last seq and the collections
// with their counts.
func (h *hostile) snapshot(t *testing.T) (int64, string) {
	t.Helper()
	var seq int64
	err := h.store.View(context.Background(), func(tx truce.ReadTx) error {
		var err error
		seq, err = tx.LastSeq()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	r := h.do("GET", "/v1/collections", nil).want(t, 200, "")
	return seq, string(r.Body)
}

type badCase struct {
	name    string
	method  string
	path    string
	body    string
	headers []string // "Name: value"; a body without Content-Type goes as application/json
	status  int
	code    string // "" when the answer is not the server's own (431 from net/http)
}

func badInputCases() []badCase {
	const doc = "/v1/collections/notes/docs/n1"
	const newDoc = "/v1/collections/notes/docs/n2"
	var cs []badCase
	add := func(name, method, path, body string, status int, code string, headers ...string) {
		cs = append(cs, badCase{name, method, path, body, headers, status, code})
	}

	// Bodies that are not JSON, on every write that takes a document.
	badJSON := map[string]string{
		"unclosed object":     `{`,
		"missing value":       `{"a":}`,
		"trailing comma":      `{"a":1,}`,
		"single quotes":       `{'a':1}`,
		"extra brace":         `{"a":1}}`,
		"two values":          `{"a":1} {"b":2}`,
		"bare word":           `nul`,
		"bad literal":         `{"a":tru}`,
		"control character":   "{\"a\":\"x\x01y\"}",
		"invalid UTF-8":       "{\"a\":\"\xff\xfe\"}",
		"leading zero":        `{"a":01}`,
		"bare fraction":       `{"a":.5}`,
		"bad exponent":        `{"a":1e}`,
		"NaN":                 `{"a":NaN}`,
		"Infinity":            `{"a":Infinity}`,
		"lone minus":          `{"a":-}`,
		"unclosed array":      `{"a":[1,2}`,
		"missing colon":       `{"a" 1}`,
		"number key":          `{1:2}`,
		"empty body":          ``,
		"whitespace only":     "  \n\t ",
		"duplicate keys":      `{"a":1,"a":2}`,
		"nested duplicates":   `{"x":{"a":1,"a":1}}`,
		"duplicate _id":       `{"_id":"n2","_id":"n2"}`,
		"huge number":         `{"a":1e400}`,
		"huge negative":       `{"a":-1e400}`,
		"400-digit integer":   `{"a":` + strings.Repeat("9", 400) + `}`,
		"deep arrays":         `{"a":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
		"deep objects":        strings.Repeat(`{"a":`, 1000) + `1` + strings.Repeat(`}`, 1000),
		"unterminated string": `{"a":"abc`,
		"bad escape":          `{"a":"\q"}`,
	}
	for name, b := range badJSON {
		add("PUT "+name, "PUT", newDoc, b, 400, "invalid_json")
		add("POST "+name, "POST", "/v1/collections/notes/docs", b, 400, "invalid_json")
	}
	for name, b := range map[string]string{"array": `[]`, "string": `"s"`, "number": `42`, "null": `null`, "true": `true`} {
		add("PUT a non-object: "+name, "PUT", newDoc, b, 400, "invalid_document")
	}

	// Reserved fields and preconditions in the body.
	add("_x field", "PUT", newDoc, `{"_x":1}`, 400, "reserved_field")
	add("_deleted field", "PUT", newDoc, `{"_deleted":true}`, 400, "reserved_field")
	add("_id of the wrong type", "PUT", newDoc, `{"_id":1}`, 400, "invalid_id")
	add("_id other than the URL's", "PUT", newDoc, `{"_id":"n3"}`, 400, "invalid_id")
	add("POST _id with a slash", "POST", "/v1/collections/notes/docs", `{"_id":"a/b"}`, 400, "invalid_id")
	add("POST _id ..", "POST", "/v1/collections/notes/docs", `{"_id":".."}`, 400, "invalid_id")
	add("POST _id too long", "POST", "/v1/collections/notes/docs", `{"_id":"`+strings.Repeat("x", 256)+`"}`, 400, "invalid_id")
	add("_version as a string", "PUT", doc, `{"_version":"1"}`, 400, "invalid_precondition")
	add("_version fractional", "PUT", doc, `{"_version":1.5}`, 400, "invalid_precondition")
	add("_version negative", "PUT", doc, `{"_version":-1}`, 400, "invalid_precondition")
	add("_version huge", "PUT", doc, `{"_version":99999999999999999999}`, 400, "invalid_precondition")
	add("_version on POST", "POST", "/v1/collections/notes/docs", `{"_version":1}`, 400, "invalid_precondition")
	add("POST an existing _id", "POST", "/v1/collections/notes/docs", `{"_id":"n1"}`, 409, "already_exists")

	// Entity tags that are not entity tags, in If-Match and If-None-Match.
	for _, tag := range []string{`abc`, `"abc`, `W/`, `"a" "b"`, `"a",`, `,"a"`, `*, "a"`, `w/"a"`, `"a b"`,
		strings.TrimSuffix(strings.Repeat(`"x",`, 65), ",")} {
		add("If-Match "+trunc(tag), "PUT", doc, `{"a":1}`, 400, "invalid_precondition", "If-Match: "+tag)
		add("If-None-Match "+trunc(tag), "PUT", newDoc, `{"a":1}`, 400, "invalid_precondition", "If-None-Match: "+tag)
	}
	add("If-Match on DELETE", "DELETE", doc, "", 400, "invalid_precondition", "If-Match: nope")
	add("stale If-Match", "PUT", doc, `{"a":1}`, 412, "precondition_failed", `If-Match: "9-zz"`)
	add("If-Match on a missing document", "PUT", newDoc, `{"a":1}`, 412, "precondition_failed", `If-Match: "1-1"`)
	add("If-None-Match * on a live document", "PUT", doc, `{"a":1}`, 412, "precondition_failed", "If-None-Match: *")
	add("stale _version", "PUT", doc, `{"a":1,"_version":7}`, 409, "version_conflict")
	add("_version on a missing document", "PUT", newDoc, `{"a":1,"_version":1}`, 404, "not_found")
	for _, v := range []string{"abc", "-1", "0", "1.5", "", "1e3", "99999999999999999999"} {
		add("DELETE ?version="+v, "DELETE", doc+"?version="+v, "", 400, "invalid_precondition")
	}
	add("DELETE ?version twice", "DELETE", doc+"?version=1&version=1", "", 400, "invalid_parameter")
	add("DELETE stale ?version", "DELETE", doc+"?version=5", "", 409, "version_conflict")
	add("DELETE a missing document", "DELETE", newDoc, "", 404, "not_found")

	// Ids and collection names in paths, plain and encoded.
	for _, id := range []string{"..%2F", "..%2Fetc", "%2e%2e", ".%2e", "a%2Fb", "a%20b", "a%00b", "%C3%A9", "%3Cscript%3E", "a%22b",
		strings.Repeat("x", 256), "a%5Cb"} {
		add("PUT id "+trunc(id), "PUT", "/v1/collections/notes/docs/"+id, `{"a":1}`, 400, "invalid_id")
		add("GET id "+trunc(id), "GET", "/v1/collections/notes/docs/"+id, "", 400, "invalid_id")
	}
	for _, c := range []string{"Notes", "_x", "-x", strings.Repeat("a", 64), "a.b", "%C3%A9", "a%2Fb", "a%20b"} {
		add("PUT into collection "+trunc(c), "PUT", "/v1/collections/"+c+"/docs/n1", `{"a":1}`, 400, "invalid_collection")
		add("PUT collection "+trunc(c), "PUT", "/v1/collections/"+c, `{}`, 400, "invalid_collection")
	}

	// Bodies over the limit (64 KiB documents, 128 KiB bodies).
	big := `{"a":"` + strings.Repeat("x", 200<<10) + `"}`
	add("body over the limit", "PUT", newDoc, big, 413, "too_large")
	add("POST body over the limit", "POST", "/v1/collections/notes/docs", big, 413, "too_large")
	add("document over the limit", "PUT", newDoc, `{"a":"`+strings.Repeat("x", 100<<10)+`"}`, 413, "too_large")

	// Media types.
	add("text/plain body", "PUT", newDoc, `{"a":1}`, 415, "unsupported_media_type", "Content-Type: text/plain")
	add("malformed Content-Type", "PUT", newDoc, `{"a":1}`, 415, "unsupported_media_type", "Content-Type: ;;;")
	add("form body", "POST", "/v1/collections/notes/docs", `a=1`, 415, "unsupported_media_type", "Content-Type: application/x-www-form-urlencoded")
	add("PATCH as application/json", "PATCH", doc, `{"a":1}`, 415, "unsupported_media_type")
	add("PATCH as text/plain", "PATCH", doc, `{"a":1}`, 415, "unsupported_media_type", "Content-Type: text/plain")

	// Patches.
	mp, jp := "Content-Type: application/merge-patch+json", "Content-Type: application/json-patch+json"
	add("merge patch not JSON", "PATCH", doc, `{`, 400, "invalid_json", mp)
	add("merge patch duplicate keys", "PATCH", doc, `{"a":1,"a":2}`, 400, "invalid_json", mp)
	add("merge patch an array", "PATCH", doc, `[1]`, 400, "invalid_patch", mp)
	add("merge patch a reserved field", "PATCH", doc, `{"_version":9}`, 400, "reserved_field", mp)
	add("JSON patch not an array", "PATCH", doc, `{"op":"add"}`, 400, "invalid_patch", jp)
	add("JSON patch unknown op", "PATCH", doc, `[{"op":"bogus","path":"/a"}]`, 400, "invalid_patch", jp)
	add("JSON patch without path", "PATCH", doc, `[{"op":"add","value":1}]`, 400, "invalid_patch", jp)
	add("JSON patch remove missing", "PATCH", doc, `[{"op":"remove","path":"/nope"}]`, 400, "invalid_patch", jp)
	add("JSON patch bad pointer", "PATCH", doc, `[{"op":"add","path":"a","value":1}]`, 400, "invalid_patch", jp)
	add("JSON patch a reserved field", "PATCH", doc, `[{"op":"replace","path":"/_version","value":9}]`, 400, "reserved_field", jp)
	add("JSON patch replace the root", "PATCH", doc, `[{"op":"replace","path":"","value":[]}]`, 400, "invalid_patch", jp)
	add("JSON patch failed test", "PATCH", doc, `[{"op":"test","path":"/title","value":"no"}]`, 409, "patch_test_failed", jp)
	add("PATCH a missing document", "PATCH", newDoc, `{"a":1}`, 404, "not_found", mp)

	// Query parameters that do not exist or are malformed.
	add("GET doc ?foo", "GET", doc+"?foo=1", "", 400, "invalid_parameter")
	add("PUT doc ?foo", "PUT", doc+"?foo=1", `{"a":1}`, 400, "invalid_parameter")
	add("PUT doc ?version (PUT takes _version)", "PUT", doc+"?force=true", `{"a":1}`, 400, "invalid_parameter")
	add("POST ?id", "POST", "/v1/collections/notes/docs?id=x", `{"a":1}`, 400, "invalid_parameter")
	add("malformed query", "PUT", doc+"?a=%zz", `{"a":1}`, 400, "invalid_parameter")
	for _, l := range []string{"abc", "0", "-1", "1.5", ""} {
		add("list ?limit="+l, "GET", "/v1/collections/notes/docs?limit="+l, "", 400, "invalid_parameter")
	}
	add("list ?limit over the maximum", "GET", "/v1/collections/notes/docs?limit=100000", "", 400, "invalid_parameter")
	add("list ?sort", "GET", "/v1/collections/notes/docs?sort=id", "", 400, "invalid_parameter")
	add("versions ?before=x", "GET", doc+"/versions?before=x", "", 400, "invalid_parameter")
	add("version 0", "GET", doc+"/versions/0", "", 400, "invalid_parameter")
	add("version abc", "GET", doc+"/versions/abc", "", 400, "invalid_parameter")
	add("diff ?from=x", "GET", doc+"/diff?from=x&to=1", "", 400, "invalid_parameter")
	add("restore version 0", "POST", doc+"/versions/0/restore", "", 400, "invalid_parameter")
	add("restore a version that never was", "POST", doc+"/versions/99/restore", "", 404, "not_found")
	add("DELETE collection ?force=maybe", "DELETE", "/v1/collections/notes?force=maybe", "", 400, "invalid_parameter")
	add("DELETE a non-empty collection", "DELETE", "/v1/collections/notes", "", 409, "not_empty")

	// Collection settings.
	for name, b := range map[string]string{
		"unknown policy":    `{"conflictPolicy":"nope"}`,
		"negative history":  `{"historyLimit":-1}`,
		"unknown setting":   `{"colour":"blue"}`,
		"bad schema":        `{"schema":{"type":12}}`,
		"bad reference":     `{"references":{"a":"Bad Name"}}`,
		"unique not a list": `{"unique":"email"}`,
		"settings not JSON": `{`,
	} {
		code := "invalid_settings"
		if name == "settings not JSON" {
			code = "invalid_json"
		}
		add("collection "+name, "PUT", "/v1/collections/settings", b, 400, code)
	}

	// Methods and paths that do not exist.
	add("POST on a document", "POST", doc, `{"a":1}`, 405, "method_not_allowed")
	add("PUT on the document list", "PUT", "/v1/collections/notes/docs", `{"a":1}`, 405, "method_not_allowed")
	add("DELETE all collections", "DELETE", "/v1/collections", "", 405, "method_not_allowed")
	add("PATCH a collection", "PATCH", "/v1/collections/notes", `{}`, 405, "method_not_allowed", mp)
	add("PUT on versions", "PUT", doc+"/versions/1", `{}`, 405, "method_not_allowed")
	add("empty id segment", "PUT", "/v1/collections/notes/docs//n1", `{"a":1}`, 400, "invalid_id")
	add("empty collection segment", "PUT", "/v1//collections/notes/docs/n1", `{"a":1}`, 400, "invalid_id")
	add("encoded slash next to a slash", "DELETE", "/v1/collections/notes/docs/%2Fn1", "", 400, "invalid_id")
	add("unknown path", "GET", "/v1/nope", "", 404, "not_found")
	add("unknown version of the API", "PUT", "/v2/collections/notes/docs/n1", `{"a":1}`, 404, "not_found")

	// Headers.
	add("header far too long", "PUT", doc, `{"a":1}`, 431, "", "X-Junk: "+strings.Repeat("x", 100<<10))
	add("Idempotency-Key too long", "PUT", newDoc, `{"a":1}`, 400, "invalid_idempotency_key", "Idempotency-Key: "+strings.Repeat("k", 300))
	add("Idempotency-Key not ASCII", "PUT", newDoc, `{"a":1}`, 400, "invalid_idempotency_key", "Idempotency-Key: clé")

	// Conflicts that do not exist.
	add("resolve a missing conflict", "POST", "/v1/conflicts/nope/resolve", `{"strategy":"keep-current"}`, 404, "not_found")
	add("dismiss a missing conflict", "POST", "/v1/conflicts/nope/dismiss", "", 404, "not_found")
	return cs
}

func trunc(s string) string {
	if len(s) > 24 {
		return s[:24] + "…"
	}
	return s
}

func TestBadInputMatrix(t *testing.T) {
	h := mustServeHostile(t)
	h.do("PUT", "/v1/collections/notes/docs/n1", `{"title":"t"}`).want(t, 201, "")
	h.do("PUT", "/v1/collections/settings", `{}`).want(t, 201, "")
	seq, colls := h.snapshot(t)

	cases := badInputCases()
	if len(cases) < 100 {
		t.Fatalf("only %d cases; the matrix promises at least 100", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.send(t, tc)
			if r.Status != tc.status {
				t.Fatalf("%s %s: status %d, want %d: %.300s", tc.method, trunc(tc.path), r.Status, tc.status, r.Body)
			}
			if tc.code != "" {
				r.want(t, tc.status, tc.code)
			}
			h.do("GET", "/healthz", nil).want(t, 200, "")
			if s, c := h.snapshot(t); s != seq || c != colls {
				t.Fatalf("the request changed the store: seq %d -> %d, collections %s -> %s", seq, s, colls, c)
			}
		})
	}
	t.Logf("%d malformed or hostile requests, each answered with its problem, nothing changed", len(cases))
}

// send sends a case with a plain net/http client, which sends paths as
// given (no cleaning, no re-encoding).
func (h *hostile) send(t *testing.T, tc badCase) *response {
	t.Helper()
	var rd io.Reader
	if tc.body != "" {
		rd = strings.NewReader(tc.body)
	}
	req, err := http.NewRequest(tc.method, h.base+tc.path, rd)
	if err != nil {
		t.Fatalf("build request: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, hd := range tc.headers {
		name, value, _ := strings.Cut(hd, ":")
		req.Header.Set(name, strings.TrimSpace(value))
	}
	resp, err := h.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", tc.method, trunc(tc.path), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Hostile clients below the HTTP client's manners: a body that trickles in
// and is malformed, a body cut off before its Content-Length, raw garbage.
func TestBadInputRawConnections(t *testing.T) {
	h := mustServeHostile(t)
	h.do("PUT", "/v1/collections/notes/docs/n1", `{"title":"t"}`).want(t, 201, "")
	seq, colls := h.snapshot(t)
	unchanged := func(t *testing.T) {
		t.Helper()
		h.do("GET", "/healthz", nil).want(t, 200, "")
		if s, c := h.snapshot(t); s != seq || c != colls {
			t.Fatalf("the store changed: seq %d -> %d, collections %s -> %s", seq, s, colls, c)
		}
	}

	t.Run("slow malformed body", func(t *testing.T) {
		body := `{"title":"slow","n":` // never completed
		conn := h.dial(t)
		fmt.Fprintf(conn, "PUT /v1/collections/notes/docs/n2 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
		for i := range len(body) {
			conn.Write([]byte{body[i]})
			time.Sleep(10 * time.Millisecond)
		}
		resp := readResponse(t, conn)
		if resp.Status != 400 {
			t.Fatalf("status %d, want 400: %s", resp.Status, resp.Body)
		}
		resp.want(t, 400, "invalid_json")
		unchanged(t)
	})
	t.Run("body cut off", func(t *testing.T) {
		conn := h.dial(t)
		fmt.Fprintf(conn, "PUT /v1/collections/notes/docs/n3 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"title\":")
		time.Sleep(50 * time.Millisecond)
		conn.Close()
		time.Sleep(50 * time.Millisecond)
		unchanged(t)
	})
	t.Run("chunked body over the limit", func(t *testing.T) {
		conn := h.dial(t)
		fmt.Fprintf(conn, "PUT /v1/collections/notes/docs/n4 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
		chunk := strings.Repeat("x", 32<<10)
		start := `{"a":"`
		fmt.Fprintf(conn, "%x\r\n%s\r\n", len(start), start)
		for range 6 {
			if _, err := fmt.Fprintf(conn, "%x\r\n%s\r\n", len(chunk), chunk); err != nil {
				break // the server may close once it has seen enough
			}
		}
		fmt.Fprintf(conn, "3\r\n\"}\n\r\n0\r\n\r\n")
		resp := readResponse(t, conn)
		resp.want(t, 413, "too_large")
		unchanged(t)
	})
	t.Run("garbage request line", func(t *testing.T) {
		conn := h.dial(t)
		conn.Write([]byte("\x00\x01\x02 nonsense\r\n\r\n"))
		resp := readResponse(t, conn)
		if resp.Status != 400 {
			t.Fatalf("status %d, want 400", resp.Status)
		}
		unchanged(t)
	})
}

func (h *hostile) dial(t *testing.T) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", h.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { conn.Close() })
	return conn
}

func readResponse(t *testing.T, conn net.Conn) *response {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: bytes.TrimSpace(b)}
}
