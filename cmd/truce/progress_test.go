package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestTransferProgressLine(t *testing.T) {
	p := &progress{what: "export", docs: 250, bytes: 256 << 10, totalDocs: 1000, totalBytes: 1 << 20}
	got := p.line(10 * time.Second)
	for _, want := range []string{"export [#####...............]  25%", "250/1000 docs", "256.0 KiB/1.0 MiB", "25.6 KiB/s 25 docs/s", "10s", "ETA 30s"} {
		if !strings.Contains(got, want) {
			t.Errorf("progress line %q lacks %q", got, want)
		}
	}
	// Unknown totals: no bar and no ETA.
	p = &progress{what: "backup", bytes: 100}
	if got := p.line(time.Second); strings.Contains(got, "ETA") || strings.Contains(got, "[") {
		t.Errorf("progress line without totals %q has a bar or an ETA", got)
	}
}

// TestProgressQuietOffTerminal: on anything but a terminal (here a
// buffer), and with --json, nothing is drawn.
func TestProgressQuietOffTerminal(t *testing.T) {
	var buf bytes.Buffer
	for _, quiet := range []bool{false, true} {
		p := newProgress(&buf, "import", quiet)
		p.total(10, 100)
		p.add(5, 50)
		p.done()
	}
	if buf.Len() != 0 {
		t.Errorf("progress wrote %q to a buffer", buf.String())
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
