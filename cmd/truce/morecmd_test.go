package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCLIList(t *testing.T) {
	srv := mustServeCLI(t)
	s := "--server=" + srv.URL
	for _, id := range []string{"b", "a", "c"} {
		mustTruce(t, `{"title":"`+id+`"}`, "put", "notes", id, s)
	}
	mustTruce(t, `{"title":"a2"}`, "put", "notes", "a", s)

	r := mustTruce(t, "", "list", "notes", s)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[0], "VERSION") ||
		!strings.Contains(lines[0], "UPDATED") || !strings.HasPrefix(lines[1], "a ") ||
		strings.Fields(lines[1])[1] != "2" || !strings.HasPrefix(lines[3], "c ") {
		t.Errorf("list:\n%s", r.stdout)
	}
	r = mustTruce(t, "", "list", "notes", "--limit", "2", "--json", s)
	lines = strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != 2 || jsonObject(t, lines[0])["title"] != "a2" || jsonObject(t, lines[1])["_id"] != "b" {
		t.Errorf("list --limit 2 --json:\n%s", r.stdout)
	}
	// An empty collection lists just the header; a missing one fails.
	mustTruce(t, `{}`, "collection", "put", "empty", s)
	r = mustTruce(t, "", "list", "empty", s)
	if strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("list of nothing:\n%s", r.stdout)
	}
	r = wantFail(t, 1, "", []string{"list", "nosuch", s}, "not_found")
	if r.stdout != "" {
		t.Errorf("list of a missing collection printed %q", r.stdout)
	}
	wantFail(t, 2, "", []string{"list", "notes", "--limit", "-1", s}, "--limit")
	wantFail(t, 2, "", []string{"list", s}, "accepts 1 arg(s)")
}

func TestCLIVersionAndRestore(t *testing.T) {
	srv := mustServeCLI(t)
	s := "--server=" + srv.URL
	for _, body := range []string{`{"title":"a"}`, `{"title":"b"}`, `{"title":"c"}`} {
		mustTruce(t, body, "put", "notes", "n1", s)
	}
	r := mustTruce(t, "", "version", "notes", "n1", "1", s)
	if m := jsonObject(t, r.stdout); m["title"] != "a" || m["_version"] != 1.0 || !strings.Contains(r.stderr, "notes/n1  version 1") {
		t.Errorf("version 1: %s / %s", r.stdout, r.stderr)
	}
	wantFail(t, 1, "", []string{"version", "notes", "n1", "9", s}, "HTTP 404")
	wantFail(t, 2, "", []string{"version", "notes", "n1", "zero", s}, "positive number")

	// A stale precondition is refused, with the way out.
	wantFail(t, 1, "", []string{"restore", "notes", "n1", "1", "--version", "2", s},
		"version_conflict", "now at version 3", "--version 3")
	r = mustTruce(t, "", "restore", "notes", "n1", "1", "--version", "3", s)
	if m := jsonObject(t, r.stdout); m["title"] != "a" || m["_version"] != 4.0 || !strings.Contains(r.stderr, "restored notes/n1  version 4") {
		t.Errorf("restore: %s / %s", r.stdout, r.stderr)
	}
	etag := etagRE.FindStringSubmatch(r.stderr)[1]
	r = mustTruce(t, "", "restore", "notes", "n1", "2", "--if-match", etag, "--json", s)
	if m := jsonObject(t, r.stdout); m["title"] != "b" || m["_version"] != 5.0 || r.stderr != "" {
		t.Errorf("restore --json: %s / %s", r.stdout, r.stderr)
	}
	wantFail(t, 1, "", []string{"restore", "notes", "n1", "1", "--if-match", etag, s}, "precondition_failed")

	// Restoring the tombstone deletes; a version of the deleted document
	// brings it back.
	mustTruce(t, "", "delete", "notes", "n1", s)
	r = mustTruce(t, "", "version", "notes", "n1", "6", s)
	if !strings.Contains(r.stderr, "(deleted) notes/n1  version 6") {
		t.Errorf("version of a tombstone: %s / %s", r.stdout, r.stderr)
	}
	r = mustTruce(t, "", "restore", "notes", "n1", "3", s)
	if jsonObject(t, r.stdout)["title"] != "c" {
		t.Errorf("restore of a deleted document: %s", r.stdout)
	}
	r = mustTruce(t, "", "restore", "notes", "n1", "6", s)
	if !strings.Contains(r.stdout, "which deleted it") {
		t.Errorf("restore of a tombstone: %q / %q", r.stdout, r.stderr)
	}
	wantFail(t, 1, "", []string{"get", "notes", "n1", s}, "not_found")
}

