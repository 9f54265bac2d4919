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
