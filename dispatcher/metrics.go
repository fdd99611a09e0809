package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/member"
	"github.com/hookline/hookline/internal/retry"
)

// Metrics receives the dispatcher's figures as they happen (internal/metrics
// implements it). Calls are made on the delivery path, so they must be
// cheap and must not block; none of them can fail a delivery. If it also
// implements member.Observer it is told of failed Kafka calls (fetch,
// commit, produce).
type Metrics interface {
	// Consumed counts one poll's records: read, matched to endpoints (an
	// event matching two endpoints counts twice), and malformed.
	Consumed(records, matched, invalid int)
	// Attempted counts a first attempt by its HTTP status (0: no answer)
	// and how long it took.
	Attempted(status int, latency time.Duration)
	// Settled counts a delivery whose outcome is durable: "delivered",
	// "retrying", "deferred" or "dead" (with its cause: "rejected", "gone",
	// "exhausted", "max_age"), with its events and body bytes.
	Settled(outcome, cause string, items, bytes int)
	// Buffered samples the event bytes held in batches and in flight.
	Buffered(bytes int64)
}

// MarkMetrics, when Metrics also implements it, receives what the Redis
// marks of guarantee 2 cost: how long each settled delivery waited for its
// mark to be stored (a delivery slot is reused only after), and each
// group-committed round trip with the marks it carried. A wait much longer
// than the round trips says marks queue behind one another or their
// callers wait for a core.
type MarkMetrics interface {
	Marked(wait time.Duration)
	MarkRound(marks int, took time.Duration)
}

// Outcomes and dead-letter causes, as Metrics.Settled names them.
const (
	outcomeDelivered = "delivered"
	outcomeRetrying  = "retrying"
	outcomeDeferred  = "deferred"
	outcomeDead      = "dead"

	causeRejected  = "rejected"
	causeGone      = "gone"
	causeExhausted = "exhausted"
	causeMaxAge    = "max_age"
)

// noMetrics is the Metrics of a Config without one.
type noMetrics struct{}

func (noMetrics) Consumed(int, int, int)           {}
func (noMetrics) Attempted(int, time.Duration)     {}
func (noMetrics) Settled(string, string, int, int) {}
func (noMetrics) Buffered(int64)                   {}

// kafkaObserver is m as the member's Observer, or nil.
func kafkaObserver(m Metrics) member.Observer {
	o, _ := m.(member.Observer)
	return o
}

// deadCause names why a failed first attempt was dead-lettered: the
// classification said no retry can succeed, the endpoint is gone, or the
// schedule (its maxAge) ended.
func deadCause(classified delivery.Outcome, f retry.Failure, now time.Time) string {
	switch {
	case classified == delivery.Gone:
		return causeGone
	case classified == delivery.Dead:
		return causeRejected
	case retry.Expired(f.FirstAttempt, f.MaxAge, now):
		return causeMaxAge
	}
	return causeExhausted
}

// ErrNotReady wraps the reason Ready gives.
var ErrNotReady = errors.New("dispatcher not ready")

// Ready reports why the dispatcher cannot work now: it has not joined its
// group, Kafka or Redis does not answer. Nil: ready.
func (d *Dispatcher) Ready(ctx context.Context) error {
	if err := d.m.Ready(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrNotReady, err)
	}
	if err := d.cfg.Redis.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("%w: redis unreachable: %w", ErrNotReady, err)
	}
	return nil
}
