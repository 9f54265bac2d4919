package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/time/rate"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/auth"
	trucehttp "github.com/trucedb/truce/http"
	"github.com/trucedb/truce/pebble"
	"github.com/trucedb/truce/postgres"
	"github.com/trucedb/truce/web"
)

// shutdownTimeout bounds how long requests in flight may take to finish
// once a stop signal arrives.
const shutdownTimeout = 10 * time.Second

// The defaults of --max-inflight and --max-conns-per-ip: far above what
// one node serves well at once (its disk shares fsyncs among a few dozen
// writers), and far below what exhausts its memory or file descriptors.
const (
	defaultMaxInflight   = 1024
	defaultMaxConnsPerIP = 4096
)

// serveOptions holds the flags of `truce serve`.
type serveOptions struct {
	addr           string
	dataDir        string
	storeURL       string
	maxDocBytes    int
	idempotencyTTL time.Duration
	maxLockTTL     time.Duration
	maxTxOps       int
	maxScanDocs    int
	maxTxBytes     int64
	maxTxTTL       time.Duration
	eventRetention string
	insecureNoAuth bool
	authFile       string
	rateLimit      string
	burst          int
	tlsCert        string
	tlsKey         string
	logLevel       *enumValue
	logFormat      *enumValue
	cpuProfile     string
	metrics        bool
	metricsAddr    string
	accessLog      bool
	h2c            bool
	debugAddr      string
	maxInflight    int
	maxConnsPerIP  int
	diskReserve    int64
	docCache       int
	corsOrigins    []string
}

