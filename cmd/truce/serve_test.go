package main_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trucedb/truce/internal/testserver"
)

// runTruce runs the truce binary with args to completion and returns its
// exit status, stdout and stderr.
func runTruce(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case ctx.Err() != nil:
		t.Fatalf("truce %s did not exit within 30 s; stderr:\n%s", strings.Join(args, " "), stderr.String())
	case errors.As(err, &exit):
		return exit.ExitCode(), stdout.String(), stderr.String()
	default:
		t.Fatalf("run truce %s: %v", strings.Join(args, " "), err)
	}
	panic("unreachable")
}

func TestServeHealthzAndStop(t *testing.T) {
	bin := testserver.Build(t)
	srv := testserver.Start(t, bin, t.TempDir())
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Errorf("URL = %q, want http://127.0.0.1:PORT", srv.URL)
	}
	r := mustDo(t, "GET", srv.URL+"/healthz", nil, 200)
	t.Logf("GET /healthz: %s", r.raw)
	srv.Stop()
	if !strings.Contains(srv.Stderr(), "msg=stopped") {
		t.Errorf("stderr does not log msg=stopped:\n%s", srv.Stderr())
	}
}

func TestServeSIGINT(t *testing.T) {
	bin := testserver.Build(t)
	srv := testserver.Start(t, bin, t.TempDir())
	srv.Signal(os.Interrupt)
	srv.Wait()
	if !strings.Contains(srv.Stderr(), "msg=stopped") {
		t.Errorf("stderr does not log msg=stopped:\n%s", srv.Stderr())
	}
}

