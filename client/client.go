package client

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// DefaultUserAgent is the User-Agent header a Client sends unless
// WithUserAgent sets another.
const DefaultUserAgent = "truce-go-client/1"

// Client talks to one truce server. It is safe for concurrent use by many
// goroutines; create one per server and reuse it, so that its connections
// are reused too. Its configuration cannot change after New.
type Client struct {
	base   string // scheme://host[/prefix], without a trailing slash
	hc     *http.Client
	token  string
	ua     string
	policy RetryPolicy
	// rootCAs, when set by WithCAFile, is what the default transport
	// trusts.
	rootCAs *x509.CertPool
	// http2, set by WithHTTP2, makes the default transport speak HTTP/2
	// only, without TLS (h2c) to an http:// server.
	http2 bool
	// sleep waits for d or until ctx is done; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
	// jitter returns a uniformly random duration in [0, d]; tests replace it.
	jitter func(d time.Duration) time.Duration
}

// Option configures a Client in New.
type Option func(*Client) error

// WithToken makes every request carry Authorization: Bearer token. An
// empty token sends no Authorization header.
func WithToken(token string) Option {
	return func(c *Client) error {
		if strings.ContainsAny(token, "\r\n") {
			return errors.New("client: the token contains a line break")
		}
		c.token = token
		return nil
	}
}

// WithHTTPClient makes the Client send its requests with hc, for example to
// set a Transport with TLS settings or a proxy. Its Timeout, if any, bounds
// each attempt; the context bounds the whole call, retries included. The
// default is a client whose transport keeps up to 64 idle connections to
// the server, so that many goroutines can share one Client without
// reconnecting.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("client: WithHTTPClient(nil)")
		}
		c.hc = hc
		return nil
	}
}

// WithCAFile makes the Client trust the server certificates signed by the
// PEM certificates in the file at path (a private CA, or a server's
// self-signed certificate), in addition to the system's roots. It cannot
// be combined with WithHTTPClient, whose transport has TLS settings of its
// own.
func WithCAFile(path string) Option {
	return func(c *Client) error {
		pem, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("client: CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("client: CA file %s holds no PEM certificate", path)
		}
		c.rootCAs = pool
		return nil
	}
}

// WithHTTP2 makes the Client speak HTTP/2 only: over TLS to an https://
// server (as it would anyway when the server offers it), and without TLS
// ("h2c" with prior knowledge, which truce serve accepts) to an http://
// one, so that all of the Client's goroutines share one connection
// instead of one connection each. A server that does not speak h2c fails
// every request. It cannot be combined with WithHTTPClient.
func WithHTTP2() Option {
	return func(c *Client) error {
		c.http2 = true
		return nil
	}
}

// WithRetry sets the retry policy. RetryPolicy{MaxAttempts: 1} turns
// retries off.
func WithRetry(p RetryPolicy) Option {
	return func(c *Client) error {
		c.policy = p
		return nil
	}
}

// WithUserAgent sets the User-Agent header, which shows in the server's
// logs; it defaults to DefaultUserAgent.
func WithUserAgent(ua string) Option {
	return func(c *Client) error {
		if strings.ContainsAny(ua, "\r\n") {
			return errors.New("client: the user agent contains a line break")
		}
		c.ua = ua
		return nil
	}
}

// New returns a Client for the truce server at baseURL, such as
// "http://127.0.0.1:8080". The URL may carry a path prefix when the server
// is mounted under one ("https://example.com/truce"); the API's paths
// (/v1/…) are appended to it. New does not contact the server.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("client: base URL %q: %w", baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q: want http://host[:port] or https://host[:port]", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("client: base URL %q: must not carry a query, a fragment or user information (use WithToken)", baseURL)
	}
	c := &Client{
		base:   strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"),
		ua:     DefaultUserAgent,
		sleep:  sleepCtx,
		jitter: randDuration,
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	switch {
	case c.hc != nil && c.rootCAs != nil:
		return nil, errors.New("client: WithCAFile and WithHTTPClient cannot be combined; set RootCAs in your client's transport")
	case c.hc != nil && c.http2:
		return nil, errors.New("client: WithHTTP2 and WithHTTPClient cannot be combined; set Protocols in your client's transport")
	case c.hc == nil:
		c.hc = &http.Client{Transport: defaultTransport(c.rootCAs, c.http2)}
	}
	return c, nil
}