func newServeCmd(stderr io.Writer) *cobra.Command {
	o := &serveOptions{
		logLevel:  newEnumValue("info", "debug", "info", "warn", "error"),
		logFormat: newEnumValue("text", "text", "json"),
	}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the truce server",
		Long: `Run the truce server on an embedded Pebble store in the --data directory,
or on PostgreSQL with --store postgres://…, where any number of truce
servers may share one database (its schema "truce" is created and
migrated at start; the URL's pool_max_conns bounds each server's
connections, 4 per core by default).

It logs the address it listens on to stderr ("listening addr=HOST:PORT");
--addr 127.0.0.1:0 picks a free port. With --auth-file every request but
/healthz, /readyz and /problems/ needs a bearer token from that file
(truce token create makes them); without it the server listens on
loopback addresses only, unless --insecure-no-auth is given. Each caller
(token, else address) may make --rate-limit requests (1000/s by default).
--tls-cert and --tls-key serve HTTPS and HTTP/2; SIGHUP reloads them and
the auth file, which is also reloaded when it changes. --cors-origin lets
the pages of other origins call the API from a browser (CORS).

On SIGINT or SIGTERM it stops accepting connections, lets the requests in
flight finish (for up to 10 s), closes the store and exits 0. A second
signal stops it at once.

The Go heap may grow by at least 32 MiB of garbage between collections
(by as much as the live heap once that is larger), which spares a small
heap most of its collections; GOGC in the environment sets the collector
instead. It runs one more Go processor (GOMAXPROCS) than the machine has
cores, which lowers the latency of durable writes when every core is busy;
with GOMAXPROCS in the environment, or under a cgroup CPU quota (a
container's CPU limit), it keeps Go's setting instead. Built with cgo on
glibc, the binary keeps C's malloc, which holds the store's caches, to 2
arenas, which bounds the memory freed but not reused; MALLOC_ARENA_MAX, or
glibc.malloc.arena_max in GLIBC_TUNABLES, sets the limit instead.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.storeURL != "" && cmd.Flags().Changed("data") {
				return usageErrorf("give --data or --store, not both")
			}
			return o.run(cmd.Context(), stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:8080", "`host:port` to listen on")
	f.StringVar(&o.dataDir, "data", "./truce-data", "`directory` of the embedded store; created if missing")
	f.StringVar(&o.storeURL, "store", "", "PostgreSQL `URL` (postgres://user:password@host:port/database) to keep the data in instead of --data; several servers may share it")
	f.IntVar(&o.maxDocBytes, "max-doc-bytes", truce.DefaultMaxDocBytes, "largest document body accepted, in `bytes`")
	f.DurationVar(&o.idempotencyTTL, "idempotency-ttl", truce.DefaultIdempotencyTTL, "how long answers to Idempotency-Key requests are kept (`duration`)")
	f.DurationVar(&o.maxLockTTL, "max-lock-ttl", truce.DefaultMaxLockTTL, "cap on the ttl and the wait of lock requests (`duration`)")
	f.IntVar(&o.maxTxOps, "max-tx-ops", truce.DefaultMaxOps, "most operations in one transaction (`n`)")
	f.Int64Var(&o.maxTxBytes, "max-tx-bytes", trucehttp.DefaultMaxBatchBytes, "largest POST /v1/tx body accepted, in `bytes`")
	f.DurationVar(&o.maxTxTTL, "max-tx-ttl", truce.DefaultMaxTransactionTTL, "longest TTL of an interactive transaction (`duration`); longer ones are capped")
	f.IntVar(&o.maxScanDocs, "max-scan-docs", truce.DefaultMaxScanDocs, "most documents one page of a query with \"scan\": true may examine (`n`); past it, 400 scan_too_large")
	f.StringVar(&o.eventRetention, "event-retention", truce.DefaultEventRetention.String(), "how much of the change feed to keep: an `age` (168h), a count of events (1000000), both (168h,1000000) or 0 for all; older resumes are 410 events_expired")
	f.BoolVar(&o.insecureNoAuth, "insecure-no-auth", false, "allow a non-loopback --addr without authentication")
	f.StringVar(&o.authFile, "auth-file", "", "`PATH` of the auth file of bearer tokens (truce token create makes it); reloaded when it changes and on SIGHUP")
	f.StringVar(&o.rateLimit, "rate-limit", "1000/s", "each caller's (token's, else address's) `rate` of requests, such as 1000/s or 600/m; off for none")
	f.IntVar(&o.burst, "burst", 0, "how many requests a caller may make at once (`n`); 0: two seconds of --rate-limit (2000 at 1000/s)")
	f.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate `file` (chain) to serve HTTPS and HTTP/2 with --tls-key; reloaded on SIGHUP")
	f.StringVar(&o.tlsKey, "tls-key", "", "PEM private key `file` of --tls-cert")
	f.Var(o.logLevel, "log-level", "least severe log `level`: debug, info, warn or error")
	f.Var(o.logFormat, "log-format", "log `format`: text or json")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the server to `file` until it stops (for go tool pprof)")
	f.BoolVar(&o.metrics, "metrics", true, "keep Prometheus metrics, served at /metrics to admin tokens (and on --metrics-addr)")
	f.StringVar(&o.metricsAddr, "metrics-addr", "", "also serve /metrics on this `host:port`, without authentication (keep it off public networks)")
	f.BoolVar(&o.h2c, "h2c", true, "also serve HTTP/2 without TLS (h2c, prior knowledge) on a plain --addr, beside HTTP/1.1; client.WithHTTP2 and truce bench --h2c use it")
	f.BoolVar(&o.accessLog, "access-log", false, "log one line per request at info level (request id, route, status, code, duration, caller, collection, id, bytes)")
	f.IntVar(&o.maxInflight, "max-inflight", defaultMaxInflight, "most requests served at once (`n`); past it, 503 overloaded with Retry-After at once; 0 for no cap. Probes, /metrics and the change feed's streams and long polls are not counted")
	f.IntVar(&o.maxConnsPerIP, "max-conns-per-ip", defaultMaxConnsPerIP, "most open connections from one client address (`n`); past it, a new connection is answered 503 overloaded and closed; 0 for no cap")
	f.Int64Var(&o.diskReserve, "disk-reserve", pebble.DefaultReserveBytes, "free `bytes` to keep on the --data disk: while less is free, writes are 507 insufficient_storage and reads go on; 0 for no reserve")
	f.IntVar(&o.docCache, "doc-cache", pebble.DefaultDocumentCacheSize, "`bytes` of current documents the embedded store keeps in memory, encoded (the document cache): writes read what they replace from it, and reads and query pages the documents they return (reads fill its free room); each document at most 16 KiB")
	f.StringVar(&o.debugAddr, "debug-addr", "", "serve Go's /debug/pprof/ on this `host:port` (never on --addr), without authentication")
	f.StringArrayVar(&o.corsOrigins, "cors-origin", nil, "an `origin` (https://app.example.com) whose pages may call the API from a browser (CORS); repeat for more, * for any")
	return cmd
}

// run serves until ctx is done or a stop signal arrives.
func (o *serveOptions) run(ctx context.Context, stderr io.Writer) error {
	if o.maxDocBytes <= 0 {
		return usageErrorf("--max-doc-bytes must be positive, not %d", o.maxDocBytes)
	}
	if o.idempotencyTTL <= 0 {
		return usageErrorf("--idempotency-ttl must be positive, not %s", o.idempotencyTTL)
	}
	if o.maxLockTTL <= 0 {
		return usageErrorf("--max-lock-ttl must be positive, not %s", o.maxLockTTL)
	}
	if o.maxTxOps <= 0 || o.maxTxBytes <= 0 || o.maxTxTTL <= 0 {
		return usageErrorf("--max-tx-ops, --max-tx-bytes and --max-tx-ttl must be positive")
	}
	if o.maxInflight < 0 || o.maxConnsPerIP < 0 {
		return usageErrorf("--max-inflight and --max-conns-per-ip must not be negative (0: no cap)")
	}
	if o.diskReserve < 0 {
		return usageErrorf("--disk-reserve must not be negative (0: no reserve), not %d", o.diskReserve)
	}
	if o.docCache <= 0 {
		return usageErrorf("--doc-cache must be positive, not %d", o.docCache)
	}
	if o.maxScanDocs <= 0 {
		return usageErrorf("--max-scan-docs must be positive, not %d", o.maxScanDocs)
	}
	retention, err := truce.ParseEventRetention(o.eventRetention)
	if err != nil {
		return usageErrorf("--event-retention: %v", err)
	}
	if o.storeURL != "" {
		if !strings.HasPrefix(o.storeURL, "postgres://") && !strings.HasPrefix(o.storeURL, "postgresql://") {
			return usageErrorf("--store must be a postgres:// URL")
		}
	} else if o.dataDir == "" {
		return usageErrorf("--data must name a directory")
	}
	limit := rate.Inf
	if o.rateLimit != "off" {
		if limit, err = auth.ParseRate(o.rateLimit); err != nil {
			return usageErrorf("--rate-limit: %v, or off", err)
		}
	}
	if o.burst < 0 {
		return usageErrorf("--burst must not be negative, not %d", o.burst)
	}
	for _, origin := range o.corsOrigins {
		if err := trucehttp.CheckCORSOrigin(origin); err != nil {
			return usageErrorf("--cors-origin: %v", err)
		}
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return usageErrorf("--tls-cert and --tls-key go together")
	}
	if o.metricsAddr != "" && !o.metrics {
		return usageErrorf("--metrics-addr needs --metrics")
	}
	if o.authFile == "" && !o.insecureNoAuth {
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := checkLoopback(lctx, o.addr, net.DefaultResolver.LookupNetIP)
		cancel()
		if err != nil {
			return &usageError{err: err}
		}
	}
	log := newLogger(stderr, o.logLevel.value, o.logFormat.value)
	stopProfile, err := startCPUProfile(o.cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	var keeper *auth.Keeper
	if o.authFile != "" {
		if keeper, err = auth.NewKeeper(o.authFile, log); err != nil {
			return &usageError{err: fmt.Errorf("--auth-file: %w", err)}
		}
	}
	var certs *certKeeper
	if o.tlsCert != "" {
		if certs, err = newCertKeeper(o.tlsCert, o.tlsKey); err != nil {
			return &usageError{err: err}
		}
	}

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.addr, err)
	}
	// The name may have resolved differently when we listened.
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && o.authFile == "" && !o.insecureNoAuth && !tcp.IP.IsLoopback() {
		ln.Close()
		return &usageError{err: notLoopbackError(o.addr)}
	}

	store, err := o.openStore(ctx, log)
	if err != nil {
		ln.Close()
		return err
	}
	svc := truce.NewService(store, truce.Options{MaxDocBytes: o.maxDocBytes, IdempotencyTTL: o.idempotencyTTL,
		MaxLockTTL: o.maxLockTTL, MaxOps: o.maxTxOps, MaxTransactionTTL: o.maxTxTTL,
		MaxScanDocs: o.maxScanDocs, EventRetention: retention, Logger: log})
	// The background work stops before the store closes, on every way out.
	upkeepCtx, stopUpkeep := context.WithCancel(context.Background())
	upkeepDone := make(chan struct{})
	go func() {
		defer close(upkeepDone)
		_ = svc.Run(upkeepCtx)
	}()
	go tuneGC(upkeepCtx)
	if keeper != nil {
		go keeper.Watch(upkeepCtx, authFilePoll)
	}
	if keeper != nil || certs != nil {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP) // before anything is served
		defer signal.Stop(hup)
		go reloadOnHangup(upkeepCtx, hup, log, keeper, certs)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && keeper != nil && certs == nil && !tcp.IP.IsLoopback() {
		log.Warn("bearer tokens will cross the network in clear: serve HTTPS with --tls-cert and --tls-key, or put a TLS-terminating proxy in front")
	}
	defer useSpareProc()()
	var once sync.Once
	stopUpkeeping := func() { once.Do(func() { stopUpkeep(); <-upkeepDone }) }
	defer stopUpkeeping()
	var metrics *trucehttp.Metrics
	if o.metrics {
		metrics = trucehttp.NewMetrics(trucehttp.MetricsOptions{})
		if _, err := metrics.RegisterStore(store); err != nil {
			stopUpkeeping()
			store.Close()
			return fmt.Errorf("the store's metrics: %w", err)
		}
	}
	side, err := o.sideListeners(metrics, log)
	if err != nil {
		stopUpkeeping()
		store.Close()
		return err
	}
	defer side.close()
	handler := trucehttp.NewHandler(svc, trucehttp.Options{Logger: log, MaxTxBodyBytes: o.maxTxBytes,
		Auth: keeper, RateLimit: limit, Burst: o.burst, Metrics: metrics, AccessLog: o.accessLog,
		MaxInflight: o.maxInflight, Console: web.Console, CORSOrigins: o.corsOrigins})
	traced, stopTracing, err := startTracing(ctx, handler, log)
	if err != nil {
		stopUpkeeping()
		store.Close()
		return fmt.Errorf("tracing: %w", err)
	}
	defer func() {
		tctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = stopTracing(tctx)
	}()
	srv := trucehttp.NewServer(traced)
	srv.Protocols.SetUnencryptedHTTP2(o.h2c)
	// Shutdown waits for requests to end; event streams end only when told.
	srv.RegisterOnShutdown(handler.CloseStreams)
	if srv.ErrorLog == nil {
		srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	}

	ln = trucehttp.LimitListener(ln, o.maxConnsPerIP, certs == nil)
	served := make(chan error, 1)
	scheme := "http"
	if certs != nil {
		scheme = "https"
		srv.TLSConfig = certs.config()
		go func() { served <- srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { served <- srv.Serve(ln) }()
	}
	log.Info("listening", "addr", ln.Addr().String(), "scheme", scheme, "auth", keeper != nil)

	select {
	case err := <-served:
		stopUpkeeping()
		store.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	stop() // from here on, a second signal kills the process
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("requests still in flight at the shutdown deadline; closing their connections", "err", err)
		srv.Close()
	}
	// Shutdown starts CloseStreams in a goroutine and does not wait for
	// hijacked connections: end the streams for sure before the store
	// closes, so that WebSocket subscribers hear "going away" rather than
	// a store failure.
	handler.CloseStreams()
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		log.Warn("serve", "err", err)
	}
	stopUpkeeping()
	if err := store.Close(); err != nil {
		return fmt.Errorf("close the store: %w", err)
	}
	log.Info("stopped")
	return nil
}

// openStore opens the store that --store or --data names.
func (o *serveOptions) openStore(ctx context.Context, log *slog.Logger) (truce.Store, error) {
	if o.storeURL == "" {
		reserve := o.diskReserve
		if reserve == 0 {
			reserve = -1 // pebble's "none"
		}
		return openStore(o.dataDir, log, pebble.Options{ReserveBytes: reserve, DocumentCacheSize: o.docCache})
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	store, err := postgres.Open(ctx, o.storeURL, postgres.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open the store on PostgreSQL: %w", err)
	}
	return store, nil
}

// openStore opens the Pebble store in dir with opts and log, creating dir
// if needed.
func openStore(dir string, log *slog.Logger, opts pebble.Options) (*pebble.Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create the data directory: %w", err)
	}
	opts.Logger = log
	store, err := pebble.Open(dir, opts)
	if err != nil {
		if lockHeld(err) {
			return nil, fmt.Errorf("data directory %s is in use by another process (it holds the LOCK file); stop it or choose another --data: %w", dir, err)
		}
		return nil, fmt.Errorf("open the store in %s: %w", dir, err)
	}
	return store, nil
}

// lockHeld reports whether err is Pebble failing to take the directory's
// LOCK file because another process holds it: fcntl(F_SETLK) fails with
// EAGAIN or EACCES, unlike a failure to create the file, which is a
// PathError.
func lockHeld(err error) bool {
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		return false
	}
	return errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES)
}

// lookupNetIP resolves a host name, as net.Resolver.LookupNetIP does.
type lookupNetIP func(ctx context.Context, network, host string) ([]netip.Addr, error)

// checkLoopback returns an error unless every address that addr's host
// names is a loopback address. An empty host means every interface.
func checkLoopback(ctx context.Context, addr string, lookup lookupNetIP) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", addr, err)
	}
	if host == "" {
		return notLoopbackError(addr)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if !ip.Unmap().IsLoopback() {
			return notLoopbackError(addr)
		}
		return nil
	}
	ips, err := lookup(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("--addr %q: cannot resolve %s: %w", addr, host, err)
	}
	if len(ips) == 0 {
		return fmt.Errorf("--addr %q: %s has no addresses", addr, host)
	}
	for _, ip := range ips {
		if !ip.Unmap().IsLoopback() {
			return notLoopbackError(addr)
		}
	}
	return nil
}

func notLoopbackError(addr string) error {
	return fmt.Errorf("--addr %s is not a loopback address: without authentication truce listens on loopback only (for example --addr 127.0.0.1:8080); add --insecure-no-auth to serve every client on the network without authentication", addr)
}

// newLogger returns a logger that writes to w at level and above in format
// (text or json).
func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		lvl = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// authFilePoll is how often the server looks for a change of --auth-file.
const authFilePoll = 2 * time.Second

// reloadOnHangup reloads the auth file and the TLS pair on each SIGHUP (hup),
// until ctx ends. A file that does not load keeps the previous one (and
// says why in the log); connections are not dropped.
func reloadOnHangup(ctx context.Context, hup <-chan os.Signal, log *slog.Logger, keeper *auth.Keeper, certs *certKeeper) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		log.Info("SIGHUP: reloading")
		if keeper != nil {
			_ = keeper.Reload() // logs its own outcome
		}
		if certs != nil {
			certs.reloadLogged(log)
		}
	}
}
