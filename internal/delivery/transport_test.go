package delivery

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/signing"
)

// The deliveries' transport, through the Sender: what a receiver sees on
// the wire, and what happens to connections it closes, stalls or floods.

func newLocalSender(maxPerHost int) *Sender {
	return NewSender(SenderConfig{AllowHTTP: true, MaxConnsPerHost: maxPerHost,
		AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
}

func h1Of(s *Sender) *h1Transport { return s.client.HTTPClient.Transport.(*h1Transport) }

func bodyDelivery(body string) *Delivery {
	return &Delivery{ID: NewID(), EndpointID: "e", EventType: "task.updated", Items: 1, Body: []byte(body)}
}

// connCounter counts a test server's connections: opened, and open now
// (with the most open at once).
type connCounter struct {
	mu                sync.Mutex
	opened, open, top int
}

func (c *connCounter) track(_ net.Conn, st http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch st {
	case http.StateNew:
		c.opened++
		c.open++
		c.top = max(c.top, c.open)
	case http.StateClosed, http.StateHijacked:
		c.open--
	}
}

func (c *connCounter) get() (opened, open, top int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.opened, c.open, c.top
}

// verifyingServer answers 204 to a POST whose signature verifies over the
// body, 400 otherwise, and counts its connections.
func verifyingServer(t *testing.T, secret string, tlsOn bool) (*httptest.Server, *connCounter, *atomic.Int64) {
	t.Helper()
	h := signing.HeadersFor("")
	var conns connCounter
	var proto1 atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil || signing.VerifyHex([]byte(secret), body, r.Header.Get(h.Signature)) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if r.ProtoMajor == 1 {
			proto1.Add(1)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.Config.ConnState = conns.track
	if tlsOn {
		srv.EnableHTTP2 = true // the client must still speak HTTP/1.1
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, &conns, &proto1
}

func TestKeptConnectionCarriesEveryRequest(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		name := map[bool]string{false: "http", true: "https"}[tlsOn]
		t.Run(name, func(t *testing.T) {
			srv, conns, proto1 := verifyingServer(t, "whsec-test", tlsOn)
			s := newLocalSender(0)
			if tlsOn {
				h1Of(s).tls = srv.Client().Transport.(*http.Transport).TLSClientConfig
			}
			ep := &endpoints.Endpoint{ID: "e", TenantID: "t", URL: srv.URL, Secrets: []string{"whsec-test"}}
			for i := range 50 {
				a := s.Send(context.Background(), ep, bodyDelivery(`{"n":`+strings.Repeat("1", i+1)+`}`))
				if a.Err != nil || a.Status != http.StatusNoContent {
					t.Fatalf("request %d: status %d, err %v", i, a.Status, a.Err)
				}
			}
			if opened, _, _ := conns.get(); opened != 1 {
				t.Errorf("50 requests opened %d connections, want 1", opened)
			}
			if got := proto1.Load(); got != 50 {
				t.Errorf("%d of 50 requests arrived as HTTP/1.x, want all", got)
			}
		})
	}
}

// rawServer runs serve on every accepted connection of a local listener.
func rawServer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return "http://" + ln.Addr().String()
}

// readRequest reads one request off c and its whole body.
func readRequest(br *bufio.Reader) error {
	req, err := http.ReadRequest(br)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, req.Body)
	return err
}

// A receiver that closes a kept connection while it is idle (as Node's
// 5-second keep-alive does) costs the next delivery nothing: it goes out
// on a new connection instead of failing on the closed one.
func TestConnectionClosedWhileIdleIsNotUsed(t *testing.T) {
	var accepted atomic.Int64
	url := rawServer(t, func(c net.Conn) {
		defer c.Close()
		accepted.Add(1)
		if readRequest(bufio.NewReader(c)) != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 204 No Content\r\n\r\n")
		time.Sleep(10 * time.Millisecond) // then close, the answer kept-alive
	})
	s := newLocalSender(0)
	ep := &endpoints.Endpoint{ID: "e", TenantID: "t", URL: url, Secrets: []string{"whsec-test"}}
	for i := range 3 {
		a := s.Send(context.Background(), ep, bodyDelivery(`{"a":1}`))
		if a.Err != nil || a.Status != http.StatusNoContent {
			t.Fatalf("request %d after the server closed the last connection: status %d, err %v", i, a.Status, a.Err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := accepted.Load(); got != 3 {
		t.Errorf("%d connections for 3 requests, want 3", got)
	}
}

// A black hole holds a request until the endpoint's timeout, not longer,
// and the slot it held is free again afterwards.
func TestBlackHoleEndsAtTheTimeoutAndFreesItsSlot(t *testing.T) {
	hole := make(chan struct{})
	t.Cleanup(func() { close(hole) })
	var calls atomic.Int64
	url := rawServer(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		if calls.Add(1) == 1 {
			<-hole // accept, never answer
			return
		}
		for readRequest(br) == nil {
			io.WriteString(c, "HTTP/1.1 204 No Content\r\n\r\n")
		}
	})
	s := newLocalSender(1)
	ep := &endpoints.Endpoint{ID: "e", TenantID: "t", URL: url, Secrets: []string{"whsec-test"},
		Timeout: endpoints.Duration(300 * time.Millisecond)}
	done := make(chan Attempt, 1)
	go func() { done <- s.Send(context.Background(), ep, bodyDelivery(`{"a":1}`)) }()
	select {
	case a := <-done:
		if !errors.Is(a.Err, context.DeadlineExceeded) {
			t.Fatalf("black hole: status %d, err %v, want a timeout", a.Status, a.Err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a request to a black hole did not end at its 300ms timeout")
	}
	// One connection per host: the next request needs the slot back.
	a := s.Send(context.Background(), ep, bodyDelivery(`{"a":2}`))
	if a.Err != nil || a.Status != http.StatusNoContent {
		t.Fatalf("after the black hole: status %d, err %v", a.Status, a.Err)
	}
}

// An endless answer is read as far as the excerpt and the drain limit,
// and its connection is closed rather than drained for ever; an endless
// header is refused.
func TestEndlessAnswersAreCut(t *testing.T) {
	var accepted atomic.Int64
	url := rawServer(t, func(c net.Conn) {
		defer c.Close()
		accepted.Add(1)
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			switch req.URL.Path {
			case "/ok":
				io.WriteString(c, "HTTP/1.1 204 No Content\r\n\r\n")
				continue
			case "/body":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
				chunk := "400\r\n" + strings.Repeat("x", 1024) + "\r\n"
				for {
					if _, err := io.WriteString(c, chunk); err != nil {
						return
					}
				}
			case "/header":
				io.WriteString(c, "HTTP/1.1 200 OK\r\n")
				for {
					if _, err := io.WriteString(c, "X-Pad: "+strings.Repeat("y", 1000)+"\r\n"); err != nil {
						return
					}
				}
			}
		}
	})
	s := newLocalSender(0)
	send := func(path string) Attempt {
		ep := &endpoints.Endpoint{ID: "e", TenantID: "t", URL: url + path, Secrets: []string{"whsec-test"},
			Timeout: endpoints.Duration(20 * time.Second)}
		return s.Send(context.Background(), ep, bodyDelivery(`{"a":1}`))
	}
	if a := send("/ok"); a.Status != http.StatusNoContent {
		t.Fatalf("/ok: status %d, err %v", a.Status, a.Err)
	}
	a := send("/body")
	if a.Err != nil || a.Status != http.StatusOK || !bytes.Equal(a.Excerpt, bytes.Repeat([]byte("x"), excerptSize)) {
		t.Fatalf("endless body: status %d, err %v, excerpt of %d bytes", a.Status, a.Err, len(a.Excerpt))
	}
	a = send("/header")
	if a.Status != 0 || a.Err == nil || !strings.Contains(a.Err.Error(), "exceed 1 MiB") {
		t.Fatalf("endless header: status %d, err %v, want the header limit named", a.Status, a.Err)
	}
	if a := send("/ok"); a.Status != http.StatusNoContent {
		t.Fatalf("/ok after: status %d, err %v", a.Status, a.Err)
	}
	// The first connection served /ok and /body; each cut answer closed
	// its connection, so the last /ok needed a third.
	if got := accepted.Load(); got != 3 {
		t.Errorf("%d connections, want 3 (a cut answer's connection is not reused)", got)
	}
}

// A receiver that refuses a large body at once (413) and closes gets its
// answer recorded, not a write error.
func TestAnswerBeforeTheBodyIsRead(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		io.WriteString(w, "too large")
	}))
	defer srv.Close()
	s := newLocalSender(0)
	ep := &endpoints.Endpoint{ID: "e", TenantID: "t", URL: srv.URL, Secrets: []string{"whsec-test"}}
	a := s.Send(context.Background(), ep, bodyDelivery(`{"pad":"`+strings.Repeat("z", 16<<20)+`"}`))
	if a.Status != http.StatusRequestEntityTooLarge || string(a.Excerpt) != "too large" {
		t.Fatalf("status %d, excerpt %q, err %v; want 413 and its body", a.Status, a.Excerpt, a.Err)
	}
}

// MaxConnsPerHost bounds the connections to one host, however many
// deliveries are sent to it at once; none of them fails for it.
func TestConnectionsPerHostAreBounded(t *testing.T) {
	srv, conns, _ := verifyingServer(t, "whsec-test", false)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(5 * time.Millisecond)
		w.WriteHeader(http.StatusNoContent)
	})
	s := newLocalSender(3)
	ep := &endpoints.Endpoint{ID: "e", TenantID: "t", URL: srv.URL, Secrets: []string{"whsec-test"}}
	var wg sync.WaitGroup
	var ok atomic.Int64
	for range 40 {
		wg.Go(func() {
			if a := s.Send(context.Background(), ep, bodyDelivery(`{"a":1}`)); a.Status == http.StatusNoContent {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 40 {
		t.Errorf("%d of 40 delivered", ok.Load())
	}
	if _, _, top := conns.get(); top > 3 || top == 0 {
		t.Errorf("%d connections open at once, want 1 to 3", top)
	}
}

// Connections unused for the idle timeout are closed, and the host is
// forgotten.
func TestIdleConnectionsAreClosed(t *testing.T) {
	srv, conns, _ := verifyingServer(t, "whsec-test", false)
	s := newLocalSender(0)
	tr := h1Of(s)
	tr.idleTimeout = 50 * time.Millisecond
	ep := &endpoints.Endpoint{ID: "e", TenantID: "t", URL: srv.URL, Secrets: []string{"whsec-test"}}
	if a := s.Send(context.Background(), ep, bodyDelivery(`{"a":1}`)); a.Status != http.StatusNoContent {
		t.Fatalf("status %d, err %v", a.Status, a.Err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, open, _ := conns.get()
		tr.mu.Lock()
		hosts := len(tr.hosts)
		tr.mu.Unlock()
		if open == 0 && hosts == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections open and %d hosts kept long after the idle timeout", open, hosts)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
