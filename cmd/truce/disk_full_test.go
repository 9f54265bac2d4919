package main_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trucedb/truce/internal/testserver"
)

// diskFullGuard bounds how long the test waits for the server to notice
// that space ran out or was freed: far past the store's check interval.
const diskFullGuard = 30 * time.Second

// mustMountTmpfs mounts a tmpfs of size bytes on a fresh directory and
// unmounts it when the test ends.
func mustMountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Fatalf("mount a %d-byte tmpfs on %s: %v: this test makes a small file system to fill, "+
			"which needs root (CAP_SYS_ADMIN); run it as root, e.g. in the CI container", size, dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fill writes a file in dir until the file system is full, then gives back
// keep bytes, and returns the file's path.
func fill(t *testing.T, dir string, keep int64) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 256<<10)
	var n int64
	for {
		w, err := f.Write(chunk)
		n += int64(w)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(max(n-keep, 0)); err != nil {
		t.Fatal(err)
	}
	return path
}

type answer struct {
	status int
	header http.Header
	body   string
}

func send(t *testing.T, method, url, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

// TestDiskFull runs truce serve on a 32 MiB tmpfs with an 8 MiB reserve and
// fills the file system: writes get 507 insufficient_storage (retryable,
// with Retry-After and a problem page), reads keep working, /readyz says
// why; once space is freed, writes resume without a restart; and after a
// restart every acknowledged write is there.
func TestDiskFull(t *testing.T) {
	mnt := mustMountTmpfs(t, 32<<20)
	data := filepath.Join(mnt, "data")
	bin := testserver.Build(t)
	srv := testserver.Start(t, bin, data, "--disk-reserve", fmt.Sprint(8<<20))
	docs := func(id string) string { return srv.URL + "/v1/collections/notes/docs/" + id }
	acked := map[string]string{} // id → the body acknowledged last
	put := func(id, body string) answer {
		a := send(t, "PUT", docs(id), body)
		if a.status == 200 || a.status == 201 {
			acked[id] = body
		}
		return a
	}
	for i := range 20 {
		if a := put(fmt.Sprint("d", i), fmt.Sprintf(`{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", 4<<10))); a.status != 201 {
			t.Fatalf("PUT before the disk fills: %d %s", a.status, a.body)
		}
	}

	filler := fill(t, mnt, 4<<20) // 4 MiB free: under the reserve
	var full answer
	deadline := time.Now().Add(diskFullGuard)
	for i := 0; ; i++ {
		full = put(fmt.Sprint("late", i), `{"late":true}`)
		if full.status == http.StatusInsufficientStorage || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if full.status != http.StatusInsufficientStorage || full.header.Get("Content-Type") != "application/problem+json" ||
		!strings.Contains(full.body, `"code":"insufficient_storage"`) || !strings.Contains(full.body, `"retryable":true`) ||
		full.header.Get("Retry-After") == "" {
		t.Fatalf("a write on a full disk: %d %v %s", full.status, full.header, full.body)
	}
	if a := send(t, "GET", docs("d3"), ""); a.status != 200 || !strings.Contains(a.body, `"n":3`) {
		t.Fatalf("a read on a full disk: %d %s", a.status, a.body)
	}
	if a := send(t, "GET", srv.URL+"/readyz", ""); a.status != http.StatusInsufficientStorage || !strings.Contains(a.body, "reserve") {
		t.Fatalf("/readyz on a full disk: %d %s", a.status, a.body)
	}
	if a := send(t, "GET", srv.URL+"/healthz", ""); a.status != 200 {
		t.Fatalf("/healthz on a full disk: %d %s", a.status, a.body)
	}
	if a := send(t, "GET", srv.URL+"/problems/insufficient-storage", ""); a.status != 200 {
		t.Fatalf("the problem page: %d", a.status)
	}

	// Space is freed: writes resume, with no restart.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(diskFullGuard)
	for {
		a := put("resumed", `{"resumed":true}`)
		if a.status == 201 {
			break
		}
		if a.status != http.StatusInsufficientStorage || time.Now().After(deadline) {
			t.Fatalf("a write once space is freed: %d %s", a.status, a.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if a := send(t, "GET", srv.URL+"/readyz", ""); a.status != 200 {
		t.Fatalf("/readyz once space is freed: %d %s", a.status, a.body)
	}

	// Nothing acknowledged was lost.
	srv.Stop()
	srv = testserver.Start(t, bin, data)
	for id, body := range acked {
		a := send(t, "GET", docs(id), "")
		if a.status != 200 || !strings.Contains(a.body, strings.TrimSuffix(strings.TrimPrefix(body, "{"), "}")) {
			t.Fatalf("after a restart, acknowledged %s: %d %.200s", id, a.status, a.body)
		}
	}
}
