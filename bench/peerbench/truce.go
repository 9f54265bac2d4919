package main

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/trucedb/truce/internal/loadgen"
)

// truceSystem runs `truce serve` on Pebble, built from the repository.
func truceSystem(bin string, extraArgs []string) system {
	return system{
		name: "truce", label: "truce (Pebble)",
		workloads: []string{"read", "update", "update-tuned", "update-hot", "merge-hot", "tx-transfer", "lock-cycle", "watch-fanout"},
		start: func(ctx context.Context, dir string) (*server, error) {
			p, base, err := startTruce(ctx, bin, "truce", dir, append([]string{"--data", filepath.Join(dir, "data")}, extraArgs...))
			if err != nil {
				return nil, err
			}
			return &server{
				version:  truceVersion(bin),
				settings: "truce serve, embedded Pebble; every write synced before it is acknowledged (group commit)",
				newStore: func(_ context.Context, clients int) (loadgen.Store, error) {
					return loadgen.NewTruce(base, "bench", "", clients)
				},
				stop:   p.stop,
				status: p.status,
				pid:    p.cmd.Process.Pid,
			}, nil
		},
	}
}

// startTruce starts `truce serve` with args on a free loopback port, its
// log in dir/name.log, and waits until it is ready. It returns the process
// and its base URL. The load generator is one caller: there is no rate
// limit, unless args set one.
func startTruce(ctx context.Context, bin, name, dir string, args []string) (*proc, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args = append([]string{"serve", "--addr", addr, "--log-level", "warn", "--rate-limit", "off"}, args...)
	p, err := startProc(name, filepath.Join(dir, name+".log"), nil, syscall.SIGTERM, bin, args...)
	if err != nil {
		return nil, "", err
	}
	base := "http://" + addr
	err = waitReady(ctx, p, func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/readyz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("/readyz: %d", resp.StatusCode)
		}
		return nil
	})
	if err != nil {
		p.stop()
		return nil, "", err
	}
	return p, base, nil
}

// truceVersion names the commit the binary was built from.
func truceVersion(bin string) string {
	out, err := exec.Command("git", "-C", filepath.Dir(bin), "describe", "--always", "--dirty").Output()
	if err != nil {
		out, err = exec.Command("git", "describe", "--always", "--dirty").Output()
	}
	if err != nil {
		return "unknown commit"
	}
	return "commit " + strings.TrimSpace(string(out))
}
