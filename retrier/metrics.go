package retrier

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Metrics receives the retrier's figures as they happen (internal/metrics
// implements it). Calls are made on the attempt path, so they must be
// cheap and must not block; none of them can fail an attempt. If it also
// implements member.Observer it is told of failed Kafka calls (fetch,
// commit, produce).
type Metrics interface {
	// Attempted counts an attempt of tier (its index in the schedule) by
	// its HTTP status (0: no answer) and how long it took.
	Attempted(tier, status int, latency time.Duration)
	// Settled counts a tier record whose outcome is durable (delivery's
	// Settled* labels; a dead letter with its Cause*), with how late after
	// its due it was taken.
	Settled(tier int, outcome, cause string, lateness time.Duration)
	// Held samples the tier partitions paused and the records waiting in
	// memory, once a second.
	Held(paused, records int)
}

type noMetrics struct{}

func (noMetrics) Attempted(int, int, time.Duration)          {}
func (noMetrics) Settled(int, string, string, time.Duration) {}
func (noMetrics) Held(int, int)                              {}

// taken is what the metrics are told of a record once it settles.
type taken struct {
	tier     int
	cause    string // a dead letter's
	lateness time.Duration
}

// sample reports the partitions paused and the records held.
func (r *Retrier) sample() {
	ps := r.m.Partitions()
	r.mu.Lock()
	paused, held := 0, 0
	for _, p := range ps {
		if len(p.queue) > 0 {
			paused++
			held += len(p.queue)
		}
	}
	r.mu.Unlock()
	r.cfg.Metrics.Held(paused, held)
}

// ErrNotReady wraps the reason Ready gives.
var ErrNotReady = errors.New("retrier not ready")

// Ready reports why the retrier cannot work now: it has not joined its
// group, Kafka or Redis does not answer. Nil: ready.
func (r *Retrier) Ready(ctx context.Context) error {
	if err := r.m.Ready(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrNotReady, err)
	}
	if err := r.cfg.Redis.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("%w: redis unreachable: %w", ErrNotReady, err)
	}
	return nil
}
