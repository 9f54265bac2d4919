package main

import (
	"context"

	"github.com/trucedb/truce/internal/loadgen"
)

// system is one of the servers compared.
type system struct {
	// name is the short name (--systems), label the one in tables.
	name, label string
	// workloads are those that apply to it, in the order they run.
	workloads []string
	// start starts the server in dir and returns it running.
	start func(ctx context.Context, dir string) (*server, error)
}

// server is a started system.
type server struct {
	// version is what the server says it is.
	version string
	// settings says how it was configured, for the report.
	settings string
	// newStore returns a Store for clients concurrent clients.
	newStore func(ctx context.Context, clients int) (loadgen.Store, error)
	// stop stops it.
	stop func() error
	// status says whether its process is still running, with the end of
	// its log: what an error report needs.
	status func() string
	// pid is its main process, whose CPU time, with its descendants', is
	// measured. A server of several processes that are not one tree sets
	// parts instead.
	pid int
	// parts, if not empty, are the server's processes, each measured
	// with its descendants and reported apart; the server's CPU is their
	// sum.
	parts []serverPart
}

// serverPart is a process of a server whose CPU is reported apart: a truce
// node, or PostgreSQL behind them.
type serverPart struct {
	name string
	pid  int
}

// roots returns the processes whose trees make up the server, and their
// names (empty for a server of one process).
func (s *server) roots() ([]int, []string) {
	if len(s.parts) == 0 {
		return []int{s.pid}, nil
	}
	var pids []int
	var names []string
	for _, p := range s.parts {
		pids = append(pids, p.pid)
		names = append(names, p.name)
	}
	return pids, names
}
