package lifecycle

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
)

// DefaultTimeout bounds a Supervisor's stop when Timeout is not set.
const DefaultTimeout = 30 * time.Second

// Supervisor runs a set of Components as one process. Start runs each as
// it is added; Wait waits for a stop (the end of its context, which is a
// signal's, or any Run returning by itself) and then shuts them down one
// at a time, in the order they were started, all within Timeout.
//
// The order is the way work flows: start first what takes work in (the
// API, a producer of demo events), then what it hands work to. Each is
// drained before the next is asked, so nothing drained is fed again by a
// component still running upstream of it.
//
// The zero value is ready to use.
type Supervisor struct {
	// Timeout bounds the whole stop, every drain together
	// (--shutdown-timeout): when it passes, the component draining and
	// every one after it are abandoned. Default 30 s (DefaultTimeout).
	Timeout time.Duration
	// OnStop, when set, is called once as the stop begins, before the
	// first Shutdown (a "draining" line for the user).
	OnStop func()
	// Logger is told of each component stopped and of every error after
	// the first. Default nil: silent.
	Logger *zap.Logger

	mu     sync.Mutex
	units  []*unit
	first  error
	exited chan struct{} // closed when the first Run returns
	exit   sync.Once
	// run is the context of every Run: cancelled only after the stop, to
	// abandon whatever a broken Shutdown left running.
	run    context.Context
	cancel context.CancelFunc
}

// unit is one component started.
type unit struct {
	name string
	c    Component
	done chan struct{} // closed when Run has returned
}

func (s *Supervisor) init() {
	if s.exited == nil {
		s.exited = make(chan struct{})
		s.run, s.cancel = context.WithCancel(context.Background())
	}
}

// Start runs c now, in a goroutine; name names it in the logs and in the
// error of a drain it could not complete. Start every component before
// Wait or Stop.
func (s *Supervisor) Start(name string, c Component) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	u := &unit{name: name, c: c, done: make(chan struct{})}
	s.units = append(s.units, u)
	go func() {
		defer close(u.done)
		err := c.Run(s.run)
		s.logger().Debug("run returned", zap.String("component", name), zap.Error(err))
		if err != nil {
			s.report(err)
		}
		s.exit.Do(func() { close(s.exited) })
	}()
}

// Wait returns once every component has stopped: after ctx ends or a
// component's Run returns, it shuts each down in the order they were
// started. It returns the first error: a Run's failure, or a drain that
// did not complete in time.
func (s *Supervisor) Wait(ctx context.Context) error {
	s.mu.Lock()
	s.init()
	units := append([]*unit(nil), s.units...)
	s.mu.Unlock()
	select {
	case <-ctx.Done():
	case <-s.exited:
	}
	if s.OnStop != nil {
		s.OnStop()
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	dctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for _, u := range units {
		start := time.Now()
		// A component whose drain ran out of time has abandoned its work;
		// those after it get the same ended context, and so abandon theirs
		// at once.
		if err := u.c.Shutdown(dctx); err != nil {
			s.report(fmt.Errorf("%s: drain incomplete: %w", u.name, err))
		}
		s.logger().Info("stopped", zap.String("component", u.name), zap.Duration("took", time.Since(start)))
	}
	// Every Shutdown waits for its Run; a Run still going is abandoned.
	s.cancel()
	for _, u := range units {
		<-u.done
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first
}

// Stop begins the stop now and waits for it, as Wait does once its
// context ends: the way out of a start that failed half-way.
func (s *Supervisor) Stop() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return s.Wait(ctx)
}

// report keeps the first error and logs the others.
func (s *Supervisor) report(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.first == nil {
		s.first = err
		return
	}
	s.logger().Warn("stop", zap.Error(err))
}

func (s *Supervisor) logger() *zap.Logger {
	if s.Logger == nil {
		return zap.NewNop()
	}
	return s.Logger
}
