package robustness

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Fault is something the nemesis does to the server during a run.
type Fault string

// The faults.
const (
	// Kill: SIGKILL, then a restart on the same data directory (and a new
	// port), then the acknowledged-writes check.
	Kill Fault = "kill"
	// Pause: SIGSTOP for longer than a request's timeout, then SIGCONT;
	// requests that timed out may still take effect after it.
	Pause Fault = "pause"
	// Timeouts: for a while, clients give up on requests after a random
	// few milliseconds, while the server goes on with them.
	Timeouts Fault = "timeouts"
	// KillStore: with several nodes, SIGKILL of PostgreSQL (every one of
	// its processes), a restart on the same cluster after a while, then
	// the acknowledged-writes check once every node answers again.
	KillStore Fault = "kill-postgres"
)

// AllFaults lists every fault of one server.
var AllFaults = []Fault{Kill, Pause, Timeouts}

// ClusterFaults lists every fault of several nodes over PostgreSQL.
var ClusterFaults = []Fault{Kill, KillStore, Pause, Timeouts}

// ParseFaults parses a comma-separated list of faults ("kill,pause").
func ParseFaults(s string) ([]Fault, error) {
	var fs []Fault
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		switch Fault(f) {
		case Kill, Pause, Timeouts, KillStore:
			fs = append(fs, Fault(f))
		case "":
		default:
			return nil, fmt.Errorf("unknown fault %q: use kill, pause, timeouts or kill-postgres", f)
		}
	}
	return fs, nil
}

func pick(rng *rand.Rand, fs []Fault) Fault { return fs[rng.IntN(len(fs))] }
