package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/trucedb/truce/internal/pgtest"
	"github.com/trucedb/truce/internal/testserver"
)

// seedExport fills a server with what an export must carry: settings
// (unique values, a reference into a collection that sorts after it),
// documents with several versions, a deletion in history, a document
// deleted for good.
func seedExport(t *testing.T, base string) {
	t.Helper()
	C := base + "/v1/collections/"
	mustDo(t, "PUT", C+"users", map[string]any{"unique": []string{"email"}}, http.StatusCreated)
	mustDo(t, "PUT", C+"posts", map[string]any{"references": map[string]string{"authorId": "users"}, "conflictPolicy": "merge"}, http.StatusCreated)
	for i := range 30 {
		id := fmt.Sprintf("u%02d", i)
		mustDo(t, "PUT", C+"users/docs/"+id, map[string]any{"email": id + "@example.com", "name": "Ünïcode " + id}, http.StatusCreated)
		if i%3 == 0 {
			mustDo(t, "PUT", C+"users/docs/"+id, map[string]any{"email": id + "@example.com", "name": "renamed"}, http.StatusOK)
		}
	}
	for i := range 30 {
		id := fmt.Sprintf("p%02d", i)
		mustDo(t, "PUT", C+"posts/docs/"+id, map[string]any{"authorId": fmt.Sprintf("u%02d", i%30), "title": "v1", "tags": []any{"a", 1.5, nil}}, http.StatusCreated)
		mustDo(t, "PUT", C+"posts/docs/"+id, map[string]any{"authorId": fmt.Sprintf("u%02d", i%30), "title": "v2", "n": i}, http.StatusOK)
	}
	// Deleted and re-created: a tombstone in the middle of its history.
	mustDo(t, "DELETE", C+"posts/docs/p00", nil, http.StatusNoContent)
	mustDo(t, "PUT", C+"posts/docs/p00", map[string]any{"authorId": "u01", "title": "again"}, http.StatusCreated)
	// Deleted for good: not in the export.
	mustDo(t, "DELETE", C+"posts/docs/p29", nil, http.StatusNoContent)
}

// TestExportImportRoundTrip: export --history from one server, import
// into a new Pebble server and a new PostgreSQL server; every document,
// every kept version and every collection's settings are equal, ETags
// name no two states, and a second import writes nothing.
func TestExportImportRoundTrip(t *testing.T) {
	bin := testserver.Build(t)
	src := testserver.Start(t, bin, t.TempDir())
	seedExport(t, src.URL)
	file := filepath.Join(t.TempDir(), "export.ndjson")
	out, errs, code := cli(t, bin, nil, "export", "--server", src.URL, "--history", "--out", file, "--json")
	if code != 0 {
		t.Fatalf("truce export: exit %d: %s", code, errs)
	}
	var sum map[string]any
	if err := json.Unmarshal([]byte(out), &sum); err != nil || sum["documents"] != float64(59) {
		t.Fatalf("export summary %q (%v): want 59 documents", out, err)
	}
	data, _ := os.ReadFile(file)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")

	pebbleDst := testserver.Start(t, bin, t.TempDir())
	pgDst := testserver.Start(t, bin, pgtest.Start(t))
	for _, dst := range []*testserver.Server{pebbleDst, pgDst} {
		out, errs, code := cli(t, bin, nil, "import", "--server", dst.URL, file, "--json")
		if code != 0 {
			t.Fatalf("truce import into %s: exit %d: %s", dst.URL, code, errs)
		}
		json.Unmarshal([]byte(out), &sum)
		if sum["lines"] != float64(len(lines)) || sum["unchanged"] != float64(0) {
			t.Errorf("import summary %s: want %d lines, none unchanged", out, len(lines))
		}
		compareServers(t, src.URL, dst.URL)
		last := changes(t, dst.URL)
		// Again: nothing new.
		out, errs, code = cli(t, bin, nil, "import", "--server", dst.URL, file, "--json")
		if code != 0 {
			t.Fatalf("truce import again: exit %d: %s", code, errs)
		}
		json.Unmarshal([]byte(out), &sum)
		if sum["imported"] != float64(0) {
			t.Errorf("the second import wrote %v versions: %s", sum["imported"], out)
		}
		if again := changes(t, dst.URL); len(again) != len(last) {
			t.Errorf("the second import added %d events", len(again)-len(last))
		}
	}
	// Into PostgreSQL, interrupted: the first half of the lines (whose
	// posts reference users that come later, so it fails), then all.
	half := filepath.Join(t.TempDir(), "half.ndjson")
	os.WriteFile(half, []byte(strings.Join(lines[:len(lines)/2], "\n")+"\n"), 0o644)
	pgHalf := testserver.Start(t, bin, pgtest.Start(t))
	if _, errs, code := cli(t, bin, nil, "import", "--server", pgHalf.URL, half); code != 1 || !strings.Contains(errs, "invalid_reference") {
		t.Errorf("import of the first half: exit %d: %s; want 1, invalid_reference", code, errs)
	}
	if _, errs, code := cli(t, bin, nil, "import", "--server", pgHalf.URL, file); code != 0 {
		t.Fatalf("truce import after the interrupted one: exit %d: %s", code, errs)
	}
	compareServers(t, src.URL, pgHalf.URL)

	// Without --history: the current documents, through a pipe.
	cur, errs, code := cli(t, bin, nil, "export", "--server", src.URL, "--collection", "users")
	if code != 0 {
		t.Fatalf("truce export --collection users: exit %d: %s", code, errs)
	}
	plain := testserver.Start(t, bin, t.TempDir())
	if _, errs, code := cli(t, bin, []byte(cur), "import", "--server", plain.URL, "-"); code != 0 {
		t.Fatalf("truce import -: exit %d: %s", code, errs)
	}
	for i := range 30 {
		path := fmt.Sprintf("/v1/collections/users/docs/u%02d", i)
		a := mustDo(t, "GET", src.URL+path, nil, http.StatusOK)
		b := mustDo(t, "GET", plain.URL+path, nil, http.StatusOK)
		if !reflect.DeepEqual(a.doc, b.doc) {
			t.Errorf("%s: imported %v, want %v", path, b.doc, a.doc)
		}
	}
	if r, _ := do(http.DefaultClient, "GET", plain.URL+"/v1/collections/posts", nil); r.status != http.StatusNotFound {
		t.Errorf("--collection users exported posts too: %d", r.status)
	}

	// A server over PostgreSQL does not back up: a clear refusal.
	_, errs, code = cli(t, bin, nil, "backup", "--server", pgDst.URL, "--to", filepath.Join(t.TempDir(), "b"))
	if code != 1 || !strings.Contains(errs, "backup_unsupported") || !strings.Contains(errs, "pg_dump") {
		t.Errorf("truce backup of a PostgreSQL server: exit %d, stderr %q", code, errs)
	}
	r := mustDo(t, "POST", pgDst.URL+"/v1/admin/backup", map[string]any{"to": filepath.Join(t.TempDir(), "b")}, http.StatusNotImplemented)
	if r.doc["code"] != "backup_unsupported" {
		t.Errorf("POST /v1/admin/backup on PostgreSQL: %s", r.raw)
	}
}

