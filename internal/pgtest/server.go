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
	r := &runner{
		url:  fmt.Sprintf("postgres://truce@127.0.0.1:%d/postgres?sslmode=disable", port),
		dir:  dir,
		log:  filepath.Join(dir, "postgres.log"),
		done: make(chan struct{}),
	}
	if err := os.RemoveAll(data); err != nil {
		return nil, err
	}
	initdb := []string{filepath.Join(bin, "initdb"), "-D", data, "-U", "truce", "--auth=trust",
		"-E", "UTF8", "--locale=C", "--no-instructions"}
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
		r.stop()
		return nil, err
	}
	return r, nil
}

// run runs initdb, then starts the postmaster and waits for it, all on one
// locked OS thread that ends only after the postmaster has: Pdeathsig fires
// when the thread that started a process ends (https://go.dev/issue/27505),
// and this way it fires only when the test binary itself ends, so that the
// server never outlives it, even if it is killed before Main can stop it.
func (r *runner) run(initdb, postgres []string, cred *syscall.Credential, started chan<- error) {
	runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
	attr := &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	cmd := exec.Command(initdb[0], initdb[1:]...)
	cmd.SysProcAttr = attr
	if out, err := cmd.CombinedOutput(); err != nil {
		started <- fmt.Errorf("%s: %v\n%s", strings.Join(initdb, " "), err, out)
		close(r.done)
		return
	}
	logFile, err := os.Create(r.log)
	if err != nil {
		started <- err
		close(r.done)
		return
	}
	defer logFile.Close()
	cmd = exec.Command(postgres[0], postgres[1:]...)
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

// stop shuts the server down fast (SIGINT: disconnect everyone, no waiting
// for clients), kills it if that takes more than 30 s, and removes its
// directory.
func (r *runner) stop() error {
	var err error
	if r.proc != nil {
		r.proc.Signal(syscall.SIGINT)
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			r.proc.Kill()
			<-r.done
			err = fmt.Errorf("postgres did not stop within 30 s of SIGINT; killed it")
		}
	}
	if rmErr := os.RemoveAll(r.dir); rmErr != nil && err == nil {
		err = rmErr
	}
	return err
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