func TestCLICollections(t *testing.T) {
	srv := mustServeCLI(t)
	s := "--server=" + srv.URL

	r := mustTruce(t, "", "collection", "put", "users", "--unique", "email", "--require-preconditions",
		"--history-limit", "5", "--policy", "reject", s)
	m := jsonObject(t, r.stdout)
	if m["name"] != "users" {
		t.Errorf("collection put: %s", r.stdout)
	}
	st, _ := m["settings"].(map[string]any)
	if st["requirePreconditions"] != true || st["historyLimit"] != 5.0 || st["conflictPolicy"] != "reject" {
		t.Errorf("collection put settings: %s", r.stdout)
	}
	if u, _ := st["unique"].([]any); len(u) != 1 || u[0] != "email" {
		t.Errorf("collection put unique: %s", r.stdout)
	}

	// Settings from a file, a flag overriding; and from stdin.
	file := filepath.Join(t.TempDir(), "settings.json")
	if err := os.WriteFile(file, []byte(`{"conflictPolicy":"last-write-wins","historyLimit":3}`), 0o600); err != nil {
		t.Fatal(err)
	}
	r = mustTruce(t, "", "collection", "put", "notes", "-f", file, "--history-limit", "7", "--json", s)
	if strings.Count(r.stdout, "\n") != 1 || !strings.Contains(r.stdout, `"conflictPolicy":"last-write-wins"`) || !strings.Contains(r.stdout, `"historyLimit":7`) {
		t.Errorf("collection put -f: %s", r.stdout)
	}
	mustTruce(t, `{}`, "collection", "put", "scratch", s)
	wantFail(t, 2, `{"conflictPolicy":"merge","bogus":1}`, []string{"collection", "put", "x", s}, "bogus")
	wantFail(t, 2, "", []string{"collection", "put", "x", "--policy", "yolo", s}, "must be one of")
	wantFail(t, 1, `{"conflictPolicy":"sometimes"}`, []string{"collection", "put", "x", s}, "HTTP 4")

	// The table of collections with their counts.
	mustTruce(t, `{"title":"x"}`, "put", "scratch", "d1", s)
	mustTruce(t, `{"title":"y"}`, "put", "scratch", "d2", s)
	mustTruce(t, "", "delete", "scratch", "d2", s)
	r = mustTruce(t, "", "collections", s)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "NAME") || !strings.HasPrefix(lines[2], "scratch") {
		t.Fatalf("collections:\n%s", r.stdout)
	}
	if f := strings.Fields(lines[2]); f[1] != "1" || f[2] != "1" || f[3] != "reject" {
		t.Errorf("scratch row: %q", lines[2])
	}
	if f := strings.Fields(lines[1]); f[0] != "notes" || f[3] != "last-write-wins" {
		t.Errorf("notes row: %q", lines[1])
	}
	r = mustTruce(t, "", "collections", "--json", s)
	var cols []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &cols); err != nil || len(cols) != 3 {
		t.Errorf("collections --json: %s (%v)", r.stdout, err)
	}

	r = mustTruce(t, "", "collection", "get", "scratch", s)
	if c, _ := jsonObject(t, r.stdout)["counts"].(map[string]any); c["documents"] != 1.0 {
		t.Errorf("collection get: %s", r.stdout)
	}
	wantFail(t, 1, "", []string{"collection", "get", "nosuch", s}, "HTTP 404")

	// A collection with documents is deleted only with --force.
	wantFail(t, 1, "", []string{"collection", "delete", "scratch", s}, "not_empty", "--force")
	r = mustTruce(t, "", "collection", "delete", "scratch", "--force", s)
	if r.stdout != "deleted collection scratch\n" {
		t.Errorf("collection delete: %q", r.stdout)
	}
	wantFail(t, 1, "", []string{"get", "scratch", "d1", s}, "not_found")
	wantFail(t, 2, "", []string{"collection", s}, "subcommand")
	wantFail(t, 2, "", []string{"collection", "get", s}, "accepts 1 arg(s)")
}
