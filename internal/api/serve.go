package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"
)

// runState is a Server's one run, by the lifecycle contract every
// long-running component keeps: Shutdown drains the requests in flight
// and is remembered when made before Run; the end of a context (Run's, or
// Shutdown's deadline) abandons them.
type runState struct {
	mu       sync.Mutex
	ln       net.Listener // bound by Listen; nil once closed
	addr     string
	srv      *http.Server  // set once Run serves
	ran      bool          // Run was called
	stopping bool          // Shutdown was called
	started  chan struct{} // closed when Run is called
	done     chan struct{} // closed when Run returns
	// drained is closed once a Shutdown's drain has ended, complete or
	// abandoned; Run returns then.
	drained   chan struct{}
	drainOnce sync.Once
	// work is the context of every request: cancelled on an abandon, so
	// the handlers still running (a test ping waiting on its endpoint)
	// stop too.
	work    context.Context
	abandon context.CancelFunc
}

func (r *runState) init() {
	r.started, r.done, r.drained = make(chan struct{}), make(chan struct{}), make(chan struct{})
	r.work, r.abandon = context.WithCancel(context.Background())
}

// Listen binds Config.Addr now, so that Addr is known, and a port in use
// reported, before Run serves. Run calls it when it has not been called;
// after a Shutdown it binds nothing.
func (s *Server) Listen() error {
	r := &s.run
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln != nil || r.stopping {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("api: listen %s: %w", s.cfg.Addr, err)
	}
	r.ln, r.addr = ln, ln.Addr().String()
	s.log.Info("api listening", zap.String("addr", r.addr))
	return nil
}

// Addr is the address the Server listens on, "" before Listen.
func (s *Server) Addr() string {
	s.run.mu.Lock()
	defer s.run.mu.Unlock()
	return s.run.addr
}

// Run serves on Config.Addr until a Shutdown has drained the requests in
// flight, or until ctx ends: then the connections are closed at once and
// the handlers still running see their request's context cancelled. After
// a Shutdown made before it, Run returns at once. It returns nil on either
// stop, and an error when it cannot listen or serve.
func (s *Server) Run(ctx context.Context) error {
	r := &s.run
	r.mu.Lock()
	if r.ran {
		r.mu.Unlock()
		return errors.New("api: Run called twice")
	}
	r.ran = true
	close(r.started)
	r.mu.Unlock()
	defer close(r.done)
	defer r.abandon() // nothing is in flight once Run returns
	if err := s.Listen(); err != nil {
		return err
	}
	r.mu.Lock()
	if r.stopping {
		r.closeListener()
		r.mu.Unlock()
		return nil
	}
	srv := s.httpServer()
	r.srv = srv
	ln := r.ln
	r.mu.Unlock()

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		r.abandonAll(srv)
		<-served
		return nil
	case err := <-served:
		if !errors.Is(err, http.ErrServerClosed) {
			r.abandonAll(srv)
			return fmt.Errorf("api: serve: %w", err)
		}
	}
	// Shutdown closed the listener and is draining.
	select {
	case <-r.drained:
	case <-ctx.Done():
		r.abandonAll(srv)
	}
	return nil
}

// Shutdown stops accepting connections, waits for the requests in flight
// to be answered, and returns once Run has returned. If ctx ends first,
// the requests left are abandoned as when Run's context ends, and
// Shutdown returns ctx's error. Made before Run, it is remembered: Run
// then returns at once.
func (s *Server) Shutdown(ctx context.Context) error {
	r := &s.run
	r.mu.Lock()
	r.stopping = true
	srv := r.srv
	if srv == nil {
		r.closeListener() // bound by Listen but not served yet
	}
	r.mu.Unlock()
	var err error
	if srv != nil {
		if err = srv.Shutdown(ctx); err != nil {
			r.abandonAll(srv)
		}
		r.drainOnce.Do(func() { close(r.drained) })
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		// Run may not have been called: the stop stays remembered for it.
		select {
		case <-r.started:
			<-r.done
		default:
		}
		if err == nil {
			err = ctx.Err()
		}
	}
	return err
}

// httpServer is the http.Server of one run.
func (s *Server) httpServer() *http.Server {
	return &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// A test ping may wait an endpoint's full timeout (up to 60 s).
		WriteTimeout: maxTimeout + 30*time.Second,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     zap.NewStdLog(s.log),
		BaseContext:  func(net.Listener) context.Context { return s.run.work },
	}
}

// abandonAll closes every connection and cancels every request's context.
func (r *runState) abandonAll(srv *http.Server) {
	r.abandon()
	_ = srv.Close()
}

// closeListener closes a listener bound but never served. Called with
// r.mu held.
func (r *runState) closeListener() {
	if r.ln != nil {
		_ = r.ln.Close()
		r.ln = nil
	}
}
