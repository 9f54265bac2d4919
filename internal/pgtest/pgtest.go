// Package pgtest gives tests a real PostgreSQL: a fresh, empty database per
// Start call, on the server named by TRUCE_TEST_POSTGRES or, when that is
// not set, on a server that the test binary starts itself from Debian's
// postgresql package (a new cluster in a temporary directory, listening on
// 127.0.0.1 only, fsync on). A test that needs PostgreSQL and cannot get
// one fails; it is never skipped.
//
// A package that calls Start must run its tests through Main (or Run),
// which stops the server and removes its directory when the tests end:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvVar names the environment variable that points the tests at an
// existing server: a postgres:// URL whose user may CREATE DATABASE. When it
// is set, no server is started.
const EnvVar = "TRUCE_TEST_POSTGRES"

var (
	inMain atomic.Bool // set by Main; Start refuses to run without it

	serverOnce sync.Once
	adminURL   string  // a URL of the server's maintenance database
	server     *runner // the server this binary started, nil with EnvVar
	serverErr  error   // why there is no server, reported by every Start
)

// Main runs the tests of m and exits with their status, after stopping the
// server that Start may have started and removing its directory. Call it
// from TestMain in every package that calls Start.
func Main(m *testing.M) {
	os.Exit(Run(m))
}

// Run is Main for a TestMain that has more to do after the tests: it
// returns their exit status instead of exiting.
func Run(m *testing.M) int {
	inMain.Store(true)
	code := m.Run()
	if server != nil {
		if err := server.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// Start returns the postgres:// URL of a new, empty database that belongs
// to tb and is dropped when tb ends (connections still open to it are
// closed then). The first call starts the server, unless EnvVar is set;
// later calls share it. Start fails tb if no server can be had.
func Start(tb testing.TB) string {
	tb.Helper()
	if !inMain.Load() {
		tb.Fatal("pgtest.Start needs the package's tests to run through pgtest.Main: add func TestMain(m *testing.M) { pgtest.Main(m) }")
	}
	serverOnce.Do(func() { adminURL, server, serverErr = connectServer() })
	if serverErr != nil {
		tb.Fatalf("pgtest: no PostgreSQL for this test: %v\n"+
			"Set %s to the postgres:// URL of a server whose user may CREATE DATABASE, "+
			"or install Debian's PostgreSQL (apt-get install postgresql) so that the tests can start their own.",
			serverErr, EnvVar)
	}
	name := newDatabaseName()
	if err := admin(fmt.Sprintf("CREATE DATABASE %s", name)); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(func() {
		if err := admin(fmt.Sprintf("DROP DATABASE %s WITH (FORCE)", name)); err != nil {
			tb.Errorf("pgtest: %v", err)
		}
	})
	u, _ := url.Parse(adminURL) // parsed once already by connectServer
	u.Path = "/" + name
	return u.String()
}

// connectServer returns the URL of the server's maintenance database: the
// one EnvVar names, or that of a server it starts.
func connectServer() (string, *runner, error) {
	if s := os.Getenv(EnvVar); s != "" {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return "", nil, fmt.Errorf("%s=%q is not a postgres:// URL", EnvVar, s)
		}
		return s, nil, nil
	}
	r, err := startServer()
	if err != nil {
		return "", nil, err
	}
	return r.url, r, nil
}

// admin runs one statement on the maintenance database, on a connection of
// its own so that parallel tests need no lock.
func admin(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", redact(adminURL), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

// newDatabaseName returns a name no other test, in this binary or another
// one sharing the server, will choose: a shared server outlives test runs.
func newDatabaseName() string {
	b := make([]byte, 8)
	rand.Read(b)
	return fmt.Sprintf("truce_test_%d_%s", os.Getpid(), hex.EncodeToString(b))
}

// redact hides a URL's password, for messages.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "the server"
	}
	return u.Redacted()
}