// compareServers checks that dst holds what src holds: the same
// collections with the same settings, the same live documents, and for
// each the same kept versions; and that dst's ETags name one state each.
func compareServers(t *testing.T, src, dst string) {
	t.Helper()
	for _, c := range []string{"users", "posts"} {
		a := mustDo(t, "GET", src+"/v1/collections/"+c, nil, http.StatusOK)
		b := mustDo(t, "GET", dst+"/v1/collections/"+c, nil, http.StatusOK)
		// counts.deleted differs: documents deleted for good are not
		// exported.
		ca, cb := a.doc["counts"].(map[string]any), b.doc["counts"].(map[string]any)
		if !reflect.DeepEqual(a.doc["settings"], b.doc["settings"]) || ca["documents"] != cb["documents"] {
			t.Errorf("collection %s: %s, want %s", c, b.raw, a.raw)
		}
		da := mustDo(t, "GET", src+"/v1/collections/"+c+"/docs?limit=1000", nil, http.StatusOK)
		db := mustDo(t, "GET", dst+"/v1/collections/"+c+"/docs?limit=1000", nil, http.StatusOK)
		if !reflect.DeepEqual(da.doc["items"], db.doc["items"]) {
			t.Errorf("collection %s: the documents differ:\n%s\nwant\n%s", c, db.raw, da.raw)
			continue
		}
		etags := map[string]string{}
		for _, it := range da.doc["items"].([]any) {
			id := it.(map[string]any)["_id"].(string)
			path := "/v1/collections/" + c + "/docs/" + id
			va := mustDo(t, "GET", src+path+"/versions", nil, http.StatusOK)
			vb := mustDo(t, "GET", dst+path+"/versions", nil, http.StatusOK)
			ia, ib := va.doc["items"].([]any), vb.doc["items"].([]any)
			if len(ia) != len(ib) {
				t.Errorf("%s: %d versions, want %d", path, len(ib), len(ia))
				continue
			}
			for i := range ia {
				n := int64(ia[i].(map[string]any)["version"].(float64))
				a := mustDo(t, "GET", fmt.Sprintf("%s%s/versions/%d", src, path, n), nil, http.StatusOK)
				b := mustDo(t, "GET", fmt.Sprintf("%s%s/versions/%d", dst, path, n), nil, http.StatusOK)
				if !reflect.DeepEqual(a.doc, b.doc) {
					t.Errorf("%s version %d: %s, want %s", path, n, b.raw, a.raw)
				}
				if prev, ok := etags[b.etag]; ok {
					t.Errorf("ETag %s names %s and %s version %d", b.etag, prev, path, n)
				}
				etags[b.etag] = fmt.Sprintf("%s version %d", path, n)
			}
		}
	}
}
