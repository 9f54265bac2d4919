package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/trucedb/truce/internal/loadgen"
)

// trucePostgresNodes are the node counts of the truce-on-PostgreSQL
// systems, truce-pg1 to truce-pg3.
var trucePostgresNodes = []int{1, 2, 3}

// trucePostgresName is the name (--systems) of truce on PostgreSQL with n
// nodes.
func trucePostgresName(n int) string { return "truce-pg" + strconv.Itoa(n) }

// trucePostgresSystem runs n `truce serve --store postgres://…` nodes on
// one PostgreSQL, started as the postgres system starts it (a fresh
// cluster, fsync and synchronous_commit on). There is no load balancer:
// the load generator spreads its clients over the nodes round-robin
// (loadgen.NewTruceNodes). The CPU of each node and of PostgreSQL (the
// postmaster and its backends) is measured apart.
func trucePostgresSystem(bin, pgBin string, n int, extraArgs []string) system {
	label := "truce on PostgreSQL, 1 node"
	if n > 1 {
		label = fmt.Sprintf("truce on PostgreSQL, %d nodes", n)
	}
	return system{
		name: trucePostgresName(n), label: label,
		// The workloads of issue 18; the others apply too.
		workloads: []string{"read", "update", "update-hot", "merge-hot"},
		start: func(ctx context.Context, dir string) (*server, error) {
			pg, err := startPostgres(ctx, pgBin, dir)
			if err != nil {
				return nil, err
			}
			var nodes []*proc
			stop := func() error {
				var errs []error
				for _, p := range nodes {
					errs = append(errs, p.stop())
				}
				errs = append(errs, pg.proc.stop())
				return errors.Join(errs...)
			}
			var bases []string
			parts := []serverPart{}
			for i := range n {
				name := "truce-" + strconv.Itoa(i+1)
				p, base, err := startTruce(ctx, bin, name, dir, append([]string{"--store", pg.url}, extraArgs...))
				if err != nil {
					stop()
					return nil, fmt.Errorf("node %d: %w", i+1, err)
				}
				nodes = append(nodes, p)
				bases = append(bases, base)
				parts = append(parts, serverPart{name: fmt.Sprintf("node %d", i+1), pid: p.cmd.Process.Pid})
			}
			parts = append(parts, serverPart{name: "PostgreSQL", pid: pg.proc.cmd.Process.Pid})
			return &server{
				version: truceVersion(bin) + "; " + pg.version,
				settings: fmt.Sprintf("%d truce serve --store postgres://… (the store's default pool, %s); one PostgreSQL: %s; "+
					"the load generator's clients spread round-robin over the nodes, client i to node i mod %d, with no load balancer",
					n, "max(8, 4 × GOMAXPROCS) connections a node", pg.settings, n),
				newStore: func(_ context.Context, clients int) (loadgen.Store, error) {
					return loadgen.NewTruceNodes(bases, "bench", "", clients)
				},
				stop: stop,
				status: func() string {
					var s []string
					for _, p := range append(nodes, pg.proc) {
						s = append(s, p.status())
					}
					return strings.Join(s, "\n")
				},
				parts: parts,
			}, nil
		},
	}
}
