package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// debianBinaries is where Debian's postgresql packages put initdb and
// postgres, one directory per major version.
const debianBinaries = "/usr/lib/postgresql/*/bin"

// runner is a PostgreSQL server started by this test binary.
type runner struct {
	url  string // of the maintenance database "postgres"
	dir  string // the cluster, the socket-free configuration and the log
	log  string
	proc *os.Process
	done chan struct{} // closed when the postmaster has exited
	err  error         // the postmaster's exit, valid after done
}

// startServer makes a new cluster in a temporary directory and starts a
// postmaster on it, on a free port of 127.0.0.1, with fsync on.
func startServer() (*runner, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "truce-pgtest-")
	if err != nil {
		return nil, err
	}
	cred, err := credential(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// A port found free may be taken before the postmaster binds it; try
	// again with another.
	for attempt := 1; ; attempt++ {
		r, err := startOnce(bin, dir, cred)
		if err == nil {
			return r, nil
		}
		if attempt == 3 || !errors.Is(err, errPortTaken) {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

var errPortTaken = errors.New("port taken")

func startOnce(bin, dir string, cred *syscall.Credential) (*runner, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := os.RemoveAll(data); err != nil {
		return nil, err
	}
	initdb := []string{filepath.Join(bin, "initdb"), "-D", data, "-U", "truce", "--auth=trust",
		"-E", "UTF8", "--locale=C", "--no-instructions"}
	return startPostmaster(bin, dir, cred, port, initdb)
}

// startPostmaster starts a postmaster on the cluster in dir/data, after
// running initdb when it is not nil, and waits until it accepts
// connections.
func startPostmaster(bin, dir string, cred *syscall.Credential, port int, initdb []string) (*runner, error) {
	data := filepath.Join(dir, "data")
	r := &runner{
		url:  fmt.Sprintf("postgres://truce@127.0.0.1:%d/postgres?sslmode=disable", port),
		dir:  dir,
		log:  filepath.Join(dir, "postgres.log"),
		done: make(chan struct{}),
	}
	// unix_socket_directories='' makes the server listen on TCP only:
	// nothing of it appears in a directory other servers share.
	postgres := []string{filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
		"-c", "fsync=on", "-c", "synchronous_commit=on", "-c", "full_page_writes=on",
		"-c", "max_connections=200"}
	started := make(chan error, 1)
	go r.run(initdb, postgres, cred, started)
	if err := <-started; err != nil {
		return nil, err
	}
	if err := r.waitReady(); err != nil {
		r.halt()
		return nil, err
	}
	return r, nil
}

// run runs initdb (unless it is nil), then starts the postmaster and waits for it, all on one
// locked OS thread that ends only after the postmaster has: Pdeathsig fires
// when the thread that started a process ends (https://go.dev/issue/27505),
// and this way it fires only when the test binary itself ends, so that the
// server never outlives it, even if it is killed before Main can stop it.
func (r *runner) run(initdb, postgres []string, cred *syscall.Credential, started chan<- error) {
	runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
	attr := &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if initdb != nil {
		cmd := exec.Command(initdb[0], initdb[1:]...)
		cmd.SysProcAttr = attr
		if out, err := cmd.CombinedOutput(); err != nil {
			started <- fmt.Errorf("%s: %v\n%s", strings.Join(initdb, " "), err, out)
			close(r.done)
			return
		}
	}
	logFile, err := os.OpenFile(r.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		started <- err
		close(r.done)
		return
	}
	defer logFile.Close()
	cmd := exec.Command(postgres[0], postgres[1:]...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		started <- fmt.Errorf("start %s: %w", postgres[0], err)
		close(r.done)
		return
	}
	r.proc = cmd.Process
	started <- nil
	r.err = cmd.Wait()
	close(r.done)
}

// waitReady waits until the server accepts connections, it exits, or a
// minute passes.
func (r *runner) waitReady() error {
	deadline := time.Now().Add(time.Minute)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-r.done:
			tail := r.logTail()
			if strings.Contains(tail, "could not bind") || strings.Contains(tail, "Address already in use") {
				return fmt.Errorf("%w: %s", errPortTaken, tail)
			}
			return fmt.Errorf("postgres exited while starting (%v); the end of its log:\n%s", r.err, tail)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, r.url)
		if err == nil {
			conn.Close(ctx)
			cancel()
			return nil
		}
		cancel()
		last = err
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("postgres not ready after a minute: %v; the end of its log:\n%s", last, r.logTail())
}

// stop shuts the server down and removes its directory.
func (r *runner) stop() error {
	err := r.halt()
	if rmErr := os.RemoveAll(r.dir); rmErr != nil && err == nil {
		err = rmErr
	}
	return err
}

// halt shuts the server down fast (SIGINT: disconnect everyone, no waiting
// for clients), and kills it if that takes more than 30 s.
func (r *runner) halt() error {
	return r.signal(syscall.SIGINT)
}

// signal sends sig to the postmaster and waits for it to exit, killing it
// if it has not within 30 s.
func (r *runner) signal(sig syscall.Signal) error {
	if r.proc == nil {
		return nil
	}
	r.proc.Signal(sig)
	select {
	case <-r.done:
		return nil
	case <-time.After(30 * time.Second):
		r.proc.Kill()
		<-r.done
		return fmt.Errorf("postgres did not stop within 30 s of %v; killed it", sig)
	}
}

func (r *runner) logTail() string {
	b, _ := os.ReadFile(r.log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}

// findBinaries returns the bin directory of the newest PostgreSQL that
// Debian's packages installed.
func findBinaries() (string, error) {
	dirs, _ := filepath.Glob(debianBinaries)
	var best string
	bestVersion := -1
	for _, d := range dirs {
		v, err := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		if err != nil || v <= bestVersion {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "initdb")); err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "postgres")); err != nil {
			continue
		}
		best, bestVersion = d, v
	}
	if best == "" {
		return "", fmt.Errorf("%s is not set and no PostgreSQL binaries are in %s", EnvVar, debianBinaries)
	}
	return best, nil
}

