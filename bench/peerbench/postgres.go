package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/trucedb/truce/internal/loadgen"
)

// postgresSystem runs Debian's PostgreSQL in a fresh cluster on loopback
// with durable settings (fsync, synchronous_commit on), and the
// optimistic-locking pattern people write by hand.
func postgresSystem(binDir string) system {
	return system{
		name: "postgres", label: "PostgreSQL",
		workloads: []string{"read", "update", "update-hot"},
		start: func(ctx context.Context, dir string) (*server, error) {
			pg, err := startPostgres(ctx, binDir, dir)
			if err != nil {
				return nil, err
			}
			return &server{
				version:  pg.version,
				settings: pg.settings + "; pgx pool of one connection per client",
				newStore: func(ctx context.Context, clients int) (loadgen.Store, error) {
					return newPostgresStore(ctx, pg.url, clients)
				},
				stop:   pg.proc.stop,
				status: pg.proc.status,
				pid:    pg.proc.cmd.Process.Pid,
			}, nil
		},
	}
}

// postgresServer is a running PostgreSQL.
type postgresServer struct {
	proc *proc
	// url connects to its database as a superuser, over TCP.
	url               string
	version, settings string
}

// startPostgres starts PostgreSQL in a fresh cluster in dir, on a free
// loopback port, with durable settings, and waits until it accepts
// connections.
func startPostgres(ctx context.Context, binDir, dir string) (*postgresServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "pg")
	cred, err := postgresCredential(dir)
	if err != nil {
		return nil, err
	}
	initdb := exec.Command(filepath.Join(binDir, "initdb"), "-D", data, "-U", "bench", "--auth=trust", "-E", "UTF8", "--no-instructions")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	// SIGINT is PostgreSQL's fast shutdown.
	p, err := startProc("postgres", filepath.Join(dir, "postgres.log"), cred, syscall.SIGINT,
		filepath.Join(binDir, "postgres"), "-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=on", "-c", "synchronous_commit=on",
		"-c", "full_page_writes=on", "-c", "max_connections=300", "-c", "shared_buffers=256MB")
	if err != nil {
		return nil, err
	}
	url := fmt.Sprintf("postgres://bench@127.0.0.1:%d/postgres?sslmode=disable", port)
	err = waitReady(ctx, p, func(ctx context.Context) error {
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		return c.Close(ctx)
	})
	if err != nil {
		p.stop()
		return nil, err
	}
	return &postgresServer{
		proc:     p,
		url:      url,
		version:  commandVersion(filepath.Join(binDir, "postgres"), "--version"),
		settings: "fresh cluster on loopback; fsync=on, synchronous_commit=on, full_page_writes=on, shared_buffers=256MB",
	}, nil
}

// postgresCredential returns the user PostgreSQL must run as: the
// "postgres" user when this process is root (PostgreSQL refuses to run as
// root), after giving it dir; nil otherwise.
func postgresCredential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL will not run as root and there is no postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// postgresStore is the hand-written pattern: a table with a version column,
// and UPDATE … WHERE id = $2 AND version = $3 as the swap.
type postgresStore struct {
	pool *pgxpool.Pool
}

func newPostgresStore(ctx context.Context, url string, clients int) (*postgresStore, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = int32(max(clients, 1))
	cfg.MinConns = cfg.MaxConns
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &postgresStore{pool: pool}, nil
}

func (s *postgresStore) Init(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS docs (
		id text PRIMARY KEY,
		doc jsonb NOT NULL,
		version bigint NOT NULL)`)
	return err
}

func (s *postgresStore) Put(ctx context.Context, key string, doc []byte) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO docs (id, doc, version) VALUES ($1, $2, 1)
		ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, version = docs.version + 1`, key, string(doc))
	return err
}

func (s *postgresStore) Create(ctx context.Context, key string, doc []byte) (bool, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO docs (id, doc, version) VALUES ($1, $2, 1) ON CONFLICT (id) DO NOTHING`, key, string(doc))
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

func (s *postgresStore) Get(ctx context.Context, key string) ([]byte, string, bool, error) {
	var doc string
	var version int64
	err := s.pool.QueryRow(ctx, `SELECT doc::text, version FROM docs WHERE id = $1`, key).Scan(&doc, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", false, nil
	}
	if err != nil {
		return nil, "", false, err
	}
	return []byte(doc), strconv.FormatInt(version, 10), true, nil
}

func (s *postgresStore) Swap(ctx context.Context, key, version string, doc []byte) (bool, error) {
	v, err := strconv.ParseInt(version, 10, 64)
	if err != nil {
		return false, fmt.Errorf("postgres version %q: %w", version, err)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE docs SET doc = $1, version = version + 1 WHERE id = $2 AND version = $3`, string(doc), key, v)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

func (s *postgresStore) Close() error {
	s.pool.Close()
	return nil
}
