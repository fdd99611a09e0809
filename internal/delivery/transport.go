package delivery

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// h1Transport is the deliveries' http.RoundTripper: HTTP/1.1 over kept
// connections, written and read in the calling goroutine.
//
// net/http's Transport gives every connection a writer and a reader
// goroutine, so each request crosses goroutines four times (to the writer,
// to the reader, back to the caller, and the caller's next step). On a
// loaded machine each crossing waits for a core, and in single-event mode
// those waits, not the work, were most of a slot's turnaround. Here the
// caller writes the request and reads the answer itself; a context that
// ends puts the connection's deadline in the past, which cuts both.
//
// What it keeps from net/http: the request is written by Request.Write and
// the answer read by http.ReadResponse. What it leaves out: HTTP/2 (ALPN
// offers http/1.1 only), proxies (deliveries never use one), and gzip.
type h1Transport struct {
	// dial opens TCP connections (the SSRF-checked dialer).
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// tls is cloned per connection for its server name.
	tls *tls.Config
	// maxPerHost bounds one host's connections, idle or not.
	maxPerHost int
	// idleTimeout closes a connection unused that long.
	idleTimeout time.Duration
	// handshakeTimeout bounds a TLS handshake.
	handshakeTimeout time.Duration

	mu    sync.Mutex
	hosts map[string]*h1Host
	sweep *time.Timer // armed while any connection is idle
}

// maxResponseHeaderBytes bounds a response's status line and headers,
// as net/http's default does, so an endless header cannot grow memory.
const maxResponseHeaderBytes = 1 << 20

// earlyAnswerWait is how long a request whose writing failed still looks
// for an answer the receiver sent before closing.
const earlyAnswerWait = 100 * time.Millisecond

// h1Host is one scheme://host:port's connections.
type h1Host struct {
	slots chan struct{} // a token per request in flight
	idle  []*h1Conn     // most recently used last
	users int           // requests between host and release
}

type h1Conn struct {
	h    *h1Host
	nc   net.Conn
	tcp  net.Conn // under TLS, the TCP connection, for the liveness check
	lim  *limitReader
	br   *bufio.Reader
	bw   *bufio.Writer
	used time.Time
}

// limitReader fails reads past n; ReadResponse's header parsing has no
// bound of its own.
type limitReader struct {
	r io.Reader
	n int64
}

var errHeadersTooLarge = errors.New("response headers exceed 1 MiB")

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errHeadersTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// host returns key's connections, counting the caller as a user until
// release: a host is forgotten only when nobody uses it.
func (t *h1Transport) host(key string) *h1Host {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.hosts == nil {
		t.hosts = make(map[string]*h1Host)
	}
	h := t.hosts[key]
	if h == nil {
		h = &h1Host{slots: make(chan struct{}, t.maxPerHost)}
		t.hosts[key] = h
	}
	h.users++
	return h
}

// release ends a request's use of h, giving back its slot if it held one.
func (t *h1Transport) release(h *h1Host, slot bool) {
	if slot {
		<-h.slots
	}
	t.mu.Lock()
	h.users--
	t.mu.Unlock()
}

// RoundTrip sends req on a kept connection of its host, or a new one.
func (t *h1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	key, addr, err := connKey(req)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	h := t.host(key)
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		t.release(h, false)
		closeBody(req)
		return nil, ctx.Err()
	}
	c := t.take(h)
	if c == nil {
		if c, err = t.connect(ctx, req.URL, h, addr); err != nil {
			t.release(h, true)
			closeBody(req)
			return nil, err
		}
	}
	resp, err := t.exchange(ctx, c, req)
	if err != nil {
		c.nc.Close()
		t.release(h, true)
		return nil, err
	}
	return resp, nil
}

// exchange writes req on c and reads its answer's status and headers; the
// body is read by the caller through the returned response.
func (t *h1Transport) exchange(ctx context.Context, c *h1Conn, req *http.Request) (*http.Response, error) {
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error) (*http.Response, error) {
		stop()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return nil, err
	}
	werr := req.Write(c.bw)
	if werr == nil {
		werr = c.bw.Flush()
	}
	if werr != nil {
		if ctx.Err() != nil {
			return fail(werr)
		}
		// A receiver may answer (413, say) and close before reading the
		// whole body; that answer is already here if it was sent.
		c.nc.SetReadDeadline(time.Now().Add(earlyAnswerWait))
	}
	c.lim.n = maxResponseHeaderBytes
	var resp *http.Response
	for {
		var err error
		if resp, err = http.ReadResponse(c.br, req); err != nil {
			if werr != nil {
				return fail(werr)
			}
			return fail(err)
		}
		// An unasked-for 1xx (100 Continue, 103 Early Hints) precedes the
		// answer; 101 would switch protocols, which a POST never asks.
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
	}
	c.lim.n = 1<<63 - 1
	// An answer without a body (204) is complete as it stands, read or not.
	resp.Body = &h1Body{t: t, c: c, rc: resp.Body, stop: stop, eof: resp.Body == http.NoBody,
		keep: werr == nil && !resp.Close && !req.Close}
	return resp, nil
}

