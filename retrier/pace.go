package retrier

import (
	"time"
)

// The retrier's slots are shared by every endpoint whose deliveries sit in
// a tier partition: records fall due in offset order, and a slot held by
// one endpoint's slow request is a slot the records behind it cannot use.
// So each endpoint may have at most EndpointConcurrency attempts in flight
// in this retrier. A due record of an endpoint at that bound waits for one
// of them only while the endpoint keeps up (keepsUp: it frees a slot at
// least every QueueWait and has no request past half its timeout);
// otherwise it is deferred: written again to its tier, due a tier's delay
// later, without an attempt, as a long Retry-After is.

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
	started []time.Time // starts of the attempts in flight
	freed   time.Time   // when a slot last came free (or the first start)
	cycle   time.Duration
}

// admit decides for a due record of endpoint and, on paceGo, counts its
// attempt as started at now. Called with r.mu held.
func (r *Retrier) admit(endpoint string, now time.Time, timeout time.Duration) paceVerdict {
	pc := r.paces[endpoint]
	if pc == nil {
		pc = &endpointPace{freed: now}
		r.paces[endpoint] = pc
	}
	if len(pc.started) < r.cfg.EndpointConcurrency {
		if len(pc.started) == 0 {
			pc.freed = now
		}
		pc.started = append(pc.started, now)
		return paceGo
	}
	if pc.keepsUp(now, timeout, r.cfg.QueueWait, r.cfg.EndpointConcurrency) {
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

func (pc *endpointPace) keepsUp(now time.Time, timeout, wait time.Duration, slots int) bool {
	if now.Sub(pc.freed) > wait || pc.cycle > wait*time.Duration(slots) {
		return false
	}
	for _, at := range pc.started {
		if now.Sub(at) > timeout/2 {
			return false
		}
	}
	return true
}
