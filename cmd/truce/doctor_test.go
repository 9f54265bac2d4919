package main_test

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/trucedb/truce/internal/testserver"
)

// TestDoctor checks a data directory that a real server wrote: refused
// while the server holds it, clean once it stopped, and each record
// corrupted afterwards (directly with Pebble) reported, with exit 1.
func TestDoctor(t *testing.T) {
	bin := testserver.Build(t)
	dir := t.TempDir()
	srv := testserver.Start(t, bin, dir)
	for _, args := range [][]string{
		{"collection", "put", "users", "--unique", "email", "--ttl", "1h"},
		{"collection", "put", "posts", "--reference", "author=users", "--index", "author"},
	} {
		if code, _, stderr := runTruce(t, bin, append(args, "--server", srv.URL)...); code != 0 {
			t.Fatalf("truce %s: exit %d: %s", strings.Join(args, " "), code, stderr)
		}
	}
	for i, w := range []struct{ c, id, body string }{
		{"users", "ann", `{"email":"ann@x"}`}, {"users", "bob", `{"email":"bob@x"}`}, {"posts", "p1", `{"author":"ann"}`},
		{"posts", "p1", `{"author":"bob"}`},
	} {
		file := filepath.Join(t.TempDir(), fmt.Sprint(i, ".json"))
		if err := os.WriteFile(file, []byte(w.body), 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := runTruce(t, bin, "put", w.c, w.id, "-f", file, "--server", srv.URL)
		if code != 0 {
			t.Fatalf("put %s/%s: exit %d: %s", w.c, w.id, code, stderr)
		}
	}
	code, stdout, stderr := runTruce(t, bin, "doctor", "--data", dir)
	if code != 1 || !strings.Contains(stderr, "in use by another process") || stdout != "" {
		t.Fatalf("doctor beside a running server: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	srv.Stop()

	code, stdout, stderr = runTruce(t, bin, "doctor", "--data", dir)
	if code != 0 || !strings.Contains(stdout, "checked 2 collections, 3 documents, 4 versions") || !strings.HasSuffix(stdout, "no problems\n") {
		t.Fatalf("doctor of a clean directory: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}

	db, err := pebble.Open(dir, &pebble.Options{FormatMajorVersion: pebble.FormatNewest, Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	// A unique-index entry that no document implies, and a version of p1
	// lost from its history.
	key := binary.AppendUvarint([]byte("u\x00users\x00"), uint64(len("email")))
	key = append(append(key, "email"...), `"eve@x"`...)
	if err := db.Set(key, []byte("eve"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Delete(binary.BigEndian.AppendUint64([]byte("v\x00posts\x00p1\x00"), 1), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runTruce(t, bin, "doctor", "--data", dir)
	for _, want := range []string{
		`problem: unique index of users: an entry`,
		`problem: posts/p1 version 1 (event `,
		"2 problems\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("doctor of a corrupted directory: stdout lacks %q", want)
		}
	}
	if code != 1 || !strings.Contains(stderr, "has 2 problems") {
		t.Errorf("doctor of a corrupted directory: exit %d, stderr %s", code, stderr)
	}
	if t.Failed() {
		t.Logf("stdout:\n%s", stdout)
	}
	if code, _, stderr := runTruce(t, bin, "doctor", "--data", t.TempDir()); code != 1 || !strings.Contains(stderr, "holds no truce data") {
		t.Errorf("doctor of an empty directory: exit %d, stderr %s", code, stderr)
	}
}

// quietLogger keeps Pebble's replay messages out of the test's output.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)              {}
func (quietLogger) Errorf(string, ...any)             {}
func (quietLogger) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
