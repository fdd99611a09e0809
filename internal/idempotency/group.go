package idempotency

import (
	"context"
	"errors"
	"sync"
)

// ErrStopped is returned by Group.Record once the group's Run has returned.
var ErrStopped = errors.New("idempotency: group commit stopped")

// SpanRecorder stores settled spans; *Ranges is one.
type SpanRecorder interface {
	Record(ctx context.Context, spans []Span) error
}

// Group commits marks together: while one Redis round trip is in flight,
// the spans of every caller that arrives meanwhile gather into the next
// one, so at N deliveries in flight the marks cost about one round trip per
// N deliveries instead of one each, and no caller waits for more than the
// round trip in flight plus its own. A caller returns once its spans are
// durable (or with the round's error), so a delivery slot waiting on its
// mark is reused only after the mark is stored.
//
// The zero value is not usable; use NewGroup, then Run.
type Group struct {
	rec  SpanRecorder
	kick chan struct{} // buffered 1: a round is waiting
	stop chan struct{} // closed when Run returns

	mu  sync.Mutex
	cur *round // gathering; flushed by the next turn of Run
}

// round is one round trip's spans and its outcome, known once done closes.
type round struct {
	spans []Span
	done  chan struct{}
	err   error
}

func newRound() *round { return &round{done: make(chan struct{})} }

// NewGroup commits through rec.
func NewGroup(rec SpanRecorder) *Group {
	return &Group{rec: rec, kick: make(chan struct{}, 1), stop: make(chan struct{}), cur: newRound()}
}

// Run flushes rounds until ctx ends; callers still waiting then, and any
// after, get ErrStopped from Record. It is the only goroutine that calls
// rec. Call it once.
func (g *Group) Run(ctx context.Context) {
	defer close(g.stop)
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.kick:
		}
		g.mu.Lock()
		r := g.cur
		g.cur = newRound()
		g.mu.Unlock()
		if len(r.spans) > 0 {
			r.err = g.rec.Record(ctx, r.spans)
		}
		close(r.done)
	}
}

// Record adds spans to the next round trip and waits for its outcome. A
// failed round fails every caller in it; each retries on its own terms
// (see Until), joining a later round.
func (g *Group) Record(ctx context.Context, spans []Span) error {
	if len(spans) == 0 {
		return nil
	}
	g.mu.Lock()
	r := g.cur
	r.spans = append(r.spans, spans...)
	g.mu.Unlock()
	select {
	case g.kick <- struct{}{}:
	default: // a round is already due, and will carry these spans
	}
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	case <-g.stop:
		select {
		case <-r.done: // the last round went through
			return r.err
		default:
			return ErrStopped
		}
	}
}
