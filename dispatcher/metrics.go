package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"time"
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
	// Settled counts a delivery whose outcome is durable (delivery's
	// Settled* labels; a dead letter with its Cause*), with its events and
	// body bytes.
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

// noMetrics is the Metrics of a Config without one.
type noMetrics struct{}

func (noMetrics) Consumed(int, int, int)           {}
func (noMetrics) Attempted(int, time.Duration)     {}
func (noMetrics) Settled(string, string, int, int) {}
func (noMetrics) Buffered(int64)                   {}

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
