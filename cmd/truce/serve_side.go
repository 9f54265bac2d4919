package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"

	trucehttp "github.com/trucedb/truce/http"
)

// sideServers are the listeners beside --addr: --metrics-addr and
// --debug-addr, which need no token and so belong on private networks.
type sideServers []*http.Server

// sideListeners starts the side listeners the flags ask for.
func (o *serveOptions) sideListeners(metrics *trucehttp.Metrics, log *slog.Logger) (sideServers, error) {
	var side sideServers
	start := func(name, addr string, h http.Handler) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			side.close()
			return fmt.Errorf("listen on %s (%s): %w", addr, name, err)
		}
		srv := trucehttp.NewServer(h)
		srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
		side = append(side, srv)
		go func() { _ = srv.Serve(ln) }()
		// Not "listening": scripts take the first such line for --addr's.
		log.Info("serving "+name, "addr", ln.Addr().String())
		return nil
	}
	if o.metricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metrics.Handler())
		if err := start("metrics", o.metricsAddr, mux); err != nil {
			return nil, err
		}
	}
	if o.debugAddr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		if err := start("pprof", o.debugAddr, mux); err != nil {
			return nil, err
		}
	}
	return side, nil
}

// close stops the side listeners at once: they serve nothing that must
// finish.
func (s sideServers) close() {
	for _, srv := range s {
		srv.Close()
	}
}
