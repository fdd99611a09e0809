package retrier

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/deliverylog"
	"github.com/hookline/hookline/internal/idempotency"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// maxLateness bounds the lateness samples kept.
const maxLateness = 200_000

// noSendLease is the lease of a dead letter written without an attempt
// when there is no endpoint timeout to size it by.
const noSendLease = 15 * time.Second

// markGrace is how long a stopping retrier still tries to record an
// outcome that is already in Kafka or at the receiver.
const markGrace = 10 * time.Second

// msgCut is logged when a stop cuts a POST before its answer: the
// receiver may have it, and the next owner makes that attempt again.
const msgCut = "attempt cut by a stop before its answer; it will be made again"

// attempt makes one due attempt of d, read from tier in replay epoch
// epoch, and writes its outcome durably. It reports false when stopping
// before the outcome was settled.
func (r *Retrier) attempt(d *delivery.Delivery, epoch int64, tier int) bool {
	ctx := r.workCtx
	now := r.cfg.Now()
	r.mu.Lock()
	if len(r.lateness) >= maxLateness {
		r.lateness = r.lateness[:0]
	}
	late := now.Sub(d.Due)
	r.lateness = append(r.lateness, late)
	r.mu.Unlock()
	tk := taken{tier: tier, lateness: late}

	ep := r.cfg.Endpoints.Get(d.EndpointID)
	var dead string
	switch {
	case ep == nil:
		dead, tk.cause = "endpoint deleted", delivery.CauseEndpoint
	case ep.Disabled:
		dead, tk.cause = "endpoint inactive (replay after enabling it)", delivery.CauseEndpoint
	case pastMaxAge(d, time.Duration(ep.Resolved().MaxAge)):
		dead, tk.cause = fmt.Sprintf("max age %s reached after %d attempts (last: %s)", time.Duration(ep.Resolved().MaxAge), d.Attempt, d.Reason), delivery.CauseMaxAge
	}
	leaseFor := noSendLease
	if ep != nil {
		leaseFor = 2*ep.Limits().Timeout + 5*time.Second
	}
	// Dead letters without an attempt take the lease too: a copy of the
	// record re-read after a crash must find the dead mark, not write a
	// second dead letter.
	lease, ok, settled := r.lease(ctx, d, epoch, leaseFor)
	if !ok {
		return settled
	}
	if dead != "" {
		d.Reason = dead
		return r.handOff(ctx, lease, d, epoch, r.cfg.Topics.Dead, tk, nil)
	}

	d.Attempt++
	a := r.sender.Send(ctx, ep, d)
	if ctx.Err() != nil && a.Status == 0 {
		r.log.Info(msgCut, zap.String("delivery", d.ID), zap.Int("attempt", d.Attempt))
		_ = r.marks.Release(context.Background(), lease, r.cfg.doneTTL())
		return false
	}
	// An answer is recorded even when stopping: dropping it would make the
	// next owner send this attempt again.
	ctx, cancel := outlive(ctx)
	defer cancel()
	r.cfg.Metrics.Attempted(tier, a.Status, a.Latency)
	r.count(func(s *Stats) { s.Attempts++ })
	next := delivery.Decide(a, ep, r.cfg.Retry, tier, d.Attempt, d.FirstAttempt, r.cfg.Now())
	d.LastStatus, d.Reason = a.Status, next.Reason
	topic := r.cfg.Topics.Dead
	switch next.Outcome {
	case delivery.Retry:
		topic, d.Due, d.Tier = next.Topic, next.Due, next.Tier
	case delivery.Gone:
		if err := r.cfg.Endpoints.Disable(ctx, ep.ID, d.Reason); err != nil {
			r.log.Warn("disable endpoint", zap.String("endpoint", ep.ID), zap.Error(err))
		}
	}

	if next.Outcome == delivery.Delivered {
		r.attempts.Attempt(d, a, next.Outcome, d.Reason)
		err := idempotency.Until(ctx, r.log, "mark delivery done", func(ctx context.Context) error {
			return r.marks.Done(ctx, lease, r.cfg.doneTTL())
		})
		if err != nil {
			return false
		}
		r.count(func(s *Stats) { s.Delivered++ })
		r.cfg.Metrics.Settled(tier, delivery.SettledDelivered, "", late)
		return true
	}
	tk.cause = next.Cause
	return r.handOff(ctx, lease, d, epoch, topic, tk, &deliverylog.Logged{Attempt: a, Outcome: next.Outcome, Reason: d.Reason})
}

// pastMaxAge tells whether d is dead by maxAge without another attempt.
// The deadline is judged at d's due, not at the time it is read: the
// policy moves the attempt the schedule puts past the deadline onto it, to
// be the chain's last, and that attempt starting a moment after its due
// must still be made. Only a record due after the deadline (one written
// before the endpoint's maxAge was shortened) ends without it.
func pastMaxAge(d *delivery.Delivery, maxAge time.Duration) bool {
	return maxAge > 0 && d.Due.After(d.FirstAttempt.Add(maxAge))
}

