package retrier

import (
	"context"
	"fmt"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/idempotency"
	"go.uber.org/zap"
)

// maxLateness bounds the lateness samples kept.
const maxLateness = 200_000

// attempt makes one due attempt of d, read from tier, and writes its
// outcome durably. It reports false when stopping before the outcome was
// settled.
func (r *Retrier) attempt(d *delivery.Delivery, tier int) bool {
	ctx := r.workCtx
	now := r.cfg.Now()
	r.mu.Lock()
	if len(r.lateness) >= maxLateness {
		r.lateness = r.lateness[:0]
	}
	r.lateness = append(r.lateness, now.Sub(d.Due))
	r.mu.Unlock()

	ep := r.cfg.Endpoints.Get(d.EndpointID)
	switch {
	case ep == nil:
		d.Reason = "endpoint deleted"
		return r.handOff(ctx, d, r.cfg.Topics.Dead)
	case ep.Disabled:
		d.Reason = "endpoint inactive (replay after enabling it)"
		return r.handOff(ctx, d, r.cfg.Topics.Dead)
	case ep.MaxAge > 0 && now.Sub(d.FirstAttempt) > time.Duration(ep.MaxAge):
		d.Reason = fmt.Sprintf("max age %s exceeded after %d attempts (last: %s)", time.Duration(ep.MaxAge), d.Attempt, d.Reason)
		return r.handOff(ctx, d, r.cfg.Topics.Dead)
	}

	_, _, _, timeout := ep.Limits()
	leaseFor := 2*timeout + 5*time.Second
	var lease idempotency.Lease
	for {
		var state string
		err := idempotency.Until(ctx, r.log, "acquire delivery lease", func(ctx context.Context) error {
			var err error
			lease, state, err = r.marks.Acquire(ctx, d.ID, leaseFor)
			return err
		})
		if err != nil {
			return false
		}
		if state == idempotency.Done {
			r.count(func(s *Stats) { s.AlreadyDone++ })
			return true
		}
		if state == idempotency.Acquired {
			break
		}
		// Another worker (a member that lost this partition but not yet
		// its attempt) is sending it: wait for its outcome.
		select {
		case <-ctx.Done():
			return false
		case <-time.After(time.Second):
		}
	}

	d.Attempt++
	a := r.sender.Send(ctx, ep, d)
	if ctx.Err() != nil {
		_ = r.marks.Release(context.Background(), lease)
		return false
	}
	outcome, reason := delivery.Classify(a, ep.RetryPolicy)
	d.LastStatus, d.Reason = a.Status, reason
	r.count(func(s *Stats) { s.Attempts++ })
	next := r.cfg.Topics.Dead
	switch outcome {
	case delivery.Retry:
		if tier+1 < len(r.cfg.Topics.Retry) {
			delay := r.cfg.Topics.Retry[tier+1]
			if a.RetryAfter > delay {
				delay = a.RetryAfter
			}
			d.Due = r.cfg.Now().Add(delay)
			next = r.cfg.Topics.RetryTopic(r.cfg.Topics.Retry[tier+1])
		} else {
			d.Reason = fmt.Sprintf("failed permanently after %d attempts: %s", d.Attempt, reason)
			outcome = delivery.Dead
		}
	case delivery.Gone:
		if dis, ok := r.cfg.Endpoints.(Disabler); ok {
			if err := dis.Disable(ep.ID, reason); err != nil {
				r.log.Warn("disable endpoint", zap.String("endpoint", ep.ID), zap.Error(err))
			}
		}
	}
	r.cl.Produce(ctx, delivery.LogRecord(r.cfg.Topics.Attempts, d, a, outcome, d.Reason), nil)

	if outcome == delivery.Delivered {
		err := idempotency.Until(ctx, r.log, "mark delivery done", func(ctx context.Context) error {
			return r.marks.Done(ctx, lease, r.cfg.doneTTL())
		})
		if err != nil {
			return false
		}
		r.count(func(s *Stats) { s.Delivered++ })
		return true
	}
	if !r.handOff(ctx, d, next) {
		return false
	}
	_ = idempotency.Until(ctx, r.log, "release delivery lease", func(ctx context.Context) error {
		return r.marks.Release(ctx, lease)
	})
	return true
}

// handOff writes d to topic with acks=all, retrying until it lands.
func (r *Retrier) handOff(ctx context.Context, d *delivery.Delivery, topic string) bool {
	err := idempotency.Until(ctx, r.log, "write to "+topic, func(ctx context.Context) error {
		return r.cl.ProduceSync(ctx, d.Record(topic)).FirstErr()
	})
	if err != nil {
		return false
	}
	if topic == r.cfg.Topics.Dead {
		r.log.Warn("dead-lettered", zap.String("delivery", d.ID), zap.String("endpoint", d.EndpointID), zap.String("reason", d.Reason))
		r.count(func(s *Stats) { s.Dead++ })
	} else {
		r.count(func(s *Stats) { s.Retried++ })
	}
	return true
}

func (r *Retrier) count(f func(*Stats)) {
	r.mu.Lock()
	f(&r.stats)
	r.mu.Unlock()
}
