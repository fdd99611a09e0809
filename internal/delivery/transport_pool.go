package delivery

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The h1Transport's connections: one pool per scheme://host:port, a slot
// per request in flight, LIFO reuse, and a sweep of the idle ones.

// h1Host is one scheme://host:port's connections.
type h1Host struct {
	key   string
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
		h = &h1Host{key: key, slots: make(chan struct{}, t.maxPerHost)}
		t.hosts[key] = h
	}
	h.users++
	return h
}

// release ends a request's use of h, giving back its slot if it held one,
// and forgets h once it has neither users nor idle connections (a host
// whose every dial fails, say).
func (t *h1Transport) release(h *h1Host, slot bool) {
	if slot {
		<-h.slots
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	h.users--
	if h.users == 0 && len(h.idle) == 0 && t.hosts[h.key] == h {
		delete(t.hosts, h.key)
	}
}

// take returns the host's most recently used live connection, if any,
// closing those idle too long or closed by the server meanwhile.
func (t *h1Transport) take(h *h1Host) *h1Conn {
	for {
		t.mu.Lock()
		n := len(h.idle)
		if n == 0 {
			t.mu.Unlock()
			return nil
		}
		c := h.idle[n-1]
		h.idle[n-1] = nil
		h.idle = h.idle[:n-1]
		t.mu.Unlock()
		if time.Since(c.used) < t.idleTimeout && c.reusable() {
			return c
		}
		c.nc.Close() // outside the lock: a TLS close writes to the peer
	}
}

// reusable tells whether an idle connection can carry a request: the
// server has not closed it, and nothing it sent after the last answer is
// waiting, in the kernel, in the TLS layer or in the read buffer. A stray
// answer left there would be read as the next delivery's.
func (c *h1Conn) reusable() bool {
	if c.br.Buffered() > 0 || !alive(c.tcp) {
		return false
	}
	if c.nc == c.tcp {
		return true
	}
	// A read whose deadline has passed returns what the TLS layer holds
	// decoded or buffered, and times out (not fatally) when it holds none.
	c.nc.SetReadDeadline(time.Unix(1, 0))
	_, err := c.br.Peek(1)
	c.nc.SetReadDeadline(time.Time{})
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// give puts c back among its host's idle connections.
func (t *h1Transport) give(c *h1Conn) {
	c.used = time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	c.h.idle = append(c.h.idle, c)
	if t.sweep == nil {
		t.sweep = time.AfterFunc(t.idleTimeout, t.closeIdle)
	}
}

// closeIdle closes connections idle past the timeout, forgets hosts with
// none left and no users, and runs again while any connection is idle.
func (t *h1Transport) closeIdle() {
	var stale []*h1Conn
	t.mu.Lock()
	t.sweep = nil
	more := false
	for key, h := range t.hosts {
		kept := h.idle[:0]
		for _, c := range h.idle {
			if time.Since(c.used) < t.idleTimeout {
				kept = append(kept, c)
			} else {
				stale = append(stale, c)
			}
		}
		clear(h.idle[len(kept):])
		h.idle = kept
		more = more || len(kept) > 0
		if len(kept) == 0 && h.users == 0 {
			delete(t.hosts, key)
		}
	}
	if more {
		t.sweep = time.AfterFunc(t.idleTimeout/2, t.closeIdle)
	}
	t.mu.Unlock()
	for _, c := range stale {
		c.nc.Close()
	}
}

// There is deliberately no CloseIdleConnections: go-retryablehttp calls
// it after every failed request, which would empty every endpoint's pool
// each time one endpoint times out. Idle connections end by the sweep.

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
	c.lim = &limitReader{r: c.nc, n: noLimit}
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
