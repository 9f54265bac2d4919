package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trucedb/truce/internal/loadgen"
)

func TestBenchUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--workload", "nope"}, "no such workload"},
		{[]string{"--workload", "watch-fanout", "--subscribers", "0"}, "--subscribers"},
		{[]string{"--duration", "1s", "--count", "10"}, "not both"},
		{[]string{"--clients", "0"}, "--clients"},
		{[]string{"--count", "-1"}, "--count"},
		{[]string{"--duration", "0s"}, "--duration"},
		{[]string{"--doc-size", "0"}, "--doc-size"},
		{[]string{"--docs", "0"}, "--docs"},
		{[]string{"--warmup", "-1s"}, "--warmup"},
		{[]string{"--ratio", "1.5"}, "--ratio"},
		{[]string{"--ratio", "0:0"}, "--ratio"},
		{[]string{"--ratio", "a:b"}, "--ratio"},
		{[]string{"--server", "localhost:8080"}, "--server"},
		{[]string{"extra"}, "unknown command"},
		{[]string{"--overload", "--loads", "0"}, "--loads"},
		{[]string{"--overload", "--loads", "1,-2"}, "--loads"},
		{[]string{"--overload", "--conns", "0"}, "--conns"},
		{[]string{"--overload", "--rounds", "0"}, "--rounds"},
		{[]string{"--overload", "--count", "5"}, "not --count"},
	} {
		var out, errb bytes.Buffer
		code := run(append([]string{"bench"}, tc.args...), &out, &errb)
		if code != exitUsage || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("bench %v: exit %d, stderr %q; want %d and %q", tc.args, code, errb.String(), exitUsage, tc.want)
		}
	}
}

func TestBenchHelpListsWorkloads(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"bench", "--help"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, s := range loadgen.Specs() {
		if !strings.Contains(out.String(), s.Name) {
			t.Errorf("--help does not list %s", s.Name)
		}
	}
	if strings.Contains(out.String(), "not yet available") {
		t.Errorf("--help still calls a workload not yet available:\n%s", out.String())
	}
}

func TestParseRatio(t *testing.T) {
	for in, want := range map[string]float64{"0.9": 0.9, "9:1": 0.9, "1:1": 0.5, "0": 0, "1": 1, "0:5": 0} {
		if got, err := parseRatio(in); err != nil || got != want {
			t.Errorf("parseRatio(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

func TestProgressLine(t *testing.T) {
	p := loadgen.Progress{Elapsed: 5 * time.Second, Duration: 10 * time.Second, Ops: 100, Conflicts: 3,
		Last: loadgen.Interval{OpsPerSec: 1234, P99Ms: 8.5}}
	line := progressLine(p)
	for _, want := range []string{"############------------", "5s/10s", "1,234 ops/s", "p99 8.50 ms", "conflicts 3"} {
		if !strings.Contains(line, want) {
			t.Errorf("progress line %q lacks %q", line, want)
		}
	}
	p = loadgen.Progress{Warmup: true, Elapsed: time.Second, Duration: 2 * time.Second}
	if line := progressLine(p); !strings.Contains(line, "warming up 1s/2s") {
		t.Errorf("warm-up line %q", line)
	}
}

// TestBenchRuns runs truce bench against a real server: the table, --json
// and --chart.
func TestBenchRuns(t *testing.T) {
	srv := mustServeCLI(t)
	var out, errb bytes.Buffer
	args := []string{"bench", "--server", srv.URL, "--workload", "update", "--clients", "4", "--count", "50",
		"--warmup", "0s", "--docs", "10", "--doc-size", "256"}
	if code := run(args, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"throughput", "goodput", "conflicts", "p50", "p90", "p99", "p999", "update, 4 clients, 256-byte documents"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, out.String())
		}
	}

	chart := filepath.Join(t.TempDir(), "c.svg")
	profile := filepath.Join(t.TempDir(), "gen.pprof")
	out.Reset()
	args = []string{"bench", "--server", srv.URL, "--workload", "update-hot", "--clients", "4", "--count", "40",
		"--warmup", "0s", "--json", "--chart", chart, "--cpuprofile", profile}
	if code := run(args, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var rep loadgen.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("--json printed %q: %v", out.String(), err)
	}
	if rep.Workload != "update-hot" || rep.Ops != 40 || rep.Writes != 40 || rep.Clients != 4 || rep.Latency.P99 <= 0 {
		t.Errorf("report: %+v", rep)
	}
	svg, err := os.ReadFile(chart)
	if err != nil || !bytes.HasPrefix(svg, []byte("<svg")) {
		t.Errorf("--chart wrote %q, %v", svg, err)
	}
	if prof, err := os.ReadFile(profile); err != nil || !bytes.HasPrefix(prof, []byte{0x1f, 0x8b}) {
		t.Errorf("--cpuprofile wrote % x, %v; want a gzipped profile", prof[:min(len(prof), 8)], err)
	}

	// A server that is not there fails the run: exit 1.
	errb.Reset()
	if code := run([]string{"bench", "--server", "http://127.0.0.1:1", "--count", "1"}, &out, &errb); code != exitFailure {
		t.Errorf("against no server: exit %d, want 1: %s", code, errb.String())
	}
}

// TestBenchOverload runs --overload briefly against a real server, twice
// (--rounds 2): a JSON report a line, every request sent answered, and a
// chart of both rounds.
func TestBenchOverload(t *testing.T) {
	srv := mustServeCLI(t)
	chart := filepath.Join(t.TempDir(), "overload.svg")
	var out, errb bytes.Buffer
	args := []string{"bench", "--server", srv.URL, "--overload", "--clients", "2", "--duration", "300ms", "--warmup", "0s",
		"--docs", "10", "--doc-size", "200", "--loads", "0.5,2", "--conns", "8", "--rounds", "2", "--json", "--chart", chart}
	if code := run(args, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("--json --rounds 2 printed %d lines, want 2:\n%s", len(lines), out.String())
	}
	for _, l := range lines {
		var rep loadgen.OverloadReport
		if err := json.Unmarshal([]byte(l), &rep); err != nil {
			t.Fatalf("--json printed %q: %v", l, err)
		}
		if rep.CapacityPerSec <= 0 || rep.Conns != 8 || rep.Clients != 2 || len(rep.Steps) != 2 || rep.Steps[1].Multiple != 2 {
			t.Fatalf("report: %+v", rep)
		}
		for _, s := range rep.Steps {
			if s.Sent == 0 || s.OK+s.Shed+s.Errors != s.Sent || s.Errors != 0 {
				t.Errorf("%g×: %+v", s.Multiple, s)
			}
		}
	}
	svg, err := os.ReadFile(chart)
	if err != nil || !bytes.HasPrefix(svg, []byte("<svg")) || !bytes.Contains(svg, []byte("round 2")) {
		t.Errorf("--chart wrote %q, %v", svg, err)
	}
}
