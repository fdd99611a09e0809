package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/api"
	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/lifecycle/lifecycletest"
	"github.com/hookline/hookline/internal/testbackend"
)

// slowPinger answers a test ping after hold, or when the request's
// context ends first; it tells when each ping starts and how it ended.
type slowPinger struct {
	hold    time.Duration
	started chan struct{}
	ended   chan error // nil: answered; else the context's error
}

func newSlowPinger(hold time.Duration) *slowPinger {
	return &slowPinger{hold: hold, started: make(chan struct{}, 8), ended: make(chan error, 8)}
}

func (p *slowPinger) Send(ctx context.Context, _ *endpoints.Endpoint, _ *delivery.Delivery) delivery.Attempt {
	p.started <- struct{}{}
	select {
	case <-time.After(p.hold):
		p.ended <- nil
		return delivery.Attempt{Status: 204}
	case <-ctx.Done():
		p.ended <- ctx.Err()
		return delivery.Attempt{Err: ctx.Err()}
	}
}

// serving runs e's server on a port of its own, with one endpoint create
// (and so one test ping) in flight; it returns the answer's channel and
// Run's.
func serving(t *testing.T, e *env, p *slowPinger, runCtx context.Context) (answer <-chan int, ran <-chan error) {
	t.Helper()
	_, key := e.tenant("acme")
	if err := e.srv.Listen(); err != nil {
		t.Fatal(err)
	}
	runc := make(chan error, 1)
	go func() { runc <- e.srv.Run(runCtx) }()
	waitFor(t, func() bool { return e.srv.Addr() != "" })
	body, _ := json.Marshal(endpointBody("crm", "http://127.0.0.1:9/hooks"))
	ans := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", "http://"+e.srv.Addr()+"/v1/endpoints", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			ans <- 0 // the connection was closed under the request
			return
		}
		res.Body.Close()
		ans <- res.StatusCode
	}()
	select {
	case <-p.started:
	case err := <-runc:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the test ping did not start")
	}
	return ans, runc
}

func withPinger(p api.Pinger) func(*api.Config) {
	return func(c *api.Config) { c.Pinger, c.Addr = p, "127.0.0.1:0" }
}

// TestShutdownDrainsRequestsInFlight: the request in flight is answered,
// then Run and Shutdown return.
func TestShutdownDrainsRequestsInFlight(t *testing.T) {
	p := newSlowPinger(300 * time.Millisecond)
	e := newEnv(t, testbackend.NewFake(t), withPinger(p))
	answer, ran := serving(t, e, p, context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if code := <-answer; code != 201 {
		t.Fatalf("request in flight answered %d, want 201", code)
	}
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := net.DialTimeout("tcp", e.srv.Addr(), time.Second); err == nil {
		t.Fatal("still accepting connections after Shutdown")
	}
}

// TestShutdownDrainIsBoundedByItsContext: past Shutdown's deadline the
// request still in flight is abandoned (its handler's context cancelled,
// its connection closed) and Shutdown returns the deadline's error once
// Run has returned.
func TestShutdownDrainIsBoundedByItsContext(t *testing.T) {
	p := newSlowPinger(time.Hour)
	e := newEnv(t, testbackend.NewFake(t), withPinger(p))
	answer, ran := serving(t, e, p, context.Background())
	const drain = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	start := time.Now()
	err := e.srv.Shutdown(ctx)
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) || took < drain || took > drain+2*time.Second {
		t.Fatalf("Shutdown: %v after %s, want the deadline's error after about %s", err, took, drain)
	}
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	default:
		t.Fatal("Shutdown returned before Run")
	}
	select {
	case err := <-p.ended:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the abandoned ping ended with %v, want its context cancelled", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the handler in flight was not told of the abandon")
	}
	if code := <-answer; code == 201 {
		t.Fatal("the abandoned request was answered as if drained")
	}
}

// TestRunContextEndAbandons: the end of Run's context stops the server at
// once, whatever is in flight.
func TestRunContextEndAbandons(t *testing.T) {
	p := newSlowPinger(time.Hour)
	e := newEnv(t, testbackend.NewFake(t), withPinger(p))
	runCtx, cancel := context.WithCancel(context.Background())
	_, ran := serving(t, e, p, runCtx)
	lifecycletest.Abandon(t, cancel, ran, 2*time.Second)
	if err := <-p.ended; !errors.Is(err, context.Canceled) {
		t.Fatalf("the ping in flight ended with %v, want its context cancelled", err)
	}
}

func TestServerRemembersAShutdownBeforeRun(t *testing.T) {
	e := newEnv(t, testbackend.NewFake(t), withPinger(newSlowPinger(0)))
	lifecycletest.ShutdownBeforeRun(t, e.srv, 5*time.Second)
	if a := e.srv.Addr(); a != "" {
		if _, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			t.Fatalf("listening on %s after a Shutdown", a)
		}
	}
}

// TestListenReportsAPortInUse: Listen, before Run, reports the port in
// use and makes Addr known.
func TestListenReportsAPortInUse(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	e := newEnv(t, testbackend.NewFake(t), func(c *api.Config) { c.Addr = taken.Addr().String() })
	if err := e.srv.Listen(); err == nil || !strings.Contains(err.Error(), "listen "+taken.Addr().String()) {
		t.Fatalf("Listen on a port in use: %v", err)
	}
	if err := e.srv.Run(context.Background()); err == nil {
		t.Fatal("Run on a port in use returned nil")
	}
}
