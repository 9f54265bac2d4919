package main_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/trucedb/truce/internal/testserver"
)

// TestServeCPUProfile: truce serve --cpuprofile writes a profile that go
// tool pprof reads (gzipped protobuf) when the server stops.
func TestServeCPUProfile(t *testing.T) {
	bin := testserver.Build(t)
	file := filepath.Join(t.TempDir(), "cpu.pprof")
	srv := testserver.Start(t, bin, t.TempDir(), "--cpuprofile", file)
	mustDo(t, "PUT", srv.URL+"/v1/collections/p/docs/d", map[string]any{"a": 1}, 201)
	srv.Stop()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
		t.Errorf("the profile is not gzipped protobuf: % x", b[:min(len(b), 8)])
	}
}
