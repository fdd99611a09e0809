package dispatcher

import (
	"context"
	"strconv"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/deliverylog"
	"github.com/hookline/hookline/internal/idempotency"
	"go.uber.org/zap"
)

// prepared is a sealed batch with its delivery built and signed.
type prepared struct {
	b      *batch
	del    *delivery.Delivery
	signed *delivery.Signed
}

// preparer builds and signs an endpoint's next delivery while a worker
// sends the previous one, so splicing and hashing megabytes of body overlap
// the request in flight instead of adding to it. out is unbuffered: at most
// one delivery waits prepared per endpoint.
func (d *Dispatcher) preparer(st *endpointState, out chan<- prepared) {
	defer d.workers.Done()
	defer close(out)
	for b := range st.queue {
		if p, ok := d.prepare(st, b); ok {
			out <- p
		}
	}
}

// worker sends an endpoint's prepared deliveries one after another.
func (d *Dispatcher) worker(st *endpointState, in <-chan prepared) {
	defer d.workers.Done()
	for p := range in {
		d.send(st, p)
	}
}

// soloWorker prepares and sends an endpoint's deliveries itself: for single
// events, whose body is the record as is and whose signature takes a
// microsecond, handing each to another goroutine would cost more than it
// overlaps.
func (d *Dispatcher) soloWorker(st *endpointState) {
	defer d.workers.Done()
	for b := range st.queue {
		if p, ok := d.prepare(st, b); ok {
			d.send(st, p)
		}
	}
}

// prepare builds and signs the delivery of a batch taken off st's queue.
// It reports false when there is nothing to send: work abandoned (left
// uncommitted, re-consumed by the next owner), every event of a partition
// this member no longer owns, or every event failed its shape (dead
// letters each).
func (d *Dispatcher) prepare(st *endpointState, b *batch) (prepared, bool) {
	d.mu.Lock()
	st.overflow = false // the queue has room again
	d.wake()
	left := d.dropReleased(b)
	d.mu.Unlock()
	if !left || d.workCtx.Err() != nil || !d.shapeItems(b) {
		return prepared{}, false
	}
	del := d.newDelivery(b)
	del.Attempt = 1
	return prepared{b: b, del: del, signed: d.sender.Sign(b.ep, del, time.Now())}, true
}

// send delivers p, keeping the endpoint's in-flight count.
func (d *Dispatcher) send(st *endpointState, p prepared) {
	if d.workCtx.Err() != nil {
		releaseBody(p.del)
		return // abandoned: uncommitted, re-consumed by the next owner
	}
	start := time.Now()
	d.mu.Lock()
	if d.allReleased(p.b) {
		d.mu.Unlock()
		releaseBody(p.del)
		return // prepared before its partition was lost: its owner reads it again
	}
	st.started = append(st.started, start)
	d.mu.Unlock()
	d.marks.Begin()
	ok, took := d.deliver(p)
	d.marks.End(took)
	releaseBody(p.del)
	d.mu.Lock()
	for i, at := range st.started {
		if at == start {
			st.started = append(st.started[:i], st.started[i+1:]...)
			break
		}
	}
	st.sent(time.Since(start))
	st.failing = !ok
	d.wake()
	d.mu.Unlock()
}

// deliver makes the first attempt and settles the batch by its outcome. It
// reports whether the endpoint answered 2xx, and how long the request took.
func (d *Dispatcher) deliver(p prepared) (bool, time.Duration) {
	b, del := p.b, p.del
	a := d.sender.Post(d.workCtx, p.signed)
	if d.workCtx.Err() != nil {
		return true, 0 // stopping mid-request: leave it unsettled
	}
	d.cfg.Metrics.Attempted(a.Status, a.Latency)
	next := delivery.Decide(a, b.ep, d.cfg.Retry, -1, del.Attempt, del.FirstAttempt, time.Now())
	del.LastStatus, del.Reason = a.Status, next.Reason
	if next.Outcome == delivery.Retry {
		del.Due, del.Tier = next.Due, next.Tier
	}
	logged := &deliverylog.Logged{Attempt: a, Outcome: next.Outcome, Reason: del.Reason}
	switch next.Outcome {
	case delivery.Delivered:
		d.attempts.Attempt(del, a, next.Outcome, del.Reason)
		if d.settle(b, true) {
			d.mu.Lock()
			d.stats.Delivered++
			d.stats.Events += int64(len(b.items))
			d.mu.Unlock()
			d.cfg.Metrics.Settled(delivery.SettledDelivered, "", len(b.items), len(del.Body))
		}
	case delivery.Retry:
		d.handOff(b, del, next.Topic, 0, "", logged)
	case delivery.Gone:
		if err := d.cfg.Endpoints.Disable(d.workCtx, b.ep.ID, del.Reason); err != nil {
			d.log.Warn("disable endpoint", zap.String("endpoint", b.ep.ID), zap.Error(err))
		}
		d.log.Warn("endpoint answered 410 Gone: disabled", zap.String("endpoint", b.ep.ID))
		d.handOff(b, del, d.cfg.Topics.Dead, 0, next.Cause, logged)
	case delivery.Dead:
		d.log.Warn("delivery failed permanently", zap.String("endpoint", b.ep.ID), zap.String("delivery", del.ID), zap.String("reason", del.Reason))
		d.handOff(b, del, d.cfg.Topics.Dead, 0, next.Cause, logged)
	}
	return next.Outcome == delivery.Delivered, a.Latency
}

// settle records the batch's spans in Redis (waiting out Redis outages),
// then releases its records for commit. It reports false when stopping
// first: the records stay uncommitted.
func (d *Dispatcher) settle(b *batch, delivered bool) bool {
	spans := spansOf(b)
	start := time.Now()
	err := idempotency.Until(d.workCtx, d.log, "record settled delivery", func(ctx context.Context) error {
		return d.marks.Record(ctx, spans)
	})
	if err == nil && d.markMetrics != nil {
		d.markMetrics.Marked(time.Since(start))
	}
	if err != nil {
		if delivered {
			d.log.Warn("stopped before recording a 2xx; its events may be sent once more", zap.String("delivery", b.id))
		}
		return false
	}
	d.mu.Lock()
	var n int64
	var last *partition
	hint := -1
	for _, it := range b.items {
		if it.p != last {
			last, hint = it.p, -1
		}
		hint = it.p.settle(it.offset, hint)
		n += int64(len(it.value))
	}
	d.buffered -= n
	d.wake()
	d.mu.Unlock()
	return true
}

// spansOf returns, per partition, the first and last offset of the batch.
func spansOf(b *batch) []idempotency.Span {
	var spans []idempotency.Span
	idx := map[*partition]int{}
	for _, it := range b.items {
		i, ok := idx[it.p]
		if !ok {
			idx[it.p] = len(spans)
			spans = append(spans, idempotency.Span{Topic: it.p.topic, Partition: it.p.part, EndpointID: b.ep.ID, First: it.offset, Last: it.offset})
			continue
		}
		s := &spans[i]
		s.First, s.Last = min(s.First, it.offset), max(s.Last, it.offset)
	}
	return spans
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
