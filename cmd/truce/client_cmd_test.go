package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/trucedb/truce"
	trucehttp "github.com/trucedb/truce/http"
	"github.com/trucedb/truce/pebble"
)

// cliServer is a real truce server, started in this process, that
// records the Authorization header of the requests it serves.
type cliServer struct {
	URL string

	mu   sync.Mutex
	auth []string
}

func (s *cliServer) authorizations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auth...)
}

// mustServeCLI starts a truce server over a Pebble store in a temporary
// directory for the test.
func mustServeCLI(t *testing.T) *cliServer {
	t.Helper()
	store, err := pebble.Open(t.TempDir(), pebble.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	h := trucehttp.NewHandler(truce.NewService(store, truce.Options{}), trucehttp.Options{})
	s := &cliServer{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		srv.Close()
		if err := store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	s.URL = srv.URL
	return s
}

// result is the outcome of one truce command line.
type result struct {
	code           int
	stdout, stderr string
}

// truceCmd runs the truce command line args in this process, as main
// does, with stdin as its standard input, and returns its exit status and
// output. It replaces os.Stdin while it runs, so tests that use it must
// not run in parallel.
func truceCmd(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stdin")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(stdin); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	old := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = old }()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// mustTruce runs a command line that must succeed.
func mustTruce(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	r := truceCmd(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("truce %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// wantFail runs a command line that must exit with code and whose stderr
// must contain each of want.
func wantFail(t *testing.T, code int, stdin string, args []string, want ...string) result {
	t.Helper()
	r := truceCmd(t, stdin, args...)
	if r.code != code {
		t.Errorf("truce %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("truce %s: stderr lacks %q:\n%s", strings.Join(args, " "), w, r.stderr)
		}
	}
	return r
}

// jsonObject decodes one JSON object.
func jsonObject(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, s)
	}
	return m
}

var etagRE = regexp.MustCompile(`ETag ("[^"]+")`)

func TestCLIDocuments(t *testing.T) {
	srv := mustServeCLI(t)
	s := "--server=" + srv.URL
	file := filepath.Join(t.TempDir(), "note.json")
	if err := os.WriteFile(file, []byte(`{"title":"Groceries","items":["milk"]}`), 0o600); err != nil {
		t.Fatal(err)
	}

	// put from a file, create-only: the document on stdout, indented; its
	// version and ETag on stderr.
	r := mustTruce(t, "", "put", "notes", "n1", "-f", file, "--if-none-match", "*", s)
	if !strings.Contains(r.stdout, "\n  \"title\": \"Groceries\"") || jsonObject(t, r.stdout)["_version"] != 1.0 {
		t.Errorf("put stdout:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "stored notes/n1  version 1  ETag \"") {
		t.Errorf("put stderr: %s", r.stderr)
	}
	etag1 := etagRE.FindStringSubmatch(r.stderr)[1]

	// get: the same, and with --json one compact line and nothing on stderr.
	r = mustTruce(t, "", "get", "notes", "n1", s)
	if jsonObject(t, r.stdout)["title"] != "Groceries" || !strings.Contains(r.stderr, "notes/n1  version 1  ETag "+etag1) {
		t.Errorf("get: %s / %s", r.stdout, r.stderr)
	}
	r = mustTruce(t, "", "get", "notes", "n1", "--json", s)
	if strings.Count(r.stdout, "\n") != 1 || r.stderr != "" || jsonObject(t, r.stdout)["_id"] != "n1" {
		t.Errorf("get --json: %q / %q", r.stdout, r.stderr)
	}

	// put from stdin with --if-match, quoted or not.
	r = mustTruce(t, `{"title":"Shopping"}`, "put", "notes", "n1", "--if-match", etag1, s)
	etag2 := etagRE.FindStringSubmatch(r.stderr)[1]
	r = mustTruce(t, `{"title":"Shopping","items":["eggs"]}`, "put", "notes", "n1", "-f", "-", "--if-match", strings.Trim(etag2, `"`), "--json", s)
	if jsonObject(t, r.stdout)["_version"] != 3.0 {
		t.Errorf("put --json: %s", r.stdout)
	}
	mustTruce(t, `{"title":"Shopping","items":["eggs"]}`, "put", "notes", "n1", "--version", "3", s)

	// patch: merge by default, JSON Patch on request.
	r = mustTruce(t, `{"done":true}`, "patch", "notes", "n1", "--version", "4", s)
	if m := jsonObject(t, r.stdout); m["done"] != true || m["title"] != "Shopping" || m["_version"] != 5.0 {
		t.Errorf("patch --merge: %s", r.stdout)
	}
	r = mustTruce(t, `[{"op":"test","path":"/done","value":true},{"op":"remove","path":"/items"}]`,
		"patch", "notes", "n1", "--json-patch", "--json", s)
	if m := jsonObject(t, r.stdout); m["items"] != nil || m["_version"] != 6.0 {
		t.Errorf("patch --json-patch: %s", r.stdout)
	}

	// delete, then get fails with the problem's detail and code.
	r = mustTruce(t, "", "delete", "notes", "n1", "--version", "6", s)
	if r.stdout != "deleted notes/n1\n" {
		t.Errorf("delete: %q", r.stdout)
	}
	wantFail(t, 1, "", []string{"get", "notes", "n1", s}, "truce: ", "notes/n1", "(not_found, HTTP 404)")
	wantFail(t, 1, "", []string{"delete", "notes", "n1", s}, "not_found")
	r = mustTruce(t, `{"title":"Again"}`, "put", "notes", "n1", "--json", s)
	if jsonObject(t, r.stdout)["_version"] != 8.0 {
		t.Errorf("re-created: %s", r.stdout)
	}
	mustTruce(t, "", "delete", "notes", "n1", "--json", s)
	wantFail(t, 1, `{"title":`, []string{"put", "notes", "n2", s}, "invalid_json", "HTTP 400")
}

// A write that lost a race says what the document is now, what changed,
// and how to retry.
func TestCLIConflict(t *testing.T) {
	srv := mustServeCLI(t)
	s := "--server=" + srv.URL
	r := mustTruce(t, `{"title":"one"}`, "put", "notes", "n1", s)
	etag1 := etagRE.FindStringSubmatch(r.stderr)[1]
	r = mustTruce(t, `{"title":"two","done":true}`, "put", "notes", "n1", s)
	etag2 := etagRE.FindStringSubmatch(r.stderr)[1]

	wantFail(t, 1, `{"title":"mine"}`, []string{"put", "notes", "n1", "--if-match", etag1, s},
		"(precondition_failed, HTTP 412)", "notes/n1 is now at version 2, ETag "+etag2,
		"truce get notes n1", "--if-match '"+etag2+"'")
	wantFail(t, 1, `{"title":"mine"}`, []string{"put", "notes", "n1", "--version", "1", s},
		"(version_conflict, HTTP 409)", "now at version 2", "What changed since version 1:",
		`replace /title: "two"`, "add /done: true", "--version 2")
	wantFail(t, 1, `{"done":false}`, []string{"patch", "notes", "n1", "--version", "1", s},
		"version_conflict", "What changed since version 1:")
	wantFail(t, 1, "", []string{"delete", "notes", "n1", "--if-match", etag1, s},
		"precondition_failed", "--if-match '"+etag2+"'")
	wantFail(t, 1, `{"title":"x"}`, []string{"put", "notes", "n1", "--if-none-match", "*", s},
		"precondition_failed", "now at version 2")
	// Nothing was written.
	r = mustTruce(t, "", "get", "notes", "n1", "--json", s)
	if jsonObject(t, r.stdout)["_version"] != 2.0 {
		t.Errorf("the document moved: %s", r.stdout)
	}
}

func TestCLIHistoryAndDiff(t *testing.T) {
	srv := mustServeCLI(t)
	s := "--server=" + srv.URL
	for _, body := range []string{`{"title":"a"}`, `{"title":"b","tags":["x"]}`, `{"title":"c","tags":["x","y"]}`} {
		mustTruce(t, body, "put", "notes", "n1", s)
	}
	mustTruce(t, "", "delete", "notes", "n1", s)

	// Only the newest version says what the document is now.
	r := mustTruce(t, "", "history", "notes", "n1", s)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "VERSION") || !strings.HasPrefix(lines[1], "4 ") ||
		!strings.HasSuffix(lines[1], " deleted") || !strings.HasPrefix(lines[4], "1 ") || !strings.HasSuffix(lines[4], " -") ||
		strings.Contains(r.stdout, "live") {
		t.Errorf("history of a deleted document:\n%s", r.stdout)
	}
	r = mustTruce(t, "", "history", "notes", "n1", "--limit", "2", "--json", s)
	var versions []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &versions); err != nil || len(versions) != 2 ||
		versions[0]["version"] != 4.0 || versions[0]["deleted"] != true || versions[1]["etag"] == "" {
		t.Errorf("history --json --limit 2: %s (%v)", r.stdout, err)
	}
	wantFail(t, 1, "", []string{"history", "notes", "never", s}, "not_found")

	// Brought back: the newest is live, the delete stays a delete.
	mustTruce(t, `{"title":"d"}`, "put", "notes", "h2", s)
	mustTruce(t, "", "delete", "notes", "h2", s)
	mustTruce(t, `{"title":"e"}`, "put", "notes", "h2", s)
	r = mustTruce(t, "", "history", "notes", "h2", s)
	var states []string
	for _, line := range strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")[1:] {
		f := strings.Fields(line)
		states = append(states, f[0]+" "+f[len(f)-1])
	}
	if got := strings.Join(states, ", "); got != "3 live, 2 deleted, 1 -" {
		t.Errorf("history of a document brought back: %s\n%s", got, r.stdout)
	}

	r = mustTruce(t, "", "diff", "notes", "n1", "--from", "1", "--to", "3", s)
	if r.stdout != "replace /title: \"c\"\nadd /tags: [\"x\",\"y\"]\n" && r.stdout != "add /tags: [\"x\",\"y\"]\nreplace /title: \"c\"\n" {
		t.Errorf("diff 1 3:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "notes/n1 from version 1 to 3") {
		t.Errorf("diff stderr: %s", r.stderr)
	}
	r = mustTruce(t, "", "diff", "notes", "n1", "--from", "2", "--to", "2", s)
	if r.stdout != "no changes\n" {
		t.Errorf("diff 2 2: %q", r.stdout)
	}
	// The defaults: the last change, here the delete.
	r = mustTruce(t, "", "diff", "notes", "n1", "--json", s)
	var ops []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &ops); err != nil || len(ops) == 0 {
		t.Errorf("diff --json: %s (%v)", r.stdout, err)
	}
	found := false
	for _, op := range ops {
		if op["path"] == "/_deleted" {
			found = true
		}
	}
	if !found {
		t.Errorf("the last change (3 to 4) does not delete: %s", r.stdout)
	}
	wantFail(t, 1, "", []string{"diff", "notes", "n1", "--from", "1", "--to", "9", s}, "not_found")
}

// Bad usage exits 2 before anything is sent.
func TestCLIUsage(t *testing.T) {
	srv := mustServeCLI(t)
	s := "--server=" + srv.URL
	for _, tt := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", []string{"get", "notes", s}, "requires at least 2 arg(s)"},
		{"", []string{"delete", "notes", "n1", "extra", s}, "accepts 2 arg(s)"},
		{"", []string{"get", "notes", "n1", "--nosuch", s}, "unknown flag"},
		{"", []string{"put", "notes", "n1", "--version", "x", s}, "invalid argument"},
		{`{}`, []string{"put", "notes", "n1", "--version", "0", s}, "--version must be a positive"},
		{"", []string{"put", "notes", "n1", "-f", "/nonexistent/file.json", s}, "-f: open /nonexistent/file.json"},
		{"  \n", []string{"put", "notes", "n1", s}, "the body from stdin is empty"},
		{`{}`, []string{"patch", "notes", "n1", "--merge", "--json-patch", s}, "not both"},
		{"", []string{"history", "notes", "n1", "--limit", "-1", s}, "--limit"},
		{"", []string{"diff", "notes", "n1", "--from", "0", s}, "--from must be"},
		{"", []string{"get", "notes", "n1", "--server", "ftp://example.com"}, "--server"},
	} {
		r := wantFail(t, 2, tt.stdin, tt.args, tt.want)
		if r.code == 2 && !strings.Contains(r.stderr, "--help") {
			t.Errorf("truce %s: no hint to read the help:\n%s", strings.Join(tt.args, " "), r.stderr)
		}
	}
	if n := len(srv.authorizations()); n != 0 {
		t.Errorf("%d requests reached the server", n)
	}
	r := mustTruce(t, "", "put", "--help")
	if !strings.Contains(r.stdout, "--if-none-match") || !strings.Contains(r.stdout, "$TRUCE_URL") {
		t.Errorf("put --help:\n%s", r.stdout)
	}
}

// --server and --token default to $TRUCE_URL and $TRUCE_TOKEN.
func TestCLIEnvironment(t *testing.T) {
	srv := mustServeCLI(t)
	t.Setenv("TRUCE_URL", srv.URL)
	t.Setenv("TRUCE_TOKEN", "from-env")
	mustTruce(t, `{"a":1}`, "put", "c", "d")
	mustTruce(t, "", "get", "c", "d", "--token", "from-flag")
	if got := srv.authorizations(); len(got) != 2 || got[0] != "Bearer from-env" || got[1] != "Bearer from-flag" {
		t.Errorf("Authorization headers %q", got)
	}
}

func TestCLIUnreachable(t *testing.T) {
	// A port nobody listens on: take one, then free it.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	wantFail(t, 1, "", []string{"get", "notes", "n1", "--server", url}, "cannot reach the truce server at "+url, "--server")
}