// lease takes the delivery's lease for this record. When not ok, the
// record is not attempted, and settled tells whether a mark refused it (it
// may commit) or the retrier is stopping (it may not).
func (r *Retrier) lease(ctx context.Context, d *delivery.Delivery, epoch int64, leaseFor time.Duration) (lease idempotency.Lease, ok, settled bool) {
	for {
		var state string
		err := idempotency.Until(ctx, r.log, "acquire delivery lease", func(ctx context.Context) error {
			var err error
			lease, state, err = r.marks.Acquire(ctx, d.ID, epoch, d.Attempt, leaseFor, r.cfg.doneTTL())
			return err
		})
		if err != nil {
			return lease, false, false
		}
		switch state {
		case idempotency.Acquired:
			return lease, true, false
		case idempotency.Reclaimed:
			// The one place an attempt can be made twice: its holder died
			// after sending, or after writing the next record but before
			// marking it handed.
			r.log.Warn("attempting a delivery whose previous holder stopped without recording an outcome",
				zap.String("delivery", d.ID), zap.Int("attempt", d.Attempt+1))
			return lease, true, false
		case idempotency.Done:
			r.count(func(s *Stats) { s.AlreadyDone++ })
			return lease, false, true
		case idempotency.Handed:
			r.count(func(s *Stats) { s.AlreadyHanded++ })
			return lease, false, true
		case idempotency.Dead:
			r.count(func(s *Stats) { s.AlreadyDead++ })
			return lease, false, true
		}
		// Another worker (a member that lost this partition but not yet
		// its attempt) is sending it: wait for its outcome.
		select {
		case <-ctx.Done():
			return lease, false, false
		case <-time.After(time.Second):
		}
	}
}

// handOff writes d to topic with acks=all, then replaces the lease with
// the handed (or dead) mark; only then may the source record settle and,
// later, commit. The mark cannot come first: a mark for a write that then
// never lands (a kill, or a stop while Kafka is away) would make the
// source record skip itself and lose the delivery. So the remaining window
// is a kill between the broker's acknowledgement and the mark, one Redis
// round trip (longer only while Redis is away): the lease is then left to
// run out, after which the source record is attempted again and a second
// record reaches topic. A kill anywhere else is covered: before the write
// nothing was handed off, after the mark every copy is skipped.
//
// tk is told to the metrics once the mark is written. logged is the
// attempt whose outcome d is (nil: none), logged once the write has
// landed, naming where.
func (r *Retrier) handOff(ctx context.Context, lease idempotency.Lease, d *delivery.Delivery, epoch int64, topic string, tk taken, logged *deliverylog.Logged) bool {
	rec, err := r.write(ctx, d, epoch, topic)
	if errors.Is(err, kafka.ErrTooLarge) {
		tk.cause = delivery.CauseTooLarge
		r.log.Error("delivery too large for its next tier; dead-lettering it", zap.String("delivery", d.ID),
			zap.String("topic", topic), zap.Int("bytes", len(d.Body)), zap.Error(err))
		d.Reason = fmt.Sprintf("too large for %s after %d attempts (last: %s)", topic, d.Attempt, d.Reason)
		topic = r.cfg.Topics.Dead
		rec, err = r.write(ctx, d, epoch, topic)
	}
	if err != nil {
		r.attempts.Landed(d, logged, nil) // the attempt was made all the same
		// A failed write did not land (the idempotent producer fails no
		// record it has sent without knowing its fate), so the record may
		// be taken again at once.
		_ = r.marks.Release(context.Background(), lease, r.cfg.doneTTL())
		return false
	}
	r.attempts.Landed(d, logged, rec)
	// The write landed: record it even when stopping, so the copy re-read
	// by the next owner is skipped rather than waiting out the lease and
	// attempted again.
	mctx, cancel := outlive(ctx)
	defer cancel()
	var held bool
	err = idempotency.Until(mctx, r.log, "mark delivery handed off", func(ctx context.Context) error {
		var err error
		if topic == r.cfg.Topics.Dead {
			held, err = r.marks.Dead(ctx, lease, d.Attempt, r.cfg.doneTTL())
		} else {
			held, err = r.marks.Handed(ctx, lease, d.Attempt, r.cfg.doneTTL())
		}
		return err
	})
	if err != nil {
		return false
	}
	if !held {
		r.log.Warn("lease ran out before the hand-off was recorded; the delivery may be attempted twice",
			zap.String("delivery", d.ID), zap.Int("attempt", d.Attempt))
	}
	if r.cfg.afterHandOff != nil {
		r.cfg.afterHandOff(r.workCtx, d, topic)
	}
	if topic == r.cfg.Topics.Dead {
		r.log.Warn("dead-lettered", zap.String("delivery", d.ID), zap.String("endpoint", d.EndpointID), zap.String("reason", d.Reason))
		r.count(func(s *Stats) { s.Dead++ })
		r.cfg.Metrics.Settled(tk.tier, delivery.SettledDead, tk.cause, tk.lateness)
	} else {
		r.count(func(s *Stats) { s.Retried++ })
		r.cfg.Metrics.Settled(tk.tier, delivery.SettledRetrying, "", tk.lateness)
	}
	return true
}

// write produces d to topic until it lands or ctx ends (kafka.Writer), and
// returns the record as it landed. A record too large for a retry tier
// returns kafka.ErrTooLarge at once for the caller to dead-letter; the dead
// letters must take it, and are tried again until an operator raises
// their limit.
func (r *Retrier) write(ctx context.Context, d *delivery.Delivery, epoch int64, topic string) (*kgo.Record, error) {
	rec := d.RecordInEpoch(topic, epoch)
	var err error
	if topic == r.cfg.Topics.Dead {
		err = r.writer.WriteAll(ctx, rec)
	} else {
		err = r.writer.Write(ctx, rec)
	}
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// outlive is a context that ends markGrace after parent does.
func outlive(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	stop := context.AfterFunc(parent, func() { time.AfterFunc(markGrace, cancel) })
	return ctx, func() { stop(); cancel() }
}

func (r *Retrier) count(f func(*Stats)) {
	r.mu.Lock()
	f(&r.stats)
	r.mu.Unlock()
}