// credential returns the user the server must run as: "postgres" when this
// process is root, since initdb and postgres refuse to run as root, after
// giving it dir; nil (this process's user) otherwise.
func credential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL will not run as root and there is no postgres user: %w", err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, err
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// freePort returns a TCP port of 127.0.0.1 that is free now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Server is a PostgreSQL server of one test's own, which the test may
// crash and start again (to check what survives), unlike the server that
// Start shares between tests. It always runs from Debian's binaries,
// whatever EnvVar says.
type Server struct {
	tb   testing.TB
	bin  string
	dir  string
	cred *syscall.Credential
	port int
	r    *runner // nil while stopped
}

// NewServer starts a new cluster in a temporary directory, on a free port of
// 127.0.0.1, with fsync on; it is stopped and removed when tb ends. It
// fails tb if no server can be started.
func NewServer(tb testing.TB) *Server {
	tb.Helper()
	bin, err := findBinaries()
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	dir, err := os.MkdirTemp("", "truce-pgtest-")
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	cred, err := credential(dir)
	if err != nil {
		os.RemoveAll(dir)
		tb.Fatalf("pgtest: %v", err)
	}
	var r *runner
	for attempt := 1; ; attempt++ {
		r, err = startOnce(bin, dir, cred)
		if err == nil {
			break
		}
		if attempt == 3 || !errors.Is(err, errPortTaken) {
			os.RemoveAll(dir)
			tb.Fatalf("pgtest: %v", err)
		}
	}
	port, _ := strconv.Atoi(r.url[strings.LastIndex(r.url, ":")+1 : strings.LastIndex(r.url, "/")])
	s := &Server{tb: tb, bin: bin, dir: dir, cred: cred, port: port, r: r}
	tb.Cleanup(func() {
		if s.r != nil {
			s.r.halt()
		}
		os.RemoveAll(dir)
	})
	return s
}

// URL returns the postgres:// URL of the server's database "postgres".
func (s *Server) URL() string {
	return fmt.Sprintf("postgres://truce@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

// Crash stops the server as a crash would: an immediate shutdown
// (SIGQUIT), which ends every process at once, without a checkpoint, so
// that the next start replays the WAL.
func (s *Server) Crash() {
	s.tb.Helper()
	if s.r == nil {
		return
	}
	if err := s.r.signal(syscall.SIGQUIT); err != nil {
		s.tb.Fatalf("pgtest: %v", err)
	}
	s.r = nil
}

// Restart starts the server again on the same cluster and port, and waits
// until it accepts connections.
func (s *Server) Restart() {
	s.tb.Helper()
	if s.r != nil {
		s.tb.Fatal("pgtest: Restart of a running server")
	}
	r, err := startPostmaster(s.bin, s.dir, s.cred, s.port, nil)
	if err != nil {
		s.tb.Fatalf("pgtest: restart: %v", err)
	}
	s.r = r
}
