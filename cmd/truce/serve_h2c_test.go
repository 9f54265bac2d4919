package main

import (
	"bytes"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/trucedb/truce/internal/loadgen"
	"github.com/trucedb/truce/internal/testserver"
)

// TestServeH2C: truce serve answers HTTP/2 without TLS on its plain
// listener by default, beside HTTP/1.1, and not with --h2c=false; and
// truce bench --h2c runs over it, reporting the server's group commit.
func TestServeH2C(t *testing.T) {
	bin := testserver.Build(t)
	h2c := &http.Client{Transport: loadgen.NewH2CTransport()}
	srv := testserver.Start(t, bin, t.TempDir())
	for _, hc := range []*http.Client{h2c, http.DefaultClient} {
		resp, err := hc.Get(srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := 1
		if hc == h2c {
			want = 2
		}
		if resp.StatusCode != 200 || resp.ProtoMajor != want {
			t.Fatalf("GET /healthz: %s over %s, want 200 over HTTP/%d", resp.Status, resp.Proto, want)
		}
	}
	var out, errb bytes.Buffer
	args := []string{"bench", "--server", srv.URL, "--h2c", "--workload", "update", "--clients", "4", "--docs", "4",
		"--count", "40", "--warmup", "0s"}
	if code := run(args, &out, &errb); code != exitOK || !strings.Contains(out.String(), "(40 writes)") {
		t.Fatalf("truce bench --h2c: exit %d: %s%s", code, out.String(), errb.String())
	}
	// The server's /metrics gives the group commit's batch size.
	if !regexp.MustCompile(`group commit +\d+ commits, \d+\.\d per WAL fsync`).MatchString(out.String()) {
		t.Errorf("truce bench does not report the group commit:\n%s", out.String())
	}

	off := testserver.Start(t, bin, t.TempDir(), "--h2c=false")
	if resp, err := h2c.Get(off.URL + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatalf("with --h2c=false, an h2c request got %s over %s", resp.Status, resp.Proto)
	}
}
