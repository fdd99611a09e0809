package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/lifecycle"
	"github.com/hookline/hookline/internal/lifecycle/lifecycletest"
)

func TestCloserClosesOnceWithTheDrainsContext(t *testing.T) {
	var calls int
	var deadline time.Time
	flushErr := errors.New("flush: 3 records unacknowledged")
	c := lifecycle.Closer(func(ctx context.Context) error {
		calls++
		deadline, _ = ctx.Deadline()
		return flushErr
	})
	ran := make(chan error, 1)
	go func() { ran <- c.Run(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	want, _ := ctx.Deadline()
	if err := c.Shutdown(ctx); !errors.Is(err, flushErr) {
		t.Fatalf("Shutdown: %v, want close's error", err)
	}
	if err := c.Shutdown(ctx); !errors.Is(err, flushErr) || calls != 1 {
		t.Fatalf("second Shutdown: %v, %d closes; want the same answer, one close", err, calls)
	}
	if err := <-ran; err != nil || !deadline.Equal(want) {
		t.Fatalf("Run: %v; close saw deadline %v, want the drain's %v", err, deadline, want)
	}
}

func TestCloserAbandonedUnclosed(t *testing.T) {
	closed := false
	c := lifecycle.Closer(func(context.Context) error { closed = true; return nil })
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- c.Run(ctx) }()
	lifecycletest.Abandon(t, cancel, ran, time.Second)
	if closed {
		t.Fatal("closed on an abandon")
	}
}

func TestCloserRemembersAShutdownBeforeRun(t *testing.T) {
	lifecycletest.ShutdownBeforeRun(t, lifecycle.Closer(func(context.Context) error { return nil }), 5*time.Second)
}

// forgetful loses a Shutdown made before Run, as api.Server once did.
type forgetful struct {
	mu      sync.Mutex
	running chan struct{}
}

func (f *forgetful) Run(ctx context.Context) error {
	f.mu.Lock()
	f.running = make(chan struct{})
	stop := f.running
	f.mu.Unlock()
	select {
	case <-stop:
	case <-ctx.Done():
	}
	return nil
}

func (f *forgetful) Shutdown(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.running != nil {
		close(f.running)
	}
	return nil // before Run: nothing to stop, and nothing remembered
}

// recorder is a testing.TB that keeps the failures reported to it.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Helper() {}

// TestShutdownBeforeRunCatchesALostShutdown: the check fails a component
// that forgets a Shutdown made before its Run.
func TestShutdownBeforeRunCatchesALostShutdown(t *testing.T) {
	r := &recorder{TB: t}
	lifecycletest.ShutdownBeforeRun(r, &forgetful{}, 300*time.Millisecond)
	if len(r.errors) != 1 {
		t.Fatalf("reported %q, want the lost Shutdown", r.errors)
	}
	t.Logf("the check reported: %s", r.errors[0])
}
