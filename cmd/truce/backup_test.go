package main_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trucedb/truce/internal/testserver"
)

// cli runs the truce binary bin with args and returns its stdout, stderr
// and exit status.
func cli(t *testing.T, bin string, stdin []byte, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), errb.String(), 0
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitCode()
	}
	t.Fatalf("run truce %v: %v", args, err)
	return "", "", -1
}

// TestBackupRestoreCLIUnderWrites: 'truce backup' of a server that writers
// keep changing, 'truce restore' into a new directory, and a server on it
// answers as the original did at the backup's seq: the same events, and
// every document the same (body, version and ETag) as the original's
// version of it at that seq.
func TestBackupRestoreCLIUnderWrites(t *testing.T) {
	bin := testserver.Build(t)
	orig := testserver.Start(t, bin, t.TempDir())
	mustDo(t, "PUT", orig.URL+"/v1/collections/manual", map[string]any{"conflictPolicy": "manual"}, http.StatusCreated)
	mustDo(t, "PUT", orig.URL+"/v1/collections/manual/docs/m", map[string]any{"t": "a"}, http.StatusCreated)
	mustDo(t, "PUT", orig.URL+"/v1/collections/manual/docs/m", map[string]any{"t": "b"}, http.StatusOK)
	mustDo(t, "PUT", orig.URL+"/v1/collections/manual/docs/m", map[string]any{"t": "c", "_version": 1}, http.StatusConflict)

	var stop atomic.Bool
	var writes atomic.Int64
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				url := fmt.Sprintf("%s/v1/collections/load/docs/w%d-%d", orig.URL, w, i%25)
				r, err := do(http.DefaultClient, "PUT", url, map[string]any{"i": i, "w": w})
				if err != nil || r.status >= 300 {
					t.Errorf("PUT %s: %v %v", url, err, r)
					return
				}
				writes.Add(1)
			}
		})
	}
	for writes.Load() < 200 && !t.Failed() {
		time.Sleep(time.Millisecond)
	}
	dir := filepath.Join(t.TempDir(), "backup")
	out, errs, code := cli(t, bin, nil, "backup", "--server", orig.URL, "--to", dir, "--json")
	before := writes.Load()
	for writes.Load() < before+100 && !t.Failed() {
		time.Sleep(time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if code != 0 {
		t.Fatalf("truce backup: exit %d: %s", code, errs)
	}
	var m struct {
		Seq   int64 `json:"seq"`
		Files []any `json:"files"`
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil || m.Seq == 0 || len(m.Files) == 0 {
		t.Fatalf("truce backup --json printed %q (%v)", out, err)
	}

	data := filepath.Join(t.TempDir(), "restored")
	if _, errs, code := cli(t, bin, nil, "restore", "--from", dir, "--data", data, "--json"); code != 0 {
		t.Fatalf("truce restore: exit %d: %s", code, errs)
	}
	restored := testserver.Start(t, bin, data)

	// The events: the restored server's are the original's up to seq.
	want := changes(t, orig.URL)
	got := changes(t, restored.URL)
	var upTo []map[string]any
	for _, e := range want {
		if int64(e["seq"].(float64)) <= m.Seq {
			upTo = append(upTo, e)
		}
	}
	if len(upTo) < 200 || len(want) == len(upTo) {
		t.Fatalf("the backup at seq %d holds %d of the original's %d events; writes did not go on during it", m.Seq, len(upTo), len(want))
	}
	if !reflect.DeepEqual(upTo, got) {
		t.Errorf("the restored server's events differ from the original's up to seq %d: %d events, want %d", m.Seq, len(got), len(upTo))
	}
	// Every document the events name: the restored current version is the
	// original's version of that number, ETag and all.
	seen := map[string]bool{}
	for _, e := range upTo {
		c, id := e["collection"], e["id"]
		if c == nil || id == nil || seen[fmt.Sprint(c, "/", id)] {
			continue
		}
		seen[fmt.Sprint(c, "/", id)] = true
		path := fmt.Sprintf("/v1/collections/%s/docs/%s", c, id)
		r, err := do(http.DefaultClient, "GET", restored.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.status != http.StatusOK {
			t.Fatalf("GET %s on the restored server: %d %s", path, r.status, r.raw)
		}
		o := mustDo(t, "GET", fmt.Sprintf("%s%s/versions/%d", orig.URL, path, version(r.doc)), nil, http.StatusOK)
		if r.etag != o.etag || !reflect.DeepEqual(r.doc, o.doc) {
			t.Errorf("%s: restored %s %v, the original's version has %s %v", path, r.etag, r.doc, o.etag, o.doc)
		}
	}
	cs := mustDo(t, "GET", restored.URL+"/v1/conflicts?status=open", nil, http.StatusOK)
	if items, _ := cs.doc["items"].([]any); len(items) != 1 {
		t.Errorf("the restored server has %d open conflicts, want 1: %s", len(items), cs.raw)
	}

	// A corrupt file: the restore refuses it and writes nothing.
	var target string
	filepath.WalkDir(filepath.Join(dir, "data"), func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".log") {
			target = p
		}
		return nil
	})
	if target == "" {
		t.Fatal("no .log file in the backup")
	}
	b, _ := os.ReadFile(target)
	b[len(b)-10] ^= 0xff
	os.Remove(target) // it may be a hard link
	os.WriteFile(target, b, 0o644)
	again := filepath.Join(t.TempDir(), "again")
	_, errs, code = cli(t, bin, nil, "restore", "--from", dir, "--data", again)
	if code != 1 || !strings.Contains(errs, "does not match its manifest") || !strings.Contains(errs, filepath.Base(target)) {
		t.Errorf("restore of a corrupt backup: exit %d, stderr %q; want 1 naming %s", code, errs, filepath.Base(target))
	}
	if _, err := os.Stat(again); err == nil {
		t.Errorf("the refused restore created %s", again)
	}
	// A non-empty target is refused before anything is read.
	_, errs, code = cli(t, bin, nil, "restore", "--from", dir, "--data", data)
	if code != 1 || !strings.Contains(errs, "not empty") {
		t.Errorf("restore into a used directory: exit %d, stderr %q", code, errs)
	}
	orig.Stop()
	restored.Stop()
}

// changes returns every event of the server, from the start.
func changes(t *testing.T, base string) []map[string]any {
	t.Helper()
	var all []map[string]any
	since := int64(0)
	for {
		r := mustDo(t, "GET", fmt.Sprintf("%s/v1/changes?since=%d&limit=1000", base, since), nil, http.StatusOK)
		items, _ := r.doc["items"].([]any)
		for _, it := range items {
			all = append(all, it.(map[string]any))
		}
		if len(items) == 0 {
			return all
		}
		since = int64(r.doc["last"].(float64))
	}
}

// TestBackupKilledLeavesHealthyServerAndRefusedBackup: the server is
// killed with SIGKILL while it writes a backup. It restarts healthy, with
// its data, and 'truce restore' refuses the partial backup, which is
// marked INCOMPLETE.
func TestBackupKilledLeavesHealthyServerAndRefusedBackup(t *testing.T) {
	bin := testserver.Build(t)
	data := t.TempDir()
	srv := testserver.Start(t, bin, data)
	// Enough data that writing a backup takes a while: checksumming it
	// reads every byte.
	pad := strings.Repeat("x", 8<<10)
	for b := range 40 {
		var ops []map[string]any
		for i := range 100 {
			ops = append(ops, map[string]any{"op": "put", "collection": "big", "id": fmt.Sprintf("d%d-%d", b, i), "document": map[string]any{"pad": pad, "n": i}})
		}
		mustDo(t, "POST", srv.URL+"/v1/tx", map[string]any{"ops": ops}, http.StatusOK)
	}
	var partial string
	for attempt := 0; attempt < 20 && partial == ""; attempt++ {
		dir := filepath.Join(t.TempDir(), "b")
		done := make(chan struct{})
		go func() {
			defer close(done)
			do(&http.Client{Timeout: time.Minute}, "POST", srv.URL+"/v1/admin/backup", map[string]any{"to": dir})
		}()
		// Kill it as soon as the backup has begun: its marker is there.
		for {
			if _, err := os.Stat(filepath.Join(dir, "INCOMPLETE")); err == nil {
				break
			}
			select {
			case <-done:
			default:
				time.Sleep(200 * time.Microsecond)
				continue
			}
			break
		}
		srv.Kill()
		<-done
		if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err != nil {
			partial = dir
		} else {
			t.Logf("attempt %d: the backup was complete before the kill; again", attempt)
		}
		srv = testserver.Start(t, bin, data)
	}
	if partial == "" {
		t.Fatal("the backup completed before every kill: no partial backup to check")
	}
	if _, err := os.Stat(filepath.Join(partial, "INCOMPLETE")); err != nil {
		t.Errorf("the partial backup is not marked INCOMPLETE: %v", err)
	}
	mustDo(t, "GET", srv.URL+"/readyz", nil, http.StatusOK)
	d := mustDo(t, "GET", srv.URL+"/v1/collections/big/docs/d39-99", nil, http.StatusOK)
	if d.doc["n"] != float64(99) {
		t.Errorf("after the restart: %v", d.doc)
	}
	mustDo(t, "PUT", srv.URL+"/v1/collections/big/docs/after", map[string]any{"ok": true}, http.StatusCreated)
	_, errs, code := cli(t, bin, nil, "restore", "--from", partial, "--data", filepath.Join(t.TempDir(), "r"))
	if code != 1 || !strings.Contains(errs, "incomplete") {
		t.Errorf("restore of the partial backup: exit %d, stderr %q; want 1 and incomplete", code, errs)
	}
	// The restarted server backs up again, completely.
	again := filepath.Join(t.TempDir(), "again")
	mustDo(t, "POST", srv.URL+"/v1/admin/backup", map[string]any{"to": again}, http.StatusOK)
	if _, errs, code := cli(t, bin, nil, "restore", "--from", again, "--data", filepath.Join(t.TempDir(), "r2")); code != 0 {
		t.Errorf("restore of a backup after the restart: exit %d: %s", code, errs)
	}
	srv.Stop()
}
