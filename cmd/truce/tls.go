package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"sync/atomic"
)

// certKeeper holds the server's certificate and key, and loads them again
// on SIGHUP, so that a renewed certificate is served without a restart.
// Connections open keep the certificate they started with.
type certKeeper struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// newCertKeeper loads the pair; it must load.
func newCertKeeper(certFile, keyFile string) (*certKeeper, error) {
	k := &certKeeper{certFile: certFile, keyFile: keyFile}
	if err := k.reload(); err != nil {
		return nil, err
	}
	return k, nil
}

// reload loads the pair again; on failure the previous one stays.
func (k *certKeeper) reload() error {
	c, err := tls.LoadX509KeyPair(k.certFile, k.keyFile)
	if err != nil {
		return fmt.Errorf("load --tls-cert %s and --tls-key %s: %w", k.certFile, k.keyFile, err)
	}
	k.cur.Store(&c)
	return nil
}

// reloadLogged is reload for SIGHUP: it says what happened in the log.
func (k *certKeeper) reloadLogged(log *slog.Logger) {
	if err := k.reload(); err != nil {
		log.Error("TLS certificate not reloaded; serving the previous one", "err", err)
		return
	}
	log.Info("TLS certificate reloaded", "cert", k.certFile)
}

// config returns the server's TLS configuration: TLS 1.2 or later, the
// current certificate, and HTTP/2 (which http.Server.ServeTLS offers).
func (k *certKeeper) config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return k.cur.Load(), nil
		},
	}
}
