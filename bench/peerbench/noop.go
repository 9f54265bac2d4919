package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/trucedb/truce/internal/loadgen"
)

// noopCommand is the argument that makes this program the no-op server.
const noopCommand = "noop-server"

// noopSystem runs this program as a no-op net/http server that answers
// every request with the same bytes truce returns for a document: the
// ceiling of the HTTP path on this machine.
func noopSystem(self string, body func() []byte) system {
	return system{
		name: "noop", label: "no-op net/http",
		workloads: []string{"read", "update"},
		start: func(ctx context.Context, dir string) (*server, error) {
			port, err := freePort()
			if err != nil {
				return nil, err
			}
			bodyFile := filepath.Join(dir, "body.json")
			if err := os.WriteFile(bodyFile, body(), 0o644); err != nil {
				return nil, err
			}
			addr := "127.0.0.1:" + strconv.Itoa(port)
			p, err := startProc("noop", filepath.Join(dir, "noop.log"), nil, syscall.SIGTERM, self, noopCommand, "-addr", addr, "-body", bodyFile)
			if err != nil {
				return nil, err
			}
			base := "http://" + addr
			err = waitReady(ctx, p, func(ctx context.Context) error {
				req, _ := http.NewRequestWithContext(ctx, "GET", base+"/", nil)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return err
				}
				return resp.Body.Close()
			})
			if err != nil {
				p.stop()
				return nil, err
			}
			return &server{
				version:  "Go " + goVersion(),
				settings: "net/http handler that drains the request and writes the stored bytes of a truce document with an ETag; no storage",
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

// runNoopServer serves the no-op handler until SIGINT or SIGTERM.
func runNoopServer(args []string) error {
	fs := flag.NewFlagSet(noopCommand, flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	bodyFile := fs.String("body", "", "file whose bytes every answer carries")
	if err := fs.Parse(args); err != nil {
		return err
	}
	body, err := os.ReadFile(*bodyFile)
	if err != nil {
		return err
	}
	length := strconv.Itoa(len(body))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", `"1-1"`)
		w.Header().Set("Content-Length", length)
		_, _ = w.Write(body)
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	fmt.Fprintf(os.Stderr, "no-op server on %s\n", ln.Addr())
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}
