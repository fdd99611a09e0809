package retry

import (
	"fmt"
	"time"
)

// Failure is what Next needs to know about a failed attempt.
type Failure struct {
	// Tier is the index of the tier the attempt was read from, or -1 for
	// the dispatcher's first attempt.
	Tier int
	// Attempts is how many attempts were made, this one included.
	Attempts int
	// RetryAfter is the endpoint's Retry-After (already capped), or 0.
	RetryAfter time.Duration
	// FirstAttempt is when the first attempt was made.
	FirstAttempt time.Time
	// MaxAge is the endpoint's maxAge; 0 lets the schedule decide alone.
	MaxAge time.Duration
	// Reason is the attempt's failure, for the dead letter's reason.
	Reason string
	// Delays is the endpoint's own retry schedule (its dialect's): the
	// wait before each retry. Nil: the policy's tier delays. Either way
	// the record goes to the tier Place picks for the wait.
	Delays []time.Duration
}

// Step is where a failed delivery goes next: position Tier in the chain,
// written to Topic, due at Due; or, with Dead set, the dead letters, with
// Reason. Topic is the tier of the longest delay that does not exceed the
// wait (see Place), so it can differ from tier Tier's own topic: the
// record carries its position.
type Step struct {
	Dead   bool
	Reason string
	Tier   int
	Topic  string
	Due    time.Time
}

// Next decides the step after failure f at now.
//
// The next tier is the one after f.Tier, due after its delay, or after the
// endpoint's Retry-After when that is longer. Past the last tier the
// delivery is dead. With a maxAge, the chain ends at FirstAttempt+maxAge:
// an endpoint that sets one wants a delivery given up once it has failed
// that long, not kept for the rest of the schedule. An attempt due after
// that deadline is moved to the deadline (the last attempt), and a
// failure at or after the deadline is dead, so no delivery waits for a
// tier that starts after its end.
func (p Policy) Next(f Failure, now time.Time) Step {
	p = p.WithDefaults()
	if Expired(f.FirstAttempt, f.MaxAge, now) {
		return Step{Dead: true, Reason: fmt.Sprintf("max age %s reached after %d attempts (last: %s)", f.MaxAge, f.Attempts, f.Reason)}
	}
	delays, upTo := p.Delays, f.Tier+1
	if f.Delays != nil {
		// An endpoint's schedule has its own positions; any tier whose
		// delay fits the wait holds the record.
		delays, upTo = f.Delays, len(p.Delays)-1
	}
	next := f.Tier + 1
	if next >= len(delays) {
		return Step{Dead: true, Reason: fmt.Sprintf("failed permanently after %d attempts: %s", f.Attempts, f.Reason)}
	}
	due := now.Add(max(delays[next], f.RetryAfter))
	if deadline := f.FirstAttempt.Add(f.MaxAge); f.MaxAge > 0 && due.After(deadline) {
		due = deadline
	}
	return Step{Tier: next, Topic: p.Topic(p.Place(due.Sub(now), upTo)), Due: due}
}

// Place is the tier, at most upTo, whose delay is the longest not above
// wait (tier 0 when wait is shorter than every delay). Written there, a
// record due after wait is never due before the records written beside
// it, so it cannot wait behind a record due later; one due much later than
// its tier's delay is re-enqueued by the retrier, placed again by the
// time it has left.
func (p Policy) Place(wait time.Duration, upTo int) int {
	p = p.WithDefaults()
	best := 0
	for i := 0; i <= upTo && i < len(p.Delays); i++ {
		if p.Delays[i] <= wait {
			best = i
		}
	}
	return best
}

// First is the step of a delivery the dispatcher could not attempt (its
// endpoint was behind): the first tier, due after its delay.
func (p Policy) First(now time.Time) Step {
	return Step{Tier: 0, Topic: p.Topic(0), Due: now.Add(p.Delay(0))}
}

// Expired reports whether a delivery first attempted at first is past an
// endpoint's maxAge at now (0: never).
func Expired(first time.Time, maxAge time.Duration, now time.Time) bool {
	return maxAge > 0 && !now.Before(first.Add(maxAge))
}
