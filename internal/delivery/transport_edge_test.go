package delivery

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
)

// Receivers that send more than they were asked: whatever follows an
// answer on a kept connection must never be read as the next delivery's.

// strayServer answers each connection's first request with first (raw
// bytes, possibly more than one answer; a "|" splits them into writes
// apart), and a second request on that connection with 202; every later
// connection gets plain 204s. It counts connections.
func strayServer(t *testing.T, tlsOn bool, first string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	var mu sync.Mutex
	seen := map[string]bool{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		again := seen[r.RemoteAddr]
		seen[r.RemoteAddr] = true
		mu.Unlock()
		if again || conns.Load() > 1 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		c, bw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		for part := range strings.SplitSeq(first, "|") { // "|": write apart
			bw.WriteString(part)
			bw.Flush()
		}
		go func() {
			defer c.Close()
			// A next request on this connection is answered 202: the
			// answer a reused connection would wrongly record.
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if readRequest(bw.Reader) == nil {
				io.WriteString(c, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
			}
		}()
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	if tlsOn {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, &conns
}

func TestWhatFollowsAnAnswerIsNeverTheNextAnswer(t *testing.T) {
	for _, tc := range []struct{ name, first string }{
		{"second answer unasked", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 202 Accepted\r\nContent-Length: 5\r\n\r\nstale"},
		{"204 with a body", "HTTP/1.1 204 No Content\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"},
		{"second answer written apart", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok|HTTP/1.1 202 Accepted\r\nContent-Length: 5\r\n\r\nstale"},
		{"101 to a POST", "HTTP/1.1 101 Switching Protocols\r\n\r\n"},
	} {
		for _, tlsOn := range []bool{false, true} {
			t.Run(tc.name+map[bool]string{false: "/http", true: "/https"}[tlsOn], func(t *testing.T) {
				srv, conns := strayServer(t, tlsOn, tc.first)
				s := newLocalSender(0)
				if tlsOn {
					h1Of(s).tls = srv.Client().Transport.(*http.Transport).TLSClientConfig
				}
				ep := &endpoints.Endpoint{ID: "e", TenantID: "t", URL: srv.URL, Secrets: []string{"whsec-test"},
					Timeout: endpoints.Duration(3 * time.Second)}
				first := s.Send(context.Background(), ep, bodyDelivery(`{"a":1}`))
				if first.Status == 0 {
					t.Fatalf("first request: err %v", first.Err)
				}
				time.Sleep(20 * time.Millisecond) // the stray bytes are in
				a := s.Send(context.Background(), ep, bodyDelivery(`{"a":2}`))
				if a.Status != http.StatusNoContent {
					t.Fatalf("second request: status %d, excerpt %q, err %v; want the server's own 204", a.Status, a.Excerpt, a.Err)
				}
				if got := conns.Load(); got != 2 {
					t.Errorf("%d connections, want 2: the first one is not reused", got)
				}
			})
		}
	}
}

// A receiver that answers 413 at once and stops reading, keeping the
// connection open, gets its 413 recorded without waiting for a timeout.
func TestEarlyAnswerOnAnOpenConnection(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	url := rawServer(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 9\r\n\r\ntoo large")
		<-release // neither reads nor closes
	})
	s := newLocalSender(0)
	ep := &endpoints.Endpoint{ID: "e", TenantID: "t", URL: url, Secrets: []string{"whsec-test"},
		Timeout: endpoints.Duration(30 * time.Second)}
	done := make(chan Attempt, 1)
	go func() {
		done <- s.Send(context.Background(), ep, bodyDelivery(`{"pad":"`+strings.Repeat("z", 16<<20)+`"}`))
	}()
	select {
	case a := <-done:
		if a.Status != http.StatusRequestEntityTooLarge || string(a.Excerpt) != "too large" {
			t.Fatalf("status %d, excerpt %q, err %v; want 413 and its body", a.Status, a.Excerpt, a.Err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a 413 sent before the body was read was not seen within 10s (the timeout is 30s)")
	}
}

// A failed request (here, a refused connection) forgets its host and does
// not close the kept connections of others.
func TestFailuresForgetTheirHostAndKeepOthersPools(t *testing.T) {
	srv, conns, _ := verifyingServer(t, "whsec-test", false)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	refused := "http://" + ln.Addr().String()
	ln.Close()
	s := newLocalSender(0)
	good := &endpoints.Endpoint{ID: "g", TenantID: "t", URL: srv.URL, Secrets: []string{"whsec-test"}}
	bad := &endpoints.Endpoint{ID: "b", TenantID: "t", URL: refused, Secrets: []string{"whsec-test"}}
	for i := range 3 {
		if a := s.Send(context.Background(), good, bodyDelivery(`{"a":1}`)); a.Status != http.StatusNoContent {
			t.Fatalf("good %d: status %d, err %v", i, a.Status, a.Err)
		}
		if a := s.Send(context.Background(), bad, bodyDelivery(`{"a":1}`)); a.Err == nil {
			t.Fatalf("bad %d: status %d, want a refused connection", i, a.Status)
		}
	}
	if opened, _, _ := conns.get(); opened != 1 {
		t.Errorf("the good endpoint needed %d connections, want 1: a failure elsewhere closed its pool", opened)
	}
	tr := h1Of(s)
	tr.mu.Lock()
	_, kept := tr.hosts["http://"+strings.ToLower(ln.Addr().String())]
	hosts := len(tr.hosts)
	tr.mu.Unlock()
	if kept || hosts != 1 {
		t.Errorf("%d hosts kept (refused one among them: %v), want only the good one", hosts, kept)
	}
}
