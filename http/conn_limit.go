package http

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// connRefusal is what a connection past the per-address cap is told, in
// plain HTTP/1.1, before it is closed: a problem like every other, that
// says what to do.
var connRefusal = func() []byte {
	body := `{"type":"/problems/overloaded","title":"Overloaded","status":503,` +
		`"detail":"this client address has as many connections open as the server allows (--max-conns-per-ip); ` +
		`reuse an open connection (HTTP keep-alive) or close one, then retry",` +
		`"instance":"/","code":"overloaded","retryable":true,"requestId":"refused-before-any-request"}`
	return []byte("HTTP/1.1 503 Service Unavailable\r\n" +
		"Content-Type: application/problem+json\r\n" +
		"Retry-After: 1\r\n" +
		"Connection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}()

// connRefusalWait bounds how long a refused connection is read (its first
// request, so that closing it does not reset the answer away) and written.
const connRefusalWait = time.Second

// LimitListener returns a listener that keeps at most perIP connections
// open from each client address: one past it is accepted, answered 503
// overloaded (when plain is true, i.e. the server speaks HTTP without TLS
// on it; a TLS connection is only closed) and closed, without reaching the
// server. So one client cannot take every file descriptor or every
// goroutine; a client behind a shared address (a NAT, a proxy) shares the
// cap. perIP <= 0 returns ln itself.
func LimitListener(ln net.Listener, perIP int, plain bool) net.Listener {
	if perIP <= 0 {
		return ln
	}
	return &limitListener{Listener: ln, perIP: perIP, plain: plain, open: map[string]int{}}
}

type limitListener struct {
	net.Listener
	perIP int
	plain bool

	mu   sync.Mutex
	open map[string]int // guarded by mu: open connections per address
}

// Accept returns the next connection within its address's cap.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c)
		l.mu.Lock()
		if l.open[ip] >= l.perIP {
			l.mu.Unlock()
			go l.refuse(c)
			continue
		}
		l.open[ip]++
		l.mu.Unlock()
		return &limitConn{Conn: c, release: func() { l.release(ip) }}, nil
	}
}

func (l *limitListener) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[ip]--; l.open[ip] <= 0 {
		delete(l.open, ip)
	}
}

// refuse answers c with connRefusal after reading its first request's
// head, and closes it.
func (l *limitListener) refuse(c net.Conn) {
	defer c.Close()
	if !l.plain {
		return
	}
	_ = c.SetDeadline(time.Now().Add(connRefusalWait))
	if req, err := http.ReadRequest(bufio.NewReaderSize(c, 4<<10)); err == nil {
		req.Body.Close()
	}
	_, _ = c.Write(connRefusal)
}

// remoteIP is the address of c's client without its port.
func remoteIP(c net.Conn) string {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	return host
}

// limitConn gives its place back when it is closed, once.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
