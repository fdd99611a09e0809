package delivery

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
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

// bigBody is the request size from which the body is written while the
// answer is read: a receiver may answer (413, say) and stop reading
// before the whole body is in, and a write that waits for it would wait
// until the timeout. A delivery this large pays the goroutine gladly.
const bigBody = 64 << 10

// noLimit lifts limitReader's bound once the headers are read.
const noLimit = 1<<63 - 1

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
	var resp *http.Response
	var werr, rerr error
	if req.ContentLength >= 0 && req.ContentLength < bigBody {
		werr = writeRequest(c, req)
		if werr != nil && ctx.Err() == nil {
			// A receiver that answered and closed before reading all of
			// the body: its answer is here already if it was sent.
			c.nc.SetReadDeadline(time.Now().Add(earlyAnswerWait))
		}
		if werr == nil || ctx.Err() == nil {
			resp, rerr = readAnswer(c, req)
		}
		if werr != nil && resp != nil {
			// Let the answer's body arrive at its pace. The context's
			// cut, if it came meanwhile, is put back: its Err is set
			// before its AfterFunc runs.
			c.nc.SetReadDeadline(time.Time{})
			if ctx.Err() != nil {
				c.nc.SetDeadline(time.Unix(1, 0))
			}
		}
	} else {
		resp, werr, rerr = writeWhileReading(c, req)
	}
	if resp == nil {
		if werr != nil {
			return fail(werr)
		}
		return fail(rerr)
	}
	// A 101 would hand the connection to another protocol: never reuse it.
	keep := werr == nil && !resp.Close && !req.Close && resp.StatusCode != http.StatusSwitchingProtocols
	// An answer without a body (204) is complete as it stands, read or not.
	resp.Body = &h1Body{t: t, c: c, rc: resp.Body, stop: stop, eof: resp.Body == http.NoBody, keep: keep}
	return resp, nil
}

func writeRequest(c *h1Conn, req *http.Request) error {
	if err := req.Write(c.bw); err != nil {
		return err
	}
	return c.bw.Flush()
}

// writeWhileReading writes a large request in a goroutine of its own while
// the answer is read here, as net/http does for every request. An answer
// that comes before the body is all written stops the writing.
func writeWhileReading(c *h1Conn, req *http.Request) (*http.Response, error, error) {
	wrote := make(chan error, 1)
	go func() { wrote <- writeRequest(c, req) }()
	resp, rerr := readAnswer(c, req)
	if rerr != nil {
		c.nc.SetWriteDeadline(time.Unix(1, 0)) // the connection is closed after
		return nil, <-wrote, rerr
	}
	// The usual case: the receiver read the whole body and answered, and
	// the writer is returning. Only a writer still stuck after the wait is
	// cut.
	wait := time.NewTimer(earlyAnswerWait)
	defer wait.Stop()
	select {
	case werr := <-wrote:
		return resp, werr, nil
	case <-wait.C:
	}
	c.nc.SetWriteDeadline(time.Unix(1, 0))
	werr := <-wrote
	if werr == nil {
		werr = errAnsweredEarly // the body did go out in full meanwhile
	}
	return resp, werr, nil
}

var errAnsweredEarly = errors.New("answered before the request was written")

// readAnswer reads the answer's status line and headers, skipping 1xx
// interim answers (100 Continue, 103 Early Hints).
func readAnswer(c *h1Conn, req *http.Request) (*http.Response, error) {
	c.lim.n = maxResponseHeaderBytes
	defer func() { c.lim.n = noLimit }()
	for {
		resp, err := http.ReadResponse(c.br, req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
	}
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
	if b.stop() && b.eof && b.keep && b.c.br.Buffered() == 0 {
		b.rc.Close() // read to EOF: returns at once
		b.t.give(b.c)
	} else {
		b.c.nc.Close()
	}
	b.t.release(b.c.h, true)
	return nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
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
