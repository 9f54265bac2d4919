package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trucedb/truce/internal/testserver"
)

// The client commands of the built binary against a `truce serve`
// process: the exit statuses that scripts rely on.
func TestClientCommandsBinary(t *testing.T) {
	bin := testserver.Build(t)
	srv := testserver.Start(t, bin, t.TempDir())
	body := filepath.Join(t.TempDir(), "doc.json")
	if err := os.WriteFile(body, []byte(`{"title":"hello"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args   []string
		code   int
		stdout string // a substring of stdout
		stderr string // a substring of stderr
	}{
		{[]string{"put", "notes", "n1", "-f", body, "--if-none-match", "*"}, 0, `"title": "hello"`, "stored notes/n1  version 1"},
		{[]string{"get", "notes", "n1", "--json"}, 0, `"_version":1,`, ""},
		{[]string{"put", "notes", "n2", "-f", body}, 0, `"title": "hello"`, "stored notes/n2  version 1"},
		{[]string{"get", "notes", "n2", "n1"}, 0, `"_id": "n1"`, "notes/n1  version 1  ETag"},
		{[]string{"get", "notes", "n1", "nope", "n2", "--json"}, 1, `,null,`, "1 of 3 ids have no live document in notes: nope"},
		{[]string{"get", "notes", "n1", "bad/id"}, 1, "", "(invalid_id, HTTP 400)"},
		{[]string{"put", "notes", "n1", "-f", body, "--if-none-match", "*"}, 1, "", "(precondition_failed, HTTP 412)"},
		{[]string{"put", "notes", "n1", "-f", body, "--version", "7"}, 1, "", "(version_conflict, HTTP 409)"},
		{[]string{"history", "notes", "n1"}, 0, "VERSION", ""},
		{[]string{"delete", "notes", "n1"}, 0, "deleted notes/n1", ""},
		{[]string{"get", "notes", "n1"}, 1, "", "(not_found, HTTP 404)"},
		{[]string{"get", "notes"}, 2, "", "requires at least 2 arg(s)"},
		{[]string{"get", "notes", "n1", "--bogus"}, 2, "", "unknown flag"},
		{[]string{"list", "notes"}, 0, "ID", ""},
		{[]string{"version", "notes", "n1", "1", "--json"}, 0, `"title":"hello"`, ""},
		{[]string{"restore", "notes", "n1", "1", "--version", "1"}, 1, "", "(not_found, HTTP 404)"},
		{[]string{"restore", "notes", "n1", "1"}, 0, `"_version": 3`, "restored notes/n1  version 3"},
		{[]string{"collections"}, 0, "notes", ""},
		{[]string{"collection", "put", "users", "--unique", "email"}, 0, `"email"`, ""},
		{[]string{"collection", "get", "users", "--json"}, 0, `"name":"users"`, ""},
		{[]string{"collection", "put", "sessions", "--ttl", "36h"}, 0, `"ttl": "36h0m0s"`, ""},
		{[]string{"put", "sessions", "s1", "-f", body}, 0, `"_expiresAt": "`, ""},
		{[]string{"collection", "put", "sessions", "--ttl", "1ms"}, 1, "", "(invalid_settings, HTTP 400)"},
		{[]string{"collection", "delete", "notes"}, 1, "", "--force"},
		{[]string{"collection", "delete", "notes", "--force"}, 0, "deleted collection notes", ""},
		{[]string{"collection", "get"}, 2, "", "accepts 1 arg(s)"},
	} {
		args := append(tt.args, "--server", srv.URL)
		code, stdout, stderr := runTruce(t, bin, args...)
		if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("truce %s: exit %d, want %d (stdout containing %q, stderr containing %q)\nstdout: %s\nstderr: %s",
				strings.Join(tt.args, " "), code, tt.code, tt.stdout, tt.stderr, stdout, stderr)
		}
	}
}