// defaultTransport is http.DefaultTransport with more idle connections per
// host: the standard library keeps two, which makes a Client shared by
// many goroutines open and close connections all the time.
// The transport trusts rootCAs when not nil, else the system's roots, and
// speaks HTTP/2 only (h2c to http:// servers) when http2 is set.
func defaultTransport(rootCAs *x509.CertPool, http2 bool) http.RoundTripper {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok { // replaced by the program: start from a fresh one
		t = &http.Transport{Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true}
	} else {
		t = t.Clone()
	}
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	if rootCAs != nil {
		t.TLSClientConfig = &tls.Config{RootCAs: rootCAs, MinVersion: tls.VersionTLS12}
	}
	if http2 {
		t.Protocols = new(http.Protocols)
		t.Protocols.SetHTTP2(true)
		t.Protocols.SetUnencryptedHTTP2(true)
	}
	return t
}

// BaseURL returns the server's base URL, without a trailing slash.
func (c *Client) BaseURL() string { return c.base }

// request is one logical call: the same on every attempt.
type request struct {
	method string
	path   string // escaped, from /v1/…
	query  url.Values
	header http.Header
	body   []byte // nil for no body; replayed whole on every attempt
	ctype  string
	// final lists problem codes that end the call at once, although the
	// server marks them retryable (a lock request's locked: it waited).
	final []string
}

// response is a whole answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends r, retrying what the policy allows, and returns the answer when
// it is a success (2xx) or 304. Any other answer is an *Error.
func (c *Client) do(ctx context.Context, r *request) (*response, error) {
	p := c.policy.withDefaults()
	start := time.Now()
	if r.method != http.MethodGet && r.method != http.MethodHead && r.header.Get("Idempotency-Key") == "" {
		if r.header == nil {
			r.header = http.Header{}
		}
		r.header.Set("Idempotency-Key", newIdempotencyKey())
	}
	for attempt := 1; ; attempt++ {
		resp, err := c.send(ctx, r)
		if err == nil {
			if resp.status < 300 || resp.status == http.StatusNotModified {
				return resp, nil
			}
			err = newError(r, resp)
		}
		if ctx.Err() != nil {
			return nil, err
		}
		wait, retry := c.retryable(r, err, attempt, p)
		if !retry || p.MaxAttempts == 1 {
			return nil, err
		}
		elapsed := time.Since(start)
		stop := &RetryError{Attempts: attempt, Elapsed: elapsed, Err: err}
		switch dl, ok := ctx.Deadline(); {
		case attempt >= p.MaxAttempts:
			stop.Reason = fmt.Sprintf("the retry policy allows %d attempts", p.MaxAttempts)
		case p.MaxElapsed > 0 && elapsed+wait > p.MaxElapsed:
			stop.Reason = fmt.Sprintf("waiting %s more would exceed the retry policy's %s", wait.Round(time.Millisecond), p.MaxElapsed)
		case ok && time.Until(dl) < wait:
			stop.Reason = fmt.Sprintf("waiting %s more would pass the context's deadline", wait.Round(time.Millisecond))
		default:
			stop = nil
		}
		if stop != nil {
			return nil, stop
		}
		if serr := c.sleep(ctx, wait); serr != nil {
			return nil, &RetryError{Attempts: attempt, Elapsed: time.Since(start), Err: err,
				Reason: "the context ended while waiting to retry", ctxErr: serr}
		}
	}
}

// send makes one attempt. An error is a transport error: the answer was
// not read whole.
func (c *Client) send(ctx context.Context, r *request) (*response, error) {
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", r.method, r.path, err)
	}
	if r.body != nil {
		// net/http replays a body with GetBody when it must resend a
		// request on a new connection; we replay it on our own retries.
		b := r.body
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		req.Header.Set("Content-Type", r.ctype)
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("User-Agent", c.ua)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, &url.Error{Op: methodName(r.method), URL: u, Err: fmt.Errorf("reading the answer: %w", err)}
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// methodName spells a method as url.Error does.
func methodName(m string) string {
	if m == "" {
		return "Get"
	}
	return m[:1] + strings.ToLower(m[1:])
}

// newIdempotencyKey returns a fresh key: a ULID with 80 random bits from
// crypto/rand, unique across processes without coordination.
func newIdempotencyKey() string {
	return ulid.MustNew(ulid.Now(), crand.Reader).String()
}

// isTransportError reports whether err is a failure to exchange the
// request and answer, rather than an answer.
func isTransportError(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return false
	}
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// docPath returns the escaped path of a collection's documents, or of one
// document when id is given, after checking that neither is empty: an
// empty id would address the collection instead.
func docPath(collection string, id ...string) (string, error) {
	if collection == "" {
		return "", errors.New("client: the collection name is empty")
	}
	p := "/v1/collections/" + url.PathEscape(collection) + "/docs"
	for _, s := range id {
		if s == "" {
			return "", errors.New("client: the document id is empty")
		}
		p += "/" + url.PathEscape(s)
	}
	return p, nil
}
