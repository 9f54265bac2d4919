package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// requestTimeout bounds one request of the load generator, so that a
// server that stops answering fails the run instead of hanging it.
const requestTimeout = 60 * time.Second

// NewTransport returns an HTTP transport for clients concurrent clients
// of one server: an idle connection kept for each of them, no compression,
// HTTP/1.1.
func NewTransport(clients int) *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        max(clients, 1) * 2,
		MaxIdleConnsPerHost: max(clients, 1),
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		TLSHandshakeTimeout: 10 * time.Second,
	}
}

// NewH2CTransport returns an HTTP transport that speaks HTTP/2 without TLS
// (h2c, prior knowledge) only: every client's requests share one
// connection, as streams.
func NewH2CTransport() *http.Transport {
	t := &http.Transport{Proxy: nil, DisableCompression: true, IdleConnTimeout: 90 * time.Second}
	t.Protocols = new(http.Protocols)
	t.Protocols.SetUnencryptedHTTP2(true)
	return t
}

// Truce is a truce server as a Store: documents in one collection, the
// ETag as the version, If-Match as the swap. It may be several nodes
// sharing one store (NewTruceNodes).
type Truce struct {
	bases      []string // each node's URL, without a trailing slash
	collection string
	token      string
	hc         *http.Client
	// Indexes are the secondary indexes Init declares in the collection's
	// settings, each a list of dotted paths (what an index costs a write).
	Indexes [][]string
}

// NewTruce returns the truce server at baseURL as a Store over collection,
// with a transport for clients concurrent clients. token, if not empty, is
// sent as a bearer token.
func NewTruce(baseURL, collection, token string, clients int) (*Truce, error) {
	return NewTruceNodes([]string{baseURL}, collection, token, clients)
}

// NewTruceNodes is NewTruce for several truce nodes that share one store
// (truce serve --store postgres://…), with no load balancer: the clients
// are spread over the nodes round-robin, client i always sending to node
// i mod len(baseURLs), and what is sent outside a client's operation
// (preparing a workload, seeding) goes to the first node.
func NewTruceNodes(baseURLs []string, collection, token string, clients int) (*Truce, error) {
	if len(baseURLs) == 0 {
		return nil, fmt.Errorf("no server URL")
	}
	var bases []string
	for _, b := range baseURLs {
		u, err := url.Parse(b)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("server URL %q: want http://host:port", b)
		}
		bases = append(bases, strings.TrimRight(b, "/"))
	}
	return &Truce{
		bases:      bases,
		collection: collection,
		token:      token,
		hc:         &http.Client{Transport: NewTransport(clients), Timeout: requestTimeout},
	}, nil
}

// answer is an HTTP answer, read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// base returns the URL of the node that ctx's client sends to.
func (t *Truce) base(ctx context.Context) string {
	if c := clientOf(ctx); c != nil {
		return t.bases[c.ID%len(t.bases)]
	}
	return t.bases[0]
}

// do sends one request and reads the whole answer.
func (t *Truce) do(ctx context.Context, method, path string, body []byte, hdr ...string) (*answer, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.base(ctx)+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if t.token != "" {
		req.Header.Set("Authorization", "Bearer "+t.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	return &answer{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// unexpected is the error for an answer the workload cannot go on from.
func unexpected(method, path string, a *answer) error {
	body := string(a.body)
	if len(body) > 300 {
		body = body[:300] + "…"
	}
	return fmt.Errorf("%s %s: unexpected status %d: %s", method, path, a.status, body)
}

func (t *Truce) collectionPath(collection string) string {
	return "/v1/collections/" + url.PathEscape(collection)
}

func (t *Truce) docPath(collection, key string) string {
	return t.collectionPath(collection) + "/docs/" + url.PathEscape(key)
}

// setCollection creates collection, or changes its settings, to settings.
func (t *Truce) setCollection(ctx context.Context, collection, settings string) error {
	p := t.collectionPath(collection)
	a, err := t.do(ctx, "PUT", p, []byte(settings))
	if err != nil {
		return err
	}
	if a.status != http.StatusOK && a.status != http.StatusCreated {
		return unexpected("PUT", p, a)
	}
	return nil
}

// Init sets the collection's conflict policy to reject, the one the
// generic workloads' If-Match loops expect, and its Indexes.
func (t *Truce) Init(ctx context.Context) error {
	settings := map[string]any{"conflictPolicy": "reject"}
	if len(t.Indexes) > 0 {
		settings["indexes"] = t.Indexes
	}
	b, err := json.Marshal(settings)
	if err != nil {
		return err
	}
	return t.setCollection(ctx, t.collection, string(b))
}

// Put replaces the document unconditionally.
func (t *Truce) Put(ctx context.Context, key string, doc []byte) error {
	p := t.docPath(t.collection, key)
	a, err := t.do(ctx, "PUT", p, doc)
	if err != nil {
		return err
	}
	if a.status != http.StatusOK && a.status != http.StatusCreated {
		return unexpected("PUT", p, a)
	}
	return nil
}

// Create puts the document with If-None-Match: *.
func (t *Truce) Create(ctx context.Context, key string, doc []byte) (bool, error) {
	p := t.docPath(t.collection, key)
	a, err := t.do(ctx, "PUT", p, doc, "If-None-Match", "*")
	if err != nil {
		return false, err
	}
	switch a.status {
	case http.StatusCreated:
		return true, nil
	case http.StatusPreconditionFailed:
		return false, nil
	}
	return false, unexpected("PUT", p, a)
}

// Get reads the document and its ETag.
func (t *Truce) Get(ctx context.Context, key string) ([]byte, string, bool, error) {
	p := t.docPath(t.collection, key)
	a, err := t.do(ctx, "GET", p, nil)
	if err != nil {
		return nil, "", false, err
	}
	switch a.status {
	case http.StatusOK:
		return a.body, a.header.Get("ETag"), true, nil
	case http.StatusNotFound:
		return nil, "", false, nil
	}
	return nil, "", false, unexpected("GET", p, a)
}

// Swap puts the document with If-Match on the ETag: a 412 is a conflict.
func (t *Truce) Swap(ctx context.Context, key, etag string, doc []byte) (bool, error) {
	p := t.docPath(t.collection, key)
	a, err := t.do(ctx, "PUT", p, doc, "If-Match", etag)
	if err != nil {
		return false, err
	}
	switch a.status {
	case http.StatusOK:
		return true, nil
	case http.StatusPreconditionFailed:
		return false, nil
	}
	return false, unexpected("PUT", p, a)
}

// UseH2C makes t send its requests over HTTP/2 without TLS (h2c) instead
// of HTTP/1.1. Call it before the first request.
func (t *Truce) UseH2C() {
	t.hc = &http.Client{Transport: NewH2CTransport(), Timeout: requestTimeout}
}

// Close closes idle connections.
func (t *Truce) Close() error {
	t.hc.CloseIdleConnections()
	return nil
}

// URL returns the server's base URL; the nodes', comma-separated, when
// there are several.
func (t *Truce) URL() string { return strings.Join(t.bases, ",") }
