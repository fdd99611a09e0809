package lifecycle_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/lifecycle"
	"github.com/hookline/hookline/internal/lifecycle/lifecycletest"
)

// journal records what the components did, in order.
type journal struct {
	mu sync.Mutex
	ev []string
}

func (j *journal) add(e string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.ev = append(j.ev, e)
}

// stops is the journal without the "run" events, whose order between
// goroutines is not the supervisor's to set.
func (j *journal) stops() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []string
	for _, e := range j.ev {
		if !strings.HasPrefix(e, "run ") {
			out = append(out, e)
		}
	}
	return out
}

// fake keeps the contract: its drain takes drain (forever when negative,
// until abandoned); with fail set, its Run returns fail after failAfter.
type fake struct {
	name      string
	j         *journal
	drain     time.Duration
	late      time.Duration // Run begins this late (a goroutine slow to start)
	fail      error
	failAfter time.Duration

	stopOnce, abandonOnce sync.Once
	stop, abandon, done   chan struct{}
	// lateShutdown: the context of its first Shutdown had ended already.
	lateShutdown bool
}

func newFake(j *journal, name string, drain time.Duration) *fake {
	return &fake{name: name, j: j, drain: drain, stop: make(chan struct{}), abandon: make(chan struct{}), done: make(chan struct{})}
}

func (f *fake) Run(ctx context.Context) error {
	defer close(f.done)
	time.Sleep(f.late)
	f.j.add("run " + f.name)
	var failc <-chan time.Time
	if f.fail != nil {
		failc = time.After(f.failAfter)
	}
	select {
	case <-f.stop:
	case <-ctx.Done():
		f.j.add("abandon " + f.name)
		return nil
	case <-failc:
		f.j.add("fail " + f.name)
		return f.fail
	}
	var drained <-chan time.Time
	if f.drain >= 0 {
		drained = time.After(f.drain)
	}
	select {
	case <-drained:
		f.j.add("drained " + f.name)
	case <-f.abandon:
		f.j.add("abandon " + f.name)
	case <-ctx.Done():
		f.j.add("abandon " + f.name)
	}
	return nil
}

func (f *fake) Shutdown(ctx context.Context) error {
	f.stopOnce.Do(func() {
		f.lateShutdown = ctx.Err() != nil
		f.j.add("shutdown " + f.name)
		close(f.stop)
	})
	select {
	case <-f.done:
		return nil
	case <-ctx.Done():
		f.abandonOnce.Do(func() { close(f.abandon) })
		<-f.done
		return ctx.Err()
	}
}

func TestStopsInStartOrderOnSignal(t *testing.T) {
	j := &journal{}
	stops := 0
	s := &lifecycle.Supervisor{Timeout: 5 * time.Second, OnStop: func() { stops++; j.add("stopping") }}
	for _, n := range []string{"api", "dispatcher", "retrier"} {
		s.Start(n, newFake(j, n, 20*time.Millisecond))
	}
	ctx, signal := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, signal)
	if err := s.Wait(ctx); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	want := []string{"stopping", "shutdown api", "drained api", "shutdown dispatcher", "drained dispatcher", "shutdown retrier", "drained retrier"}
	if got := j.stops(); !reflect.DeepEqual(got, want) || stops != 1 {
		t.Fatalf("stops %v (OnStop called %d times), want %v once", got, stops, want)
	}
}

func TestFirstErrorIsReportedAndStopsTheRest(t *testing.T) {
	j := &journal{}
	s := &lifecycle.Supervisor{Timeout: 200 * time.Millisecond}
	broken := errors.New("listen :8080: address already in use")
	a := newFake(j, "a", 0)
	b := newFake(j, "b", 0)
	b.fail, b.failAfter = broken, 30*time.Millisecond
	c := newFake(j, "c", -1) // its drain outlasts the timeout: a second error
	s.Start("a", a)
	s.Start("b", b)
	s.Start("c", c)
	start := time.Now()
	// No signal: b's failure alone starts the stop.
	err := s.Wait(context.Background())
	if !errors.Is(err, broken) {
		t.Fatalf("Wait: %v, want the first error, %v", err, broken)
	}
	want := []string{"fail b", "shutdown a", "drained a", "shutdown b", "shutdown c", "abandon c"}
	if got := j.stops(); !reflect.DeepEqual(got, want) {
		t.Fatalf("stops %v, want %v", got, want)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("stop took %s", took)
	}
}

// TestTimeoutBoundsEveryDrain: one deadline covers the whole stop; once
// it passes, the component draining is abandoned and so is every one
// after it, at once.
func TestTimeoutBoundsEveryDrain(t *testing.T) {
	j := &journal{}
	const timeout = 150 * time.Millisecond
	s := &lifecycle.Supervisor{Timeout: timeout}
	d, r := newFake(j, "dispatcher", -1), newFake(j, "retrier", -1)
	s.Start("dispatcher", d)
	s.Start("retrier", r)
	start := time.Now()
	err := s.Stop()
	took := time.Since(start)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "dispatcher: drain incomplete") {
		t.Fatalf("Stop: %v, want the dispatcher's incomplete drain", err)
	}
	if d.lateShutdown || !r.lateShutdown {
		t.Fatalf("the retrier's drain had time of its own (dispatcher's context ended at its Shutdown: %v, retrier's: %v)", d.lateShutdown, r.lateShutdown)
	}
	if took < timeout || took > timeout+time.Second {
		t.Fatalf("stop took %s, want about %s for both drains together", took, timeout)
	}
	want := []string{"shutdown dispatcher", "abandon dispatcher", "shutdown retrier", "abandon retrier"}
	if got := j.stops(); !reflect.DeepEqual(got, want) {
		t.Fatalf("stops %v, want %v", got, want)
	}
}

// TestStopRightAfterStartDrains: the Shutdowns reach components whose Run
// has not begun yet; each remembers its Shutdown, so each drains rather
// than running on until it is abandoned.
func TestStopRightAfterStartDrains(t *testing.T) {
	j := &journal{}
	s := &lifecycle.Supervisor{Timeout: 5 * time.Second}
	for _, n := range []string{"a", "b"} {
		f := newFake(j, n, 0)
		f.late = 100 * time.Millisecond
		s.Start(n, f)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	want := []string{"shutdown a", "drained a", "shutdown b", "drained b"}
	if got := j.stops(); !reflect.DeepEqual(got, want) {
		t.Fatalf("stops %v, want %v", got, want)
	}
}

func TestZeroSupervisorStops(t *testing.T) {
	var s lifecycle.Supervisor
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop with nothing started: %v", err)
	}
}

func TestFakeKeepsTheContract(t *testing.T) {
	lifecycletest.ShutdownBeforeRun(t, newFake(&journal{}, "f", 0), 5*time.Second)
}
