package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// The overload run's sender speaks HTTP/1.1 itself, over connections it
// opens once and keeps: each request is a byte slice built before the run
// and written whole, and each answer is read only as far as its status
// line and the length of its body, which is skipped. net/http's client
// spends far more per request (a goroutine and a header map each, a
// connection pool to consult), and on a small machine that cost, not the
// server, set how much load it could offer and how late it read answers.

// rawTarget is where raw requests go: the server's address and the prefix
// of its paths.
type rawTarget struct {
	addr, host, prefix string
}

// newRawTarget reads base, an http:// URL.
func newRawTarget(base string) (rawTarget, error) {
	u, err := url.Parse(base)
	if err != nil {
		return rawTarget{}, fmt.Errorf("server URL %q: %w", base, err)
	}
	if u.Scheme != "http" {
		return rawTarget{}, fmt.Errorf("server URL %q: the overload run speaks plain HTTP/1.1 (http://), not %s", base, u.Scheme)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	return rawTarget{addr: addr, host: u.Host, prefix: u.EscapedPath()}, nil
}

// putRequest serializes a PUT of body to path, with token as a bearer
// token if it is not empty.
func (t rawTarget) putRequest(path, token string, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "PUT %s%s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", t.prefix, path, t.host, len(body))
	if token != "" {
		fmt.Fprintf(&b, "Authorization: Bearer %s\r\n", token)
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

// rawConn is one kept-alive connection and the reader of its answers.
type rawConn struct {
	c  net.Conn
	br *bufio.Reader
}

// dialRaw opens a connection to t.
func dialRaw(t rawTarget) (*rawConn, error) {
	c, err := net.DialTimeout("tcp", t.addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	return &rawConn{c: c, br: bufio.NewReaderSize(c, 4096)}, nil
}

// roundTrip writes req and reads its answer.
func (c *rawConn) roundTrip(req []byte) (status int, closing bool, err error) {
	if _, err := c.c.Write(req); err != nil {
		return 0, true, err
	}
	return readResponse(c.br)
}

// errMalformed is an answer this reader does not understand.
var errMalformed = errors.New("malformed HTTP/1.1 response")

// readResponse reads one HTTP/1.1 response from br: its status, whether
// the server closes the connection after it, and nothing else. The body,
// by Content-Length or chunked, is skipped.
func readResponse(br *bufio.Reader) (status int, closing bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, true, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, true, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, true, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	length, chunked := int64(-1), false
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return status, true, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			length, err = strconv.ParseInt(string(value), 10, 64)
			if err != nil || length < 0 {
				return status, true, fmt.Errorf("%w: Content-Length %q", errMalformed, value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closing = bytes.EqualFold(value, []byte("close"))
		}
	}
	switch {
	case chunked:
		err = skipChunked(br)
	case length >= 0:
		_, err = br.Discard(int(length))
	case status == 204 || status == 304 || status/100 == 1:
	default:
		// No length: the body runs to the end of the connection.
		_, err = io.Copy(io.Discard, br)
		closing = true
	}
	return status, closing, err
}

// skipChunked skips a chunked body and its trailer.
func skipChunked(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("%w: chunk size %q", errMalformed, line)
		}
		if n == 0 {
			for { // the trailer, up to its empty line
				line, err := br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if _, err := br.Discard(int(n) + 2); err != nil { // the data and its CRLF
			return err
		}
	}
}
