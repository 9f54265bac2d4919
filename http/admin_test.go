package http_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/trucedb/truce/backup"
	trucehttp "github.com/trucedb/truce/http"
)

// TestBackupRoute: POST /v1/admin/backup writes a backup that Verify
// accepts and answers its manifest; a bad request is a problem and writes
// nothing.
func TestBackupRoute(t *testing.T) {
	c := mustServe(t)
	for i := range 20 {
		c.do("PUT", "/v1/collections/notes/docs/n"+string(rune('a'+i)), `{"title":"x"}`).want(t, http.StatusCreated, "")
	}
	dir := filepath.Join(t.TempDir(), "b1")
	r := c.do("POST", "/v1/admin/backup", map[string]any{"to": dir}).want(t, http.StatusOK, "")
	m := r.JSON(t)
	if m["seq"] != float64(20) || m["store"] != "pebble" || m["dir"] != dir {
		t.Errorf("manifest %s: want seq 20, store pebble, dir %s", r.Body, dir)
	}
	got, err := backup.Verify(dir, nil)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got.Seq != 20 || len(got.Files) == 0 || got.Files[0].SHA256 == "" {
		t.Errorf("manifest on disk: %+v", got)
	}

	nonEmpty := t.TempDir()
	os.WriteFile(filepath.Join(nonEmpty, "x"), nil, 0o644)
	for _, tc := range []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"relative", map[string]any{"to": "backups/b"}, 400, "invalid_backup_target"},
		{"missing", map[string]any{}, 400, "invalid_backup_target"},
		{"not empty", map[string]any{"to": nonEmpty}, 400, "invalid_backup_target"},
		{"the same again", map[string]any{"to": dir}, 400, "invalid_backup_target"},
		{"unknown member", map[string]any{"to": filepath.Join(t.TempDir(), "x"), "from": "y"}, 400, "invalid_json"},
		{"not an object", `["/tmp/x"]`, 400, "invalid_json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.do("POST", "/v1/admin/backup", tc.body).want(t, tc.status, tc.code)
		})
	}
	if ents, _ := os.ReadDir(nonEmpty); len(ents) != 1 {
		t.Errorf("a refused backup wrote into %s: %v", nonEmpty, ents)
	}
	if _, err := os.Stat(filepath.Join("backups", "b")); err == nil {
		t.Errorf("a relative target was written")
	}
	c.do("POST", "/v1/admin/backup", `{"to":"/x"}`, "Content-Type: text/plain").want(t, http.StatusUnsupportedMediaType, "unsupported_media_type")
}

// TestBackupNeedsAdmin: only an admin token may back the store up.
func TestBackupNeedsAdmin(t *testing.T) {
	s := mustAuthServer(t, trucehttp.Options{})
	dir := filepath.Join(t.TempDir(), "b")
	body := `{"to":"` + dir + `"}`
	s.send("POST", "/v1/admin/backup", "", body).want(t, http.StatusUnauthorized, "unauthorized")
	s.send("POST", "/v1/admin/backup", tokWriter, body).want(t, http.StatusForbidden, "forbidden")
	if _, err := os.Stat(dir); err == nil {
		t.Fatalf("a refused backup created %s", dir)
	}
	s.send("POST", "/v1/admin/backup", tokAdmin, body).want(t, http.StatusOK, "")
	if _, err := backup.Verify(dir, nil); err != nil {
		t.Fatal(err)
	}
}

// TestImportRoute: POST /v1/admin/import writes an export line with its
// version and times; a rerun changes nothing; a clash is import_conflict;
// a bad line is a problem that writes nothing.
func TestImportRoute(t *testing.T) {
	c := mustServe(t)
	line := `{"_collection":"notes","_id":"n1","_version":3,"_createdAt":"2026-01-01T00:00:00Z","_updatedAt":"2026-01-02T00:00:00Z","_updatedBy":"ann","title":"x"}`
	r := c.do("POST", "/v1/admin/import", line).want(t, http.StatusCreated, "")
	d := r.JSON(t)
	if d["_version"] != float64(3) || d["_updatedAt"] != "2026-01-02T00:00:00.000Z" || d["_updatedBy"] != "ann" || d["title"] != "x" {
		t.Errorf("imported %s", r.Body)
	}
	etag := r.Header.Get("ETag")
	again := c.do("POST", "/v1/admin/import", line).want(t, http.StatusOK, "")
	if again.Header.Get("Truce-Import") != "unchanged" || again.Header.Get("ETag") != etag {
		t.Errorf("import again: Truce-Import %q, ETag %q (want unchanged, %s)", again.Header.Get("Truce-Import"), again.Header.Get("ETag"), etag)
	}
	got := c.do("GET", "/v1/collections/notes/docs/n1", nil).want(t, http.StatusOK, "")
	if got.Header.Get("ETag") != etag {
		t.Errorf("GET: ETag %s, want %s", got.Header.Get("ETag"), etag)
	}
	clash := `{"_collection":"notes","_id":"n1","_version":3,"_createdAt":"2026-01-01T00:00:00Z","_updatedAt":"2026-01-02T00:00:00Z","title":"y"}`
	c.do("POST", "/v1/admin/import", clash).want(t, http.StatusConflict, "import_conflict")
	c.do("POST", "/v1/admin/import", `{"_collection":"notes","_id":"n2","_version":1}`).want(t, http.StatusBadRequest, "invalid_document")
	c.do("POST", "/v1/admin/import", `{"_collection":"no/pe","_id":"n2","_version":1,"_createdAt":"2026-01-01T00:00:00Z","_updatedAt":"2026-01-02T00:00:00Z"}`).want(t, http.StatusBadRequest, "invalid_collection")
	c.do("GET", "/v1/collections/notes/docs/n2", nil).want(t, http.StatusNotFound, "not_found")
	if v := c.do("GET", "/v1/collections/notes/docs/n1", nil).JSON(t)["title"]; v != "x" {
		t.Errorf("a refused import changed notes/n1: title %v", v)
	}
}

// TestImportNeedsAdmin: a write token may not import.
func TestImportNeedsAdmin(t *testing.T) {
	s := mustAuthServer(t, trucehttp.Options{})
	line := `{"_collection":"orders","_id":"i1","_version":1,"_createdAt":"2026-01-01T00:00:00Z","_updatedAt":"2026-01-02T00:00:00Z"}`
	s.send("POST", "/v1/admin/import", tokWriter, line).want(t, http.StatusForbidden, "forbidden")
	s.send("POST", "/v1/admin/import", tokAdmin, line).want(t, http.StatusCreated, "")
}
