// Package testserver runs real `truce serve` processes for tests: it builds
// the truce binary once per test binary, starts servers on 127.0.0.1 with a
// free port, and stops or kills them.
//
// A package that uses it should remove the built binary when its tests end:
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		testserver.Cleanup()
//		os.Exit(code)
//	}
package testserver

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Package is the import path of the truce command.
const Package = "github.com/trucedb/truce/cmd/truce"

// How long a server may take to start listening, and to exit after a
// signal. Generous, for slow machines and -race builds.
const (
	startTimeout = 60 * time.Second
	stopTimeout  = 30 * time.Second
)

var build struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// Build builds the truce command once per test binary and returns the path
// of the executable. It builds with -race when the test binary does, so
// that races in the server fail the tests that run it: a server that saw a
// race exits with status 66, which Stop reports.
//
// The go command runs in the test's working directory, so it builds the
// module under test.
func Build(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		dir, err := os.MkdirTemp("", "truce-testserver-")
		if err != nil {
			build.err = err
			return
		}
		build.dir = dir
		bin := filepath.Join(dir, "truce")
		args := []string{"build", "-o", bin}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, Package)
		out, err := exec.Command("go", args...).CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
			return
		}
		build.bin = bin
	})
	if build.err != nil {
		t.Fatalf("testserver: build truce: %v", build.err)
	}
	return build.bin
}

// Cleanup removes the binary that Build made. Call it from TestMain after
// the tests have run.
func Cleanup() {
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
}

// Server is a running `truce serve` process.
type Server struct {
	// URL is the server's base URL, http://127.0.0.1:PORT.
	URL string
	// Cmd is the process.
	Cmd *exec.Cmd

	t      testing.TB
	stderr *lineBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // from Cmd.Wait; read after done is closed
}

// Start starts `truce serve --addr 127.0.0.1:0 --data dataDir args...` (or
// --store dataDir, when dataDir is a postgres:// URL) with
// the binary bin and waits until it logs the address it listens on. It
// fails the test if the server does not start. A server still running when
// the test ends is killed; its stderr goes to the test log if the test
// failed.
//
// Start must be called from the goroutine running the test.
func Start(t testing.TB, bin, dataDir string, args ...string) *Server {
	t.Helper()
	s := &Server{
		t:      t,
		stderr: newLineBuffer(),
		done:   make(chan struct{}),
	}
	// Tests drive servers harder than one caller's default rate limit;
	// a test of rate limits passes its own --rate-limit, which wins.
	where := []string{"--data", dataDir}
	if strings.HasPrefix(dataDir, "postgres://") {
		where = []string{"--store", dataDir}
	}
	args = append(append([]string{"serve", "--addr", "127.0.0.1:0"}, where...), append([]string{"--rate-limit", "off"}, args...)...)
	s.Cmd = exec.Command(bin, args...)
	s.Cmd.Stderr = s.stderr
	s.Cmd.WaitDelay = 5 * time.Second // in case a child keeps stderr open
	if raceEnabled && os.Getenv("GORACE") == "" {
		// The race runtime sleeps 1 s at exit by default.
		s.Cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	}
	if err := s.Cmd.Start(); err != nil {
		t.Fatalf("testserver: start %s: %v", bin, err)
	}
	go func() {
		s.err = s.Cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("stderr of truce serve (pid %d):\n%s", s.Cmd.Process.Pid, s.Stderr())
		}
	})

	select {
	case addr := <-s.stderr.addr:
		s.URL = "http://" + addr
	case <-s.done:
		t.Fatalf("testserver: truce serve exited before listening: %v\n%s", s.err, s.Stderr())
	case <-time.After(startTimeout):
		t.Fatalf("testserver: truce serve did not log its address within %v", startTimeout)
	}
	return s
}

// Stderr returns what the server has written to its stderr so far.
func (s *Server) Stderr() string { return s.stderr.String() }

// Kill kills the server with SIGKILL and waits for it to exit. It may be
// called from any goroutine.
func (s *Server) Kill() {
	s.t.Helper()
	if !s.kill() {
		s.t.Errorf("testserver: truce serve did not exit within %v of SIGKILL", stopTimeout)
	}
}

func (s *Server) kill() bool {
	select {
	case <-s.done:
		return true
	default:
	}
	s.Cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-s.done:
		return true
	case <-time.After(stopTimeout):
		return false
	}
}

// Stop sends the server SIGTERM, waits for it to exit, and fails the test
// unless it exits with status 0. It must be called from the goroutine
// running the test.
func (s *Server) Stop() {
	s.t.Helper()
	s.Signal(syscall.SIGTERM)
	s.Wait()
}

// Signal sends sig to the server. It fails the test if the server has
// already exited. It must be called from the goroutine running the test.
func (s *Server) Signal(sig os.Signal) {
	s.t.Helper()
	select {
	case <-s.done:
		s.t.Fatalf("testserver: truce serve had already exited: %v", s.err)
	default:
	}
	if err := s.Cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("testserver: signal truce serve: %v", err)
	}
}

// Wait waits for the server to exit, and fails the test unless it exits
// with status 0 within 30 s (then it kills it). It must be called from the
// goroutine running the test.
func (s *Server) Wait() {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		s.kill()
		s.t.Fatalf("testserver: truce serve did not exit within %v", stopTimeout)
	}
	if s.err != nil {
		s.t.Fatalf("testserver: truce serve exited: %v", s.err)
	}
}

// lineBuffer keeps what a server writes to stderr and sends the address of
// the first "listening" line on addr.
type lineBuffer struct {
	addr chan string

	mu      sync.Mutex
	buf     bytes.Buffer
	scanned int // bytes of buf already looked at for the listening line
	found   bool
}

func newLineBuffer() *lineBuffer {
	return &lineBuffer{addr: make(chan string, 1)}
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	for !b.found {
		rest := b.buf.Bytes()[b.scanned:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		b.scanned += i + 1
		if addr, ok := listeningAddr(string(rest[:i])); ok {
			b.found = true
			b.addr <- addr
		}
	}
	return len(p), nil
}

func (b *lineBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// listeningAddr returns the address in a log line with msg=listening, in
// slog's text or JSON format.
func listeningAddr(line string) (string, bool) {
	if strings.HasPrefix(line, "{") {
		var rec struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &rec) != nil || rec.Msg != "listening" || rec.Addr == "" {
			return "", false
		}
		return rec.Addr, true
	}
	var msg, addr string
	sc := bufio.NewScanner(strings.NewReader(line))
	sc.Split(bufio.ScanWords)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "msg":
			msg = v
		case "addr":
			addr = v
		}
	}
	return addr, msg == "listening" && addr != ""
}