// A request that is in flight when the stop signal arrives finishes and is
// answered before the server exits.
func TestServeStopFinishesRequestInFlight(t *testing.T) {
	bin := testserver.Build(t)
	dir := t.TempDir()
	srv := testserver.Start(t, bin, dir)
	host := strings.TrimPrefix(srv.URL, "http://")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"title":"slow"}`
	fmt.Fprintf(conn, "PUT /v1/collections/notes/docs/slow HTTP/1.1\r\nHost: %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", host, len(body), body[:5])
	time.Sleep(200 * time.Millisecond) // the server reads the headers and waits for the body

	srv.Signal(syscall.SIGTERM)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(srv.Stderr(), "shutting down"); {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not log that it is shutting down:\n%s", srv.Stderr())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := conn.Write([]byte(body[5:])); err != nil {
		t.Fatalf("write the rest of the body: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read the answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("PUT in flight at shutdown: status %d, want 201", resp.StatusCode)
	}
	srv.Wait()

	srv = testserver.Start(t, bin, dir)
	mustDo(t, "GET", srv.URL+"/v1/collections/notes/docs/slow", nil, 200)
	srv.Stop()
}

func TestServeJSONLogs(t *testing.T) {
	bin := testserver.Build(t)
	srv := testserver.Start(t, bin, t.TempDir(), "--log-format", "json", "--log-level", "debug")
	mustDo(t, "GET", srv.URL+"/healthz", nil, 200)
	srv.Stop()
	if !strings.Contains(srv.Stderr(), `"msg":"stopped"`) {
		t.Errorf("stderr does not log stopped in JSON:\n%s", srv.Stderr())
	}
}

func TestServeRestartKeepsDocuments(t *testing.T) {
	bin := testserver.Build(t)
	dir := filepath.Join(t.TempDir(), "data") // created by the server
	url := "/v1/collections/notes/docs/n1"
	body := map[string]any{"title": "hello", "tags": []any{"a", "b"}, "n": 3}

	srv := testserver.Start(t, bin, dir)
	put := mustDo(t, "PUT", srv.URL+url, body, 201, "If-None-Match", "*")
	if put.etag == "" {
		t.Error("PUT: no ETag")
	}
	if v := version(put.doc); v != 1 {
		t.Errorf("PUT: _version = %d, want 1", v)
	}
	srv.Stop()

	srv = testserver.Start(t, bin, dir)
	get := mustDo(t, "GET", srv.URL+url, nil, 200)
	if !reflect.DeepEqual(get.doc, put.doc) {
		t.Errorf("after restart GET = %s, want %s", get.raw, put.raw)
	}
	if get.etag != put.etag {
		t.Errorf("after restart ETag = %s, want %s", get.etag, put.etag)
	}
	// The ETag read before the restart still guards a write after it.
	upd := mustDo(t, "PUT", srv.URL+url, map[string]any{"title": "again"}, 200, "If-Match", put.etag)
	if v := version(upd.doc); v != 2 {
		t.Errorf("update after restart: _version = %d, want 2", v)
	}
	srv.Stop()
}

func TestServeDataDirInUse(t *testing.T) {
	bin := testserver.Build(t)
	dir := t.TempDir()
	srv := testserver.Start(t, bin, dir)
	code, stdout, stderr := runTruce(t, bin, "serve", "--addr", "127.0.0.1:0", "--data", dir)
	if code != 1 {
		t.Errorf("second server on the same --data: exit %d, want 1; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "in use by another process") {
		t.Errorf("stderr does not say the directory is in use:\n%s", stderr)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing", stdout)
	}
	// The first server is unharmed.
	mustDo(t, "GET", srv.URL+"/healthz", nil, 200)
	srv.Stop()
}

func TestServeUsageErrors(t *testing.T) {
	bin := testserver.Build(t)
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"all interfaces v4", []string{"serve", "--addr", "0.0.0.0:0"}, "--insecure-no-auth"},
		{"all interfaces", []string{"serve", "--addr", ":0"}, "--insecure-no-auth"},
		{"all interfaces v6", []string{"serve", "--addr", "[::]:0"}, "--insecure-no-auth"},
		{"address without port", []string{"serve", "--addr", "127.0.0.1"}, "--addr"},
		{"unknown flag", []string{"serve", "--no-such-flag"}, "unknown flag"},
		{"bad log level", []string{"serve", "--log-level", "loud"}, "--log-level"},
		{"bad log format", []string{"serve", "--log-format", "xml"}, "--log-format"},
		{"zero max doc bytes", []string{"serve", "--max-doc-bytes", "0"}, "--max-doc-bytes"},
		{"not a number", []string{"serve", "--max-doc-bytes", "lots"}, "--max-doc-bytes"},
		{"zero max lock ttl", []string{"serve", "--max-lock-ttl", "0s"}, "--max-lock-ttl"},
		{"zero document cache", []string{"serve", "--doc-cache", "0"}, "--doc-cache"},
		{"extra argument", []string{"serve", "now"}, "now"},
		{"missing auth file", []string{"serve", "--auth-file", "/nonexistent/auth.json"}, "--auth-file"},
		{"bad rate limit", []string{"serve", "--rate-limit", "fast"}, "--rate-limit"},
		{"negative burst", []string{"serve", "--burst", "-1"}, "--burst"},
		{"cert without key", []string{"serve", "--tls-cert", "c.pem"}, "--tls-key"},
		{"missing cert", []string{"serve", "--tls-cert", "/nonexistent/c.pem", "--tls-key", "/nonexistent/k.pem"}, "--tls-cert"},
		{"unknown command", []string{"no-such-command"}, "unknown command"},
		{"store and data", []string{"serve", "--store", "postgres://truce@127.0.0.1:1/truce"}, "--store"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "data")
			args := slices.Concat(tt.args, []string{"--data", dir})
			if tt.name == "unknown command" {
				args = tt.args
			}
			code, stdout, stderr := runTruce(t, bin, args...)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr:\n%s", code, stderr)
			}
			if !strings.Contains(stderr, tt.want) || !strings.Contains(stderr, "--help") {
				t.Errorf("stderr does not mention %q and --help:\n%s", tt.want, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the data directory was created (stat: %v)", err)
			}
		})
	}
}
