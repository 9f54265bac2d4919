package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/trucedb/truce/internal/loadgen"
)

// TestBenchNewWorkloads runs tx-transfer, lock-cycle and watch-fanout
// through the command against a real server: each reports its figures,
// and watch-fanout its deliveries, none missing.
func TestBenchNewWorkloads(t *testing.T) {
	srv := mustServeCLI(t)
	for _, w := range []string{"tx-transfer", "lock-cycle"} {
		var out, errb bytes.Buffer
		args := []string{"bench", "--server", srv.URL, "--workload", w, "--clients", "4", "--count", "40",
			"--warmup", "0s", "--docs", "3", "--doc-size", "128"}
		if code := run(args, &out, &errb); code != exitOK {
			t.Fatalf("%s: exit %d: %s", w, code, errb.String())
		}
		if want := w + ", 4 clients, 128-byte documents, 3 documents"; !strings.Contains(out.String(), want) {
			t.Errorf("%s: the table lacks %q:\n%s", w, want, out.String())
		}
		if !strings.Contains(out.String(), "(40 writes)") {
			t.Errorf("%s: the table does not count 40 writes:\n%s", w, out.String())
		}
	}

	var out, errb bytes.Buffer
	args := []string{"bench", "--server", srv.URL, "--workload", "watch-fanout", "--clients", "2", "--count", "30",
		"--warmup", "0s", "--subscribers", "10", "--json"}
	if code := run(args, &out, &errb); code != exitOK {
		t.Fatalf("watch-fanout: exit %d: %s", code, errb.String())
	}
	var rep loadgen.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("--json printed %q: %v", out.String(), err)
	}
	d := rep.Delivery
	if d == nil || d.Subscribers != 10 || d.Expected != 300 || d.Delivered != 300 || d.Latency.P99 <= 0 {
		t.Errorf("delivery: %+v", d)
	}
	out.Reset()
	args = args[:len(args)-1] // the table
	if code := run(args, &out, &errb); code != exitOK {
		t.Fatalf("watch-fanout: exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"subscribers", "missing 0", "delivery delay"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, out.String())
		}
	}
}
