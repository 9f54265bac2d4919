package docs_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trucedb/truce/internal/testserver"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testserver.Cleanup()
	os.Exit(code)
}

// pages returns the pages whose shell examples run, in this order, each on
// a server of its own: the README, then every page here.
func pages(t *testing.T) []string {
	docs, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{"../README.md"}, docs...)
}

// streamTimeout cuts the examples that follow a stream (curl -N, truce
// watch) so that they end; what they printed until then is checked.
const streamTimeout = 3

// TestExamples runs every ```sh block of each page, in order, in one bash
// process per page (so a variable set by one block is there for the
// next), against a fresh `truce serve` that the examples reach at
// 127.0.0.1:8080 (rewritten to the server's address), with `truce` on the
// PATH. A block right after an HTML comment `<!-- not run: reason -->` is
// left out, for the reason given (it starts servers of its own, needs
// PostgreSQL, a certificate or the whole test suite).
//
// Each command is checked against the output the page shows under it (the
// lines that start with "#   "): every status line, header and "key":value
// member shown must be in what the command and the ones after it in the
// block printed ("…" stands for anything), and the command must exit 0
// unless it follows a stream.
func TestExamples(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the examples need %s on the PATH: %v", tool, err)
		}
	}
	bin := testserver.Build(t)
	for _, page := range pages(t) {
		t.Run(filepath.Base(page), func(t *testing.T) {
			src, err := os.ReadFile(page)
			if err != nil {
				t.Fatal(err)
			}
			blocks := shellBlocks(string(src))
			if !slices.ContainsFunc(blocks, func(b block) bool { return b.skip == "" }) {
				return // no example to run (api.md shows HTTP; benchmarks.md's runs for long)
			}
			srv := testserver.Start(t, bin, t.TempDir())
			runPage(t, page, blocks, bin, srv.URL)
		})
	}
}

// block is one ```sh example of a page.
type block struct {
	line  int // of its first command, in the page
	lines []string
	skip  string // why it is not run; "" when it runs
}

var notRun = regexp.MustCompile(`^<!-- not run: (.+) -->$`)

// shellBlocks returns the ```sh blocks of a Markdown page.
func shellBlocks(src string) []block {
	var out []block
	lines := strings.Split(src, "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```sh" {
			continue
		}
		b := block{line: i + 2}
		for j := i - 1; j >= 0 && j >= i-2; j-- {
			if m := notRun.FindStringSubmatch(strings.TrimSpace(lines[j])); m != nil {
				b.skip = m[1]
			}
		}
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			b.lines = append(b.lines, lines[i])
		}
		out = append(out, b)
	}
	return out
}

// step is one command of a block (the lines between two runs of comments)
// and the output shown under it.
type step struct {
	line   int
	cmd    string
	expect []string
}

// steps splits a block into its steps.
func steps(b block) []step {
	var out []step
	for i, l := range b.lines {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "#   "):
			if len(out) > 0 {
				out[len(out)-1].expect = append(out[len(out)-1].expect, strings.TrimSpace(l[1:]))
			}
		case t == "" || strings.HasPrefix(t, "#"):
		default:
			prev := ""
			if i > 0 {
				prev = strings.TrimSpace(b.lines[i-1])
			}
			if len(out) == 0 || len(out[len(out)-1].expect) > 0 || prev == "" || strings.HasPrefix(prev, "#") {
				out = append(out, step{line: b.line + i})
			}
			out[len(out)-1].cmd += l + "\n"
		}
	}
	return out
}

