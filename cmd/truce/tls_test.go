package main_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trucedb/truce/client"
	"github.com/trucedb/truce/internal/testserver"
)

// writeCert writes a self-signed certificate for 127.0.0.1 and its key,
// named cn, into dir, and returns their paths.
func writeCert(t *testing.T, dir, cn string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, cn+".pem"), filepath.Join(dir, cn+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestNetworkServer runs the binary as a team would put it on a network:
// a token made with `truce token create`, --auth-file and TLS. The SDK and
// the CLI work over HTTPS (HTTP/2) with --ca-file and the token; a call
// without the token is 401; a revoked token stops working once the file
// is saved; SIGHUP serves a renewed certificate.
func TestNetworkServer(t *testing.T) {
	bin := testserver.Build(t)
	dir := t.TempDir()
	authFile := filepath.Join(dir, "auth.json")
	code, out, errs := runTruce(t, bin, "token", "create", "--auth-file", authFile, "--name", "ci", "--scope", "write:notes")
	if code != 0 {
		t.Fatalf("token create: %d %s", code, errs)
	}
	token := strings.TrimSpace(out)
	certFile, keyFile := writeCert(t, dir, "first")
	srv := testserver.Start(t, bin, t.TempDir(), "--auth-file", authFile, "--tls-cert", certFile, "--tls-key", keyFile)
	base := "https://" + strings.TrimPrefix(srv.URL, "http://")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	c, err := client.New(base, client.WithToken(token), client.WithCAFile(certFile))
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.Put(ctx, "notes", "n1", map[string]any{"title": "over TLS"})
	if err != nil {
		t.Fatal(err)
	}
	if d.UpdatedBy != "ci" {
		t.Errorf("_updatedBy %q, want ci", d.UpdatedBy)
	}
	code, out, errs = runTruce(t, bin, "get", "notes", "n1", "--server", base, "--token", token, "--ca-file", certFile, "--json")
	if code != 0 || !strings.Contains(out, `"title":"over TLS"`) {
		t.Fatalf("truce get over TLS: %d %s %s", code, out, errs)
	}
	code, _, errs = runTruce(t, bin, "get", "notes", "n1", "--server", base, "--ca-file", certFile)
	if code != 1 || !strings.Contains(errs, "unauthorized") {
		t.Fatalf("truce get without a token: %d %s", code, errs)
	}

	// HTTP/2, and the certificate the server shows.
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(certFile)
	pool.AppendCertsFromPEM(pem)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	resp, err := hc.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Errorf("protocol %s, want HTTP/2", resp.Proto)
	}
	served := func() string {
		conn, err := tls.Dial("tcp", strings.TrimPrefix(base, "https://"), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if cn := served(); cn != "first" {
		t.Fatalf("serves %q", cn)
	}
	second, secondKey := writeCert(t, dir, "second")
	if err := os.Rename(second, certFile); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(secondKey, keyFile); err != nil {
		t.Fatal(err)
	}
	srv.Signal(syscall.SIGHUP)
	waitUntil(t, func() bool { return served() == "second" })

	// Revoking the token takes effect without a restart.
	if code, _, errs := runTruce(t, bin, "token", "revoke", "--auth-file", authFile, "--name", "ci"); code != 0 {
		t.Fatalf("revoke: %s", errs)
	}
	waitUntil(t, func() bool {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		req, _ := http.NewRequest("GET", base+"/v1/collections/notes/docs/n1", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusUnauthorized
	})
}

// waitUntil polls cond for up to 15 s.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(errors.New("condition not met within 15s"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAuthFileAllowsNetwork: with --auth-file the server may listen on
// every interface, since no request is served without a token.
func TestAuthFileAllowsNetwork(t *testing.T) {
	bin := testserver.Build(t)
	authFile := filepath.Join(t.TempDir(), "auth.json")
	if code, _, errs := runTruce(t, bin, "token", "create", "--auth-file", authFile, "--name", "ops", "--scope", "admin"); code != 0 {
		t.Fatal(errs)
	}
	srv := testserver.Start(t, bin, t.TempDir(), "--addr", "0.0.0.0:0", "--auth-file", authFile)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	resp, err := http.Get("http://127.0.0.1:" + port + "/v1/collections")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d without a token, want 401", resp.StatusCode)
	}
}
