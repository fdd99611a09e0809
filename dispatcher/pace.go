package dispatcher

import (
	"time"
)

// An endpoint's pace must never set that of the other endpoints whose
// events share its partitions: routing is one loop per member, so while it
// waits for room in one endpoint's queue, every other endpoint's events
// wait too. So routing waits for a full queue only while the endpoint
// keeps up (keepsUp), and at most for a budget; otherwise the sealed batch
// is deferred: written to the first retry tier without an attempt, and the
// partition's commit point moves on.
//
// What "keeps up" takes is sustained evidence, not one slow answer: a
// backlog routed at memory speed would otherwise all be deferred in the
// moment of a single hiccup.
//   - Its deliveries take on average (cycle) no longer than QueueWait per
//     sender: it frees a sender at least every QueueWait.
//   - None of its deliveries in flight has run past half its timeout, and
//     its last attempt did not fail.
//   - Routing has not already given up on it since its queue last had room
//     (overflow): once a wait ran out its budget, the endpoint's overflow is
//     deferred at once until a sender takes a batch again.

// keepsUp reports whether routing may wait for room in st's full queue.
// Called with d.mu held.
func (st *endpointState) keepsUp(now time.Time, timeout, wait time.Duration, senders int) bool {
	if st.failing || st.overflow || st.cycle > wait*time.Duration(senders) {
		return false
	}
	for _, at := range st.started {
		if now.Sub(at) > timeout/2 {
			return false
		}
	}
	return true
}

// budget is the longest one seal waits for an endpoint that keeps up:
// four QueueWaits, or two average deliveries when that is longer (senders
// that started together free together).
func (st *endpointState) budget(wait time.Duration) time.Duration {
	return max(4*wait, 2*st.cycle)
}

// sent folds one delivery's time with its sender into the moving average
// (weight 1/4: a change of pace shows within a few deliveries).
func (st *endpointState) sent(took time.Duration) {
	if st.cycle == 0 {
		st.cycle = took
		return
	}
	st.cycle += (took - st.cycle) / 4
}

// seal closes st's open batch and queues it, or defers it when the queue
// is full and the endpoint does not keep up or outlasts the budget.
// Called with d.mu held.
func (d *Dispatcher) seal(st *endpointState) {
	b := st.open
	if b == nil {
		return
	}
	st.open = nil
	if b.timer != nil {
		b.timer.Stop()
	}
	timeout, wait := b.ep.Limits().Timeout, d.cfg.QueueWait
	start := time.Now()
	for !st.closed {
		select {
		case st.queue <- b:
			return
		default:
		}
		now := time.Now()
		if d.abandoned() || !st.keepsUp(now, timeout, wait, d.cfg.Concurrency) {
			break
		}
		if now.Sub(start) > st.budget(wait) {
			st.overflow = true
			break
		}
		// Wait releases d.mu; senders taking a batch and a ticker signal.
		d.wait()
	}
	d.deferBatch(st, b)
}

// deferBatch writes b to the first retry tier without an attempt; its
// records settle once the write lands. At most Concurrency such writes per
// endpoint are in flight, so a crash re-reads no more of an endpoint's
// deferred records than of its deliveries. Called with d.mu held.
func (d *Dispatcher) deferBatch(st *endpointState, b *batch) {
	for st.deferring >= d.cfg.Concurrency && !d.abandoned() {
		d.wait()
	}
	st.deferring++
	d.stats.Deferred++
	d.workers.Add(1)
	go func() {
		defer d.workers.Done()
		defer func() {
			d.mu.Lock()
			st.deferring--
			d.wake()
			d.mu.Unlock()
		}()
		d.mu.Lock()
		left := d.dropReleased(b)
		d.mu.Unlock()
		if !left || !d.shapeItems(b) {
			return
		}
		del := d.newDelivery(b)
		defer releaseBody(del)
		del.Attempt = 0
		del.Reason = "deferred: the endpoint was not keeping up with its events (its queue was full)"
		step := d.cfg.Retry.First(time.Now())
		del.Due, del.Tier = step.Due, step.Tier
		d.handOff(b, del, step.Topic, 0, "", nil)
	}()
}