// runPage runs the blocks of one page in one bash process and checks each
// step.
func runPage(t *testing.T, page string, blocks []block, bin, url string) {
	work := t.TempDir()
	addr := strings.TrimPrefix(url, "http://")
	// curl reads $HOME/.curlrc: every request ends within streamTimeout
	// seconds beyond a normal answer, so a stream ends.
	if err := os.WriteFile(filepath.Join(work, ".curlrc"), fmt.Appendf(nil, "max-time = %d\n", streamTimeout), 0o644); err != nil {
		t.Fatal(err)
	}
	var script strings.Builder
	fmt.Fprintf(&script, "cd %q\n", work)
	// truce watch follows the feed until stopped: stop it as curl's streams are.
	fmt.Fprintf(&script, "truce() { if [ \"$1\" = watch ]; then timeout %d %q \"$@\"; else %q \"$@\"; fi; }\n", streamTimeout, bin, bin)
	var all []step
	for _, b := range blocks {
		if b.skip != "" {
			t.Logf("%s:%d: not run: %s", page, b.line, b.skip)
			continue
		}
		for _, s := range steps(b) {
			fmt.Fprintf(&script, stepMarker, len(all))
			script.WriteString(rewrite(s.cmd, addr))
			all = append(all, s)
		}
		script.WriteString("wait\n")
	}
	fmt.Fprintf(&script, stepMarker, len(all))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.WaitDelay = 10 * time.Second // a background command may hold the output open
	// The examples run in a process group of their own, which is killed
	// at the end, so that nothing an example left in the background
	// outlives the test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	defer func() {
		if cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	}()
	cmd.Env = append(os.Environ(), "HOME="+work, "TRUCE_URL="+url, "TRUCE_TOKEN=", "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the examples of %s did not run: %v\n%s", page, err, out)
	}
	outputs, codes := splitSteps(t, out, len(all))
	for i, s := range all {
		rest := strings.Join(outputs[i:], "")
		if codes[i] != 0 && !isStream(s.cmd) {
			t.Errorf("%s:%d: exit status %d\n%s\noutput:\n%s", page, s.line, codes[i], s.cmd, outputs[i])
		}
		for _, want := range expectations(s.expect) {
			if !want.re.MatchString(rest) {
				t.Errorf("%s:%d: the page shows %s, which the output lacks\n%s\noutput:\n%s", page, s.line, want.text, s.cmd, outputs[i])
			}
		}
	}
}

// isStream reports whether a command follows a stream, which the test cuts.
func isStream(cmd string) bool {
	return strings.Contains(cmd, "curl -sN") || strings.Contains(cmd, "truce watch")
}

// rewrite points a command at the test's server.
func rewrite(cmd, addr string) string {
	cmd = strings.ReplaceAll(cmd, "127.0.0.1:8080", addr)
	return strings.ReplaceAll(cmd, "localhost:8080", addr)
}

// stepMarker prints the marker that starts step %d, with the exit status
// of the step before, on a line of its own.
const stepMarker = "rc=$?; printf '\\n@@step %d rc=%%d@@\\n' $rc\n"

var marker = regexp.MustCompile(`(?m)^@@step (\d+) rc=(\d+)@@\n`)

// splitSteps splits the output at the markers: the output of each step,
// and the exit status of its last command.
func splitSteps(t *testing.T, out []byte, n int) ([]string, []int) {
	outputs, codes := make([]string, n), make([]int, n)
	locs := marker.FindAllSubmatchIndex(out, -1)
	for k, loc := range locs {
		i, _ := strconv.Atoi(string(out[loc[2]:loc[3]]))
		rc, _ := strconv.Atoi(string(out[loc[4]:loc[5]]))
		if i > 0 && i <= n {
			codes[i-1] = rc
		}
		if i < n {
			end := len(out)
			if k+1 < len(locs) {
				end = locs[k+1][0]
			}
			outputs[i] = string(bytes.TrimSpace(out[loc[1]:end])) + "\n"
		}
	}
	if len(locs) != n+1 {
		t.Fatalf("the script printed %d step markers, want %d:\n%s", len(locs), n+1, out)
	}
	return outputs, codes
}

// expectation is one thing a page shows that the output must contain.
type expectation struct {
	text string
	re   *regexp.Regexp
}

var (
	statusLine = regexp.MustCompile(`HTTP/1\.1 \d{3}`)
	headerLine = regexp.MustCompile(`^([A-Z][A-Za-z-]+): (.+?)(\s{2,}.*)?$`)
	member     = regexp.MustCompile(`"[A-Za-z_][A-Za-z0-9_]*":("(?:[^"\\]|\\.)*"|-?[0-9]+(?:\.[0-9]+)?|true|false|null)`)
	sseField   = regexp.MustCompile(`^(event|id): ([a-z.]+|\d+)$`)
)

// expectations reads what a page shows under a command.
func expectations(shown []string) []expectation {
	var out []expectation
	add := func(text string, ci bool) {
		parts := strings.Split(text, "…")
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
		}
		re := strings.Join(parts, ".*?")
		if ci {
			re = "(?i)" + re
		}
		out = append(out, expectation{text: text, re: regexp.MustCompile(re)})
	}
	for _, l := range shown {
		for _, s := range statusLine.FindAllString(l, -1) {
			add(s, false)
		}
		if m := headerLine.FindStringSubmatch(l); m != nil && !strings.HasPrefix(l, "HTTP/") {
			add(m[1]+": "+strings.TrimSpace(m[2]), true)
		}
		if m := sseField.FindStringSubmatch(l); m != nil && m[1] == "event" {
			add(l, false)
		}
		for _, m := range member.FindAllString(l, -1) {
			add(m, false)
		}
	}
	return out
}