// h1Body gives the connection back once its answer was read to the end,
// and closes it otherwise: draining an unread body could take as long as
// the receiver likes.
type h1Body struct {
	t      *h1Transport
	c      *h1Conn
	rc     io.ReadCloser
	stop   func() bool
	eof    bool
	keep   bool
	closed bool
}

func (b *h1Body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *h1Body) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	// stop is false once the context ended and the deadline was cut.
	if b.stop() && b.eof && b.keep {
		b.rc.Close() // read to EOF: returns at once
		b.t.give(b.c)
	} else {
		b.c.nc.Close()
	}
	b.t.release(b.c.h, true)
	return nil
}

// take returns the host's most recently used live connection, if any,
// closing those idle too long or closed by the server meanwhile.
func (t *h1Transport) take(h *h1Host) *h1Conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	for len(h.idle) > 0 {
		c := h.idle[len(h.idle)-1]
		h.idle[len(h.idle)-1] = nil
		h.idle = h.idle[:len(h.idle)-1]
		if time.Since(c.used) < t.idleTimeout && alive(c.tcp) {
			return c
		}
		c.nc.Close()
	}
	return nil
}

// give puts c back among its host's idle connections.
func (t *h1Transport) give(c *h1Conn) {
	c.used = time.Now()
	t.mu.Lock()
	c.h.idle = append(c.h.idle, c)
	if t.sweep == nil {
		t.sweep = time.AfterFunc(t.idleTimeout, t.closeIdle)
	}
	t.mu.Unlock()
}

// closeIdle closes connections idle past the timeout, forgets hosts with
// none left, and runs again while any connection is idle.
func (t *h1Transport) closeIdle() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweep = nil
	for key, h := range t.hosts {
		kept := h.idle[:0]
		for _, c := range h.idle {
			if time.Since(c.used) < t.idleTimeout {
				kept = append(kept, c)
			} else {
				c.nc.Close()
			}
		}
		clear(h.idle[len(kept):])
		h.idle = kept
		if len(kept) == 0 && h.users == 0 {
			delete(t.hosts, key)
		}
	}
	for _, h := range t.hosts {
		if len(h.idle) > 0 {
			t.sweep = time.AfterFunc(t.idleTimeout/2, t.closeIdle)
			break
		}
	}
}

// CloseIdleConnections closes every idle connection (http.Client's hook).
func (t *h1Transport) CloseIdleConnections() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, h := range t.hosts {
		for _, c := range h.idle {
			c.nc.Close()
		}
		h.idle = nil
	}
}

// connect dials addr and, for https, completes a TLS handshake offering
// HTTP/1.1 only.
func (t *h1Transport) connect(ctx context.Context, u *url.URL, h *h1Host, addr string) (*h1Conn, error) {
	nc, err := t.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &h1Conn{h: h, nc: nc, tcp: nc}
	if u.Scheme == "https" {
		cfg := t.tls.Clone()
		cfg.ServerName = u.Hostname()
		cfg.NextProtos = []string{"http/1.1"}
		tc := tls.Client(nc, cfg)
		hctx, cancel := context.WithTimeout(ctx, t.handshakeTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
		}
		c.nc = tc
	}
	c.lim = &limitReader{r: c.nc, n: 1<<63 - 1}
	c.br = bufio.NewReaderSize(c.lim, 4<<10)
	c.bw = bufio.NewWriterSize(c.nc, 4<<10)
	return c, nil
}

// connKey is a request's pool key (scheme://host:port) and dial address.
func connKey(req *http.Request) (key, addr string, err error) {
	u := req.URL
	port := u.Port()
	switch u.Scheme {
	case "http":
		if port == "" {
			port = "80"
		}
	case "https":
		if port == "" {
			port = "443"
		}
	default:
		return "", "", fmt.Errorf("unsupported scheme %q", u.Scheme)
	}
	addr = net.JoinHostPort(u.Hostname(), port)
	return u.Scheme + "://" + strings.ToLower(addr), addr, nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
