// Package lifecycletest checks a component against the lifecycle
// contract, so each component's tests can hold it to the same rules.
package lifecycletest

import (
	"context"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/lifecycle"
)

// ShutdownBeforeRun checks that c remembers a Shutdown made before its
// Run: Run, called after it, must return nil within within, and the
// Shutdown nil too. A component that loses the Shutdown runs on; its Run
// is then abandoned (its context cancelled) so the test ends.
func ShutdownBeforeRun(t testing.TB, c lifecycle.Component, within time.Duration) {
	t.Helper()
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*within)
		defer cancel()
		shut <- c.Shutdown(ctx)
	}()
	// Shutdown is under way before Run begins: it either returned already
	// (nothing to wait for yet) or waits for Run.
	time.Sleep(50 * time.Millisecond)
	runCtx, abandon := context.WithCancel(context.Background())
	defer abandon()
	ran := make(chan error, 1)
	go func() { ran <- c.Run(runCtx) }()
	select {
	case err := <-ran:
		if err != nil {
			t.Errorf("Run after a Shutdown: %v, want nil", err)
		}
	case <-time.After(within):
		t.Errorf("Run still running %s after a Shutdown made before it: the Shutdown was lost", within)
		abandon()
		<-ran
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown made before Run: %v, want nil", err)
	}
}

// Abandon checks that the end of Run's context stops c within within,
// whatever it was doing (the caller has put work in flight), and that Run
// returns nil.
func Abandon(t testing.TB, cancel context.CancelFunc, ran <-chan error, within time.Duration) {
	t.Helper()
	start := time.Now()
	cancel()
	select {
	case err := <-ran:
		if err != nil {
			t.Errorf("Run after its context ended: %v, want nil", err)
		}
		t.Logf("abandoned in %s", time.Since(start).Round(time.Millisecond))
	case <-time.After(within):
		t.Fatalf("Run still running %s after its context ended: the end of ctx must abandon", within)
	}
}
