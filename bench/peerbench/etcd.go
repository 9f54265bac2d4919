package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/trucedb/truce/internal/loadgen"
)

// etcdConns is how many gRPC connections the etcd clients share; each
// multiplexes many concurrent requests.
const etcdConns = 8

// etcdSystem runs Debian's etcd as a one-member cluster on loopback, with
// its default durability: the WAL is fsynced before a write is answered.
func etcdSystem(bin string) system {
	return system{
		name: "etcd", label: "etcd",
		workloads: []string{"read", "update", "update-hot"},
		start: func(ctx context.Context, dir string) (*server, error) {
			cport, err := freePort()
			if err != nil {
				return nil, err
			}
			pport, err := freePort()
			if err != nil {
				return nil, err
			}
			client := "http://127.0.0.1:" + strconv.Itoa(cport)
			peer := "http://127.0.0.1:" + strconv.Itoa(pport)
			p, err := startProc("etcd", filepath.Join(dir, "etcd.log"), nil, syscall.SIGTERM, bin,
				"--name", "bench", "--data-dir", filepath.Join(dir, "etcd"),
				"--listen-client-urls", client, "--advertise-client-urls", client,
				"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
				"--initial-cluster", "bench="+peer, "--initial-cluster-state", "new",
				"--quota-backend-bytes", strconv.Itoa(8<<30), "--logger", "zap", "--log-level", "warn")
			if err != nil {
				return nil, err
			}
			err = waitReady(ctx, p, func(ctx context.Context) error {
				c, err := clientv3.New(clientv3.Config{Endpoints: []string{client}, DialTimeout: 2 * time.Second})
				if err != nil {
					return err
				}
				defer c.Close()
				_, err = c.Get(ctx, "/ready")
				return err
			})
			if err != nil {
				p.stop()
				return nil, err
			}
			return &server{
				version:  commandVersion(bin, "--version"),
				settings: "one member on loopback, default durability (WAL fsync before each answer, batched)",
				newStore: func(ctx context.Context, clients int) (loadgen.Store, error) {
					return newEtcdStore(client, min(clients, etcdConns))
				},
				stop:   p.stop,
				status: p.status,
				pid:    p.cmd.Process.Pid,
			}, nil
		},
	}
}

// etcdStore is etcd as a loadgen.Store: keys under /bench/, the key's
// mod_revision as the version, a Txn comparing it as the swap.
type etcdStore struct {
	clients []*clientv3.Client
	next    atomic.Uint64
}

func newEtcdStore(endpoint string, conns int) (*etcdStore, error) {
	s := &etcdStore{}
	for range max(conns, 1) {
		c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second})
		if err != nil {
			s.Close()
			return nil, err
		}
		s.clients = append(s.clients, c)
	}
	return s, nil
}

func (s *etcdStore) kv() *clientv3.Client {
	return s.clients[s.next.Add(1)%uint64(len(s.clients))]
}

func etcdKey(key string) string { return "/bench/" + key }

func (s *etcdStore) Init(context.Context) error { return nil }

func (s *etcdStore) Put(ctx context.Context, key string, doc []byte) error {
	_, err := s.kv().Put(ctx, etcdKey(key), string(doc))
	return err
}

func (s *etcdStore) Create(ctx context.Context, key string, doc []byte) (bool, error) {
	k := etcdKey(key)
	r, err := s.kv().Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, string(doc))).Commit()
	if err != nil {
		return false, err
	}
	return r.Succeeded, nil
}

func (s *etcdStore) Get(ctx context.Context, key string) ([]byte, string, bool, error) {
	r, err := s.kv().Get(ctx, etcdKey(key))
	if err != nil {
		return nil, "", false, err
	}
	if len(r.Kvs) == 0 {
		return nil, "", false, nil
	}
	return r.Kvs[0].Value, strconv.FormatInt(r.Kvs[0].ModRevision, 10), true, nil
}

func (s *etcdStore) Swap(ctx context.Context, key, version string, doc []byte) (bool, error) {
	rev, err := strconv.ParseInt(version, 10, 64)
	if err != nil {
		return false, fmt.Errorf("etcd version %q: %w", version, err)
	}
	k := etcdKey(key)
	r, err := s.kv().Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(k), "=", rev)).
		Then(clientv3.OpPut(k, string(doc))).Commit()
	if err != nil {
		return false, err
	}
	return r.Succeeded, nil
}

func (s *etcdStore) Close() error {
	for _, c := range s.clients {
		c.Close()
	}
	return nil
}

// commandVersion runs bin with args and returns the first line it prints.
func commandVersion(bin string, args ...string) string {
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		return "unknown version"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}
