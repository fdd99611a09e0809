// Package lifecycle is the contract every long-running hookline component
// follows (the dispatcher, the retrier, the attempt-log indexer, the
// management API), and the Supervisor that runs a set of them as one
// process.
//
// A process stops in one of two ways, and the contract keeps them apart:
//
//   - a drain (SIGTERM, Ctrl-C): stop taking work, finish what is in hand,
//     commit, return. Shutdown asks for it; its context bounds it.
//   - an abandon (the drain's deadline passed, or a crash-like stop in
//     tests): stop now, commit nothing more; what was in flight is done
//     again by whoever takes the work over, which every component is
//     built to tolerate. The end of a context asks for it.
package lifecycle

import (
	"context"
	"sync"
)

// Component is a long-running part of a process.
//
// Run works until a Shutdown has drained it or ctx ends, then returns. It
// is called once. Its error is a failure (a port in use, topics that
// cannot be created); a stop, drained or abandoned, returns nil.
//
// Shutdown stops taking new work, lets the work in hand finish, and
// returns once Run has returned. If ctx ends first, what is still in
// flight is abandoned and Shutdown returns ctx's error once Run has
// returned. A Shutdown made before Run is remembered: Run then drains at
// once instead of starting work, so a supervisor stopping right after a
// start cannot lose the stop.
//
// The end of Run's ctx is an abandon: nothing more is committed and Run
// returns without waiting for the work in flight.
type Component interface {
	Run(ctx context.Context) error
	Shutdown(ctx context.Context) error
}

// Closer makes a Component of something that has no work loop and only
// needs closing, such as a producer that must flush what it holds: its
// Run waits, and its Shutdown calls close with the drain's context. The
// end of Run's ctx abandons it unclosed, as for any component.
func Closer(close func(ctx context.Context) error) Component {
	return &closer{close: close, stop: make(chan struct{}), done: make(chan struct{})}
}

type closer struct {
	close func(context.Context) error
	once  sync.Once
	err   error         // close's answer
	stop  chan struct{} // closed once close has returned
	done  chan struct{} // closed when Run returns
}

// Run waits for Shutdown to have closed, or for ctx to end.
func (c *closer) Run(ctx context.Context) error {
	defer close(c.done)
	select {
	case <-c.stop:
	case <-ctx.Done():
	}
	return nil
}

// Shutdown closes (once, whoever calls it first) and waits for Run.
func (c *closer) Shutdown(ctx context.Context) error {
	c.once.Do(func() {
		c.err = c.close(ctx)
		close(c.stop)
	})
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}
