package idempotency

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// SpanRecorder stores settled spans; *Ranges is one.
type SpanRecorder interface {
	Record(ctx context.Context, spans []Span) error
}

// Group commits marks together: while one Redis round trip is in flight,
// the spans of every caller that arrives meanwhile gather into the next
// one, so at N deliveries in flight the marks cost about one round trip per
// N deliveries instead of one each. A caller returns once its spans are
// durable (or with the round's error), so a delivery slot waiting on its
// mark is reused only after the mark is stored.
//
// Callers that bracket their work with Begin and End also let a round wait
// for them: a round whose callers are all in leaves at once, and one with
// work still under way (begun, not yet recording) waits up to Linger from
// its first span for it to join. That keeps the slots of one fast
// endpoint in a single round trip, sparing Redis a read, a write and a
// wake-up per mark (about 40% of its CPU per mark at four fast deliveries
// in flight), for up to a linger per slot's cycle. A round lingers only while the
// work is fast (typically done within lingerSpan Lingers, by what End is
// told): then what is under way finishes within about a linger. Slower
// work would make every slot's cycle longer by the linger, while at the
// rates where marks matter they already gather on their own, many to the
// round trip in flight.
//
// There is no goroutine of its own: a caller finding no round trip in
// flight makes it, so a lone caller pays nothing over a direct call, and
// when a round trip ends, a caller of the round gathered meanwhile takes
// the next. The zero value is not usable; use NewGroup.
type Group struct {
	rec SpanRecorder
	// Linger is how long a round waits for work begun but not yet
	// recording; set it before use and leave it. Zero: a round never
	// waits.
	Linger time.Duration
	// Observe, when set (before use), is told of each round trip that
	// stored its spans: how many and how long it took (a failed one is
	// retried by its callers, in a later round). It runs on the round's
	// leader, so it must be quick. Default nil.
	Observe func(spans int, took time.Duration)

	mu       sync.Mutex
	flushing bool          // a caller leads a round: lingering or in its round trip
	cur      *round        // gathering
	active   int           // between Begin and End
	waiting  int           // of those, in Record
	lingerer *round        // a round waiting for the active ones to record
	typical  time.Duration // moving average of the work's duration, by End
}

// lingerSpan: a round lingers only for work whose typical duration is
// within this many Lingers.
const lingerSpan = 4

// round is one round trip's spans and its outcome, known once done closes.
// lead closes when the round trip before it ended and this round needs a
// caller to make its own; full closes when no begun work is left outside
// Record while the round lingers.
type round struct {
	spans []Span
	first time.Time
	done  chan struct{}
	lead  chan struct{}
	full  chan struct{}
	err   error
}

func newRound() *round {
	return &round{done: make(chan struct{}), lead: make(chan struct{})}
}

// NewGroup commits through rec.
func NewGroup(rec SpanRecorder) *Group {
	return &Group{rec: rec, cur: newRound()}
}

// Begin counts one piece of work (a delivery in flight) that will record,
// or End, soon; a lingering round waits for it. Without a Linger, Begin and
// End do nothing, so the count costs the hot path nothing when unused.
func (g *Group) Begin() {
	if g.Linger <= 0 {
		return
	}
	g.mu.Lock()
	g.active++
	g.mu.Unlock()
}

// End undoes Begin, after Record or instead of it; took is how long the
// work itself took (a delivery's request), zero when unknown.
func (g *Group) End(took time.Duration) {
	if g.Linger <= 0 {
		return
	}
	g.mu.Lock()
	g.active--
	if took > 0 {
		g.typical += (took - g.typical) / 8
	}
	g.wakeLingerer()
	g.mu.Unlock()
}

// wakeLingerer lets a lingering round leave once every begun piece of work
// is recording. Called with g.mu held.
func (g *Group) wakeLingerer() {
	if g.lingerer != nil && g.active <= g.waiting {
		close(g.lingerer.full)
		g.lingerer = nil
	}
}

// Record adds spans to the next round trip and waits for its outcome. A
// failed round fails every caller in it; each retries on its own terms
// (see Until), joining a later round. A caller leaving on ctx leaves its
// spans to the round, which a later caller flushes.
func (g *Group) Record(ctx context.Context, spans []Span) error {
	if len(spans) == 0 {
		return nil
	}
	g.mu.Lock()
	if g.Linger > 0 {
		g.waiting++
		defer func() {
			g.mu.Lock()
			g.waiting--
			g.mu.Unlock()
		}()
	}
	r := g.cur
	if len(r.spans) == 0 {
		r.first = time.Now()
	}
	r.spans = append(r.spans, spans...)
	g.wakeLingerer()
	lead := r.lead
	for {
		if !g.flushing && g.cur == r {
			return g.lead(ctx, r) // unlocks
		}
		g.mu.Unlock()
		select {
		case <-r.done:
			return r.err
		case <-ctx.Done():
			return ctx.Err()
		case <-lead:
			lead = nil // closed once: from now on wait for done only
			g.mu.Lock()
		}
	}
}

// lead lingers for begun work, then makes r's round trip. Called with g.mu
// held; returns with it released.
func (g *Group) lead(ctx context.Context, r *round) error {
	if wait := g.Linger - time.Since(r.first); wait > 0 && g.active > g.waiting && g.typical <= lingerSpan*g.Linger {
		r.full = make(chan struct{}) // only a lingering round needs one
		g.flushing, g.lingerer = true, r
		g.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-r.full:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		g.mu.Lock()
		if g.lingerer == r {
			g.lingerer = nil
		}
	}
	return g.flush(ctx, r)
}

// flush makes r's round trip, then hands the round gathered meanwhile to
// one of its callers. Called with g.mu held; returns with it released.
func (g *Group) flush(ctx context.Context, r *round) error {
	g.flushing = true
	g.cur = newRound()
	g.mu.Unlock()
	start := time.Now()
	r.err = g.rec.Record(ctx, r.spans)
	if g.Observe != nil && r.err == nil {
		g.Observe(len(r.spans), time.Since(start))
	}
	close(r.done)
	g.mu.Lock()
	g.flushing = false
	if next := g.cur; len(next.spans) > 0 {
		close(next.lead)
	}
	g.mu.Unlock()
	return r.err
}

// ConnRecorder records spans over one connection of its own, taken from
// the client's pool once and kept: a pooled command checks its connection
// with a syscall on every checkout, which costs about a fifth of a mark.
// Group calls it one round trip at a time, as one connection requires.
// After an error the connection is dropped and the next call takes a
// fresh one. Not safe for concurrent use outside a Group.
type ConnRecorder struct {
	rdb           *redis.Client
	prefix, group string
	conn          *redis.Conn
	ranges        *Ranges
}

// NewConnRecorder records as NewRanges(rdb, prefix, group) does.
func NewConnRecorder(rdb *redis.Client, prefix, group string) *ConnRecorder {
	return &ConnRecorder{rdb: rdb, prefix: prefix, group: group}
}

// Record stores spans as Ranges.Record does.
func (c *ConnRecorder) Record(ctx context.Context, spans []Span) error {
	if c.conn == nil {
		c.conn = c.rdb.Conn()
		c.ranges = NewRanges(c.conn, c.prefix, c.group)
	}
	err := c.ranges.Record(ctx, spans)
	if err != nil {
		_ = c.conn.Close()
		c.conn = nil
	}
	return err
}
