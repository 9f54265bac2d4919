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
	// measured.
	pid int
}
