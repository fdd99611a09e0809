package retrier

import (
	"time"
)

// The retrier's slots are shared by every endpoint whose deliveries sit in
// a tier partition: records fall due in offset order, and a slot held by
// one endpoint's slow request is a slot the records behind it cannot use.
// So each endpoint may have at most EndpointConcurrency attempts in flight
// in this retrier (a proven fast one more: bound). A due record of an endpoint at that bound waits for one
// of them, while the records of other endpoints behind it start, only
// while the endpoint keeps up (keepsUp: its attempts take on average no
// longer than QueueWait per slot, and none has run past half its timeout)
// and has freed a slot within a budget; otherwise it is deferred: written
// again to its tier, due a tier's delay later, without an attempt, as a
// long Retry-After is.

// paceVerdict is what a due record may do now.
type paceVerdict int

const (
	paceGo    paceVerdict = iota // attempt it
	paceWait                     // its endpoint frees a slot soon: wait
	paceDefer                    // its endpoint does not keep up: re-enqueue
)

// endpointPace is one endpoint's attempts in flight in this retrier.
// Guarded by Retrier.mu.
type endpointPace struct {
	started []time.Time   // starts of the attempts in flight
	cycle   time.Duration // moving average of an attempt's time
	// freed is when a slot last came free, or when the busy spell began.
	freed time.Time
}

// admit decides for a due record of endpoint and, on paceGo, counts its
// attempt as started at now. Called with r.mu held.
func (r *Retrier) admit(endpoint string, now time.Time, timeout time.Duration) paceVerdict {
	pc := r.paces[endpoint]
	if pc == nil {
		pc = &endpointPace{}
		r.paces[endpoint] = pc
	}
	if len(pc.started) < pc.bound(r.cfg) {
		if len(pc.started) == 0 {
			pc.freed = now
		}
		pc.started = append(pc.started, now)
		return paceGo
	}
	if pc.keepsUp(now, timeout, r.cfg.QueueWait, pc.bound(r.cfg)) && now.Sub(pc.freed) <= pc.budget(r.cfg.QueueWait) {
		return paceWait
	}
	return paceDefer
}

// finished ends the attempt of endpoint started at start. Called with r.mu
// held.
func (r *Retrier) finished(endpoint string, start, now time.Time) {
	pc := r.paces[endpoint]
	if pc == nil {
		return
	}
	for i, at := range pc.started {
		if at.Equal(start) {
			pc.started = append(pc.started[:i], pc.started[i+1:]...)
			break
		}
	}
	pc.freed = now
	took := now.Sub(start)
	if pc.cycle == 0 {
		pc.cycle = took
	} else {
		pc.cycle += (took - pc.cycle) / 4
	}
	if len(pc.started) == 0 && len(r.paces) > 4096 {
		delete(r.paces, endpoint) // idle: its pace is learnt again
	}
}

// bound is how many attempts the endpoint may have in flight: a fast one
// (its attempts take no longer than QueueWait on average) every slot but
// EndpointConcurrency of a partition's, so that a fast endpoint turning
// slow still leaves the others that many; any other EndpointConcurrency.
func (pc *endpointPace) bound(c Config) int {
	if pc.cycle > 0 && pc.cycle <= c.QueueWait {
		return max(c.EndpointConcurrency, c.Concurrency-c.EndpointConcurrency)
	}
	return c.EndpointConcurrency
}

// budget is the longest an endpoint at its bound may go without freeing a
// slot while due records wait for it: four QueueWaits, or two average
// attempts when that is longer (attempts that started together end
// together).
func (pc *endpointPace) budget(wait time.Duration) time.Duration {
	return max(4*wait, 2*pc.cycle)
}

func (pc *endpointPace) keepsUp(now time.Time, timeout, wait time.Duration, slots int) bool {
	if pc.cycle > wait*time.Duration(slots) {
		return false
	}
	for _, at := range pc.started {
		if now.Sub(at) > timeout/2 {
			return false
		}
	}
	return true
}
