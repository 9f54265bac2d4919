package robustness

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trucedb/truce/internal/pgtest"
	"github.com/trucedb/truce/internal/testserver"
)

// cluster is what a run's clients talk to: one `truce serve` on a Pebble
// data directory, or Config.Nodes of them over one PostgreSQL server.
type cluster struct {
	t     testing.TB
	bin   string
	args  [][]string // each node's flags
	dirs  []string
	nodes []*testserver.Server
	// paused marks the nodes stopped by SIGSTOP.
	paused []bool
	pg     *pgtest.Server // nil for one Pebble server
	url    string         // of the run's database
	sess   *Session
}

// startCluster starts the servers of cfg and a session over them.
func startCluster(t testing.TB, cfg Config, bin string) *cluster {
	t.Helper()
	c := &cluster{t: t, bin: bin}
	n := max(cfg.Nodes, 1)
	if cfg.Nodes > 0 {
		if c.pg = cfg.Postgres; c.pg == nil {
			c.pg = pgtest.NewServer(t)
		}
		c.url = newDatabase(t, c.pg)
	}
	var bases []string
	for range n {
		dir := t.TempDir()
		args := cfg.ServerArgs
		if c.pg != nil {
			dir = c.url // testserver.Start makes it --store
		}
		c.dirs, c.args = append(c.dirs, dir), append(c.args, args)
		srv := testserver.Start(t, bin, dir, args...)
		c.nodes = append(c.nodes, srv)
		bases = append(bases, srv.URL)
	}
	c.paused = make([]bool, n)
	c.sess = NewSession(bases[0], cfg.OpTimeout)
	c.sess.SetBases(bases)
	c.sess.unavailableUnknown.Store(c.pg != nil)
	return c
}

// newDatabase creates a database of its own for a run on pg and returns
// its URL.
func newDatabase(t testing.TB, pg *pgtest.Server) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg.URL())
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("run_%d_%d", time.Now().UnixNano(), rand.Uint32())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create the run's database: %v", err)
	}
	u, err := url.Parse(pg.URL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// describe names the servers for the log.
func (c *cluster) describe() string {
	if c.pg == nil {
		return "1 server on Pebble"
	}
	return fmt.Sprintf("%d nodes on PostgreSQL", len(c.nodes))
}

// pick returns a node at random.
func (c *cluster) pick(rng *rand.Rand) int { return rng.IntN(len(c.nodes)) }

// killNode kills a node chosen at random with SIGKILL, starts it again on
// a new port, and returns its number.
func (c *cluster) killNode(rng *rand.Rand) int {
	c.t.Helper()
	i := c.pick(rng)
	c.nodes[i].Kill()
	c.paused[i] = false
	c.nodes[i] = testserver.Start(c.t, c.bin, c.dirs[i], c.args[i]...)
	c.sess.SetNode(i, c.nodes[i].URL)
	return i
}

// killStore kills PostgreSQL with SIGKILL, leaves it down for a while (the
// nodes answer 503 meanwhile), starts it again and waits until every node
// is ready. Without PostgreSQL it does nothing.
func (c *cluster) killStore(rng *rand.Rand) {
	c.t.Helper()
	if c.pg == nil {
		return
	}
	c.pg.Kill()
	time.Sleep(100*time.Millisecond + randDur(rng, 400*time.Millisecond))
	c.pg.Restart()
	for i, n := range c.nodes {
		if c.paused[i] {
			continue
		}
		c.waitReady(n)
	}
}

// waitReady waits until a node's /readyz answers 200: its store is back.
func (c *cluster) waitReady(n *testserver.Server) {
	c.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", n.URL+"/readyz", nil)
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("node %s not ready a minute after PostgreSQL restarted: %v", n.URL, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// signal sends sig to node i, and remembers whether it is paused.
func (c *cluster) signal(i int, sig syscall.Signal) {
	c.t.Helper()
	c.nodes[i].Signal(sig)
	c.paused[i] = sig == syscall.SIGSTOP
}

// resumeAll sends SIGCONT to every paused node.
func (c *cluster) resumeAll() {
	for i, p := range c.paused {
		if p {
			c.nodes[i].Cmd.Process.Signal(syscall.SIGCONT)
			c.paused[i] = false
		}
	}
}

// stop stops every node, failing the test unless each exits cleanly.
func (c *cluster) stop() {
	c.t.Helper()
	c.resumeAll()
	for _, n := range c.nodes {
		n.Stop()
	}
}
