package delivery

import (
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/retry"
)

// Settled outcomes and dead-letter causes, as the metrics label them: one
// set for the dispatcher's first attempts and the retrier's.
const (
	SettledDelivered = "delivered"
	SettledRetrying  = "retrying"
	SettledDeferred  = "deferred" // the dispatcher's: handed to a tier unattempted
	SettledDead      = "dead"

	// CauseRejected: the classification says no attempt can succeed as
	// configured (a blocked address, a final 4xx under the 5xx policy).
	CauseRejected = "rejected"
	// CauseGone: the endpoint answered 410 and was disabled.
	CauseGone = "gone"
	// CauseExhausted: the retry schedule ended.
	CauseExhausted = "exhausted"
	// CauseMaxAge: the endpoint's maxAge ended.
	CauseMaxAge = "max_age"
	// CauseEndpoint: the endpoint was deleted or disabled meanwhile.
	CauseEndpoint = "endpoint"
	// CauseTooLarge: the next tier refused the delivery for its size.
	CauseTooLarge = "too_large"
)

// Decision is what follows an attempt: settle it (Delivered); write it to
// Topic, due at Due, at position Tier of the chain (Retry); or dead-letter
// it with Cause (Dead, or Gone, which also disables the endpoint). Reason
// is the delivery's reason to record.
type Decision struct {
	Outcome Outcome
	Reason  string
	Topic   string
	Due     time.Time
	Tier    int
	Cause   string
}

// Decide is the one place that turns an attempt's answer into what
// follows it, for first attempts and retries alike. from is the tier the
// attempt was read from (-1: the dispatcher's first attempt), attempts
// how many were made with this one, first when the first was made.
func Decide(a Attempt, ep *endpoints.Endpoint, policy retry.Policy, from, attempts int, first, now time.Time) Decision {
	dl := ep.Resolved()
	classified, reason := Classify(a, dl.RetryPolicy)
	d := Decision{Outcome: classified, Reason: reason}
	switch classified {
	case Gone:
		d.Cause = CauseGone
	case Dead:
		d.Cause = CauseRejected
	case Retry:
		maxAge := time.Duration(dl.MaxAge)
		step := policy.Next(retry.Failure{Tier: from, Attempts: attempts, RetryAfter: a.RetryAfter,
			FirstAttempt: first, MaxAge: maxAge, Reason: reason, Delays: dl.Delays()}, now)
		if !step.Dead {
			d.Topic, d.Due, d.Tier = step.Topic, step.Due, step.Tier
			break
		}
		d.Outcome, d.Reason, d.Cause = Dead, step.Reason, CauseExhausted
		if retry.Expired(first, maxAge, now) {
			d.Cause = CauseMaxAge
		}
	}
	return d
}
