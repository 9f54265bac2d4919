package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a server process started by the comparison, in its own process
// group so that stopping it stops its children too.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	stopSig syscall.Signal
	done    chan struct{}
	waitErr error
}

var (
	procsMu sync.Mutex
	procs   []*proc // every process started and not yet stopped
)

// pidFile, if not empty, is a file to which startProc appends the process
// group id of every server, so that a wrapper script can stop them even if
// this process is killed before it can. (Pdeathsig would kill a server
// whenever the OS thread that started it exits, not only this process:
// https://go.dev/issue/27505.)
var pidFile string

// startProc starts bin with args, its output in logPath. cred, if not
// nil, runs it as another user. stop and stopAll stop it with stopSig.
func startProc(name, logPath string, cred *syscall.Credential, stopSig syscall.Signal, bin string, args ...string) (*proc, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if pidFile != "" {
		if f, err := os.OpenFile(pidFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintln(f, cmd.Process.Pid)
			f.Close()
		}
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, stopSig: stopSig, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	procsMu.Lock()
	procs = append(procs, p)
	procsMu.Unlock()
	return p, nil
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// logTail returns the last lines of the process's output, for errors.
func (p *proc) logTail() string {
	b, _ := os.ReadFile(p.logPath)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}

// status says whether the process is running, and ends with its log's
// last lines.
func (p *proc) status() string {
	state := "still running"
	if p.exited() {
		state = fmt.Sprintf("exited: %v", p.waitErr)
	}
	return fmt.Sprintf("%s (pid %d) %s; the end of its log %s:\n%s", p.name, p.cmd.Process.Pid, state, p.logPath, p.logTail())
}

// stop signals the process group and waits for it, killing it after 20 s.
func (p *proc) stop() error {
	procsMu.Lock()
	for i, q := range procs {
		if q == p {
			procs = append(procs[:i], procs[i+1:]...)
			break
		}
	}
	procsMu.Unlock()
	if p.exited() {
		return nil
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, p.stopSig)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("%s did not stop within 20 s of %v; killed it", p.name, p.stopSig)
	}
	return nil
}

// stopAll stops every process still running.
func stopAll() {
	procsMu.Lock()
	left := append([]*proc(nil), procs...)
	procsMu.Unlock()
	for _, p := range left {
		if err := p.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "peerbench: %v\n", err)
		}
	}
}

// waitReady polls ready until it succeeds, the process exits or a minute
// passes.
func waitReady(ctx context.Context, p *proc, ready func(context.Context) error) error {
	deadline := time.Now().Add(time.Minute)
	var last error
	for time.Now().Before(deadline) {
		if p.exited() {
			return fmt.Errorf("%s exited while starting (%v):\n%s", p.name, p.waitErr, p.logTail())
		}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		last = ready(rctx)
		cancel()
		if last == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after a minute: %v\n%s", p.name, last, p.logTail())
}

// freePort returns a loopback TCP port that is free now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
