package retrier

import (
	"errors"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/kafka"
	"go.uber.org/zap"
)

// requeue writes d unchanged (id, body, attempts, due, position, epoch) to
// the tier its remaining wait places it in, so that it stops holding up
// the records behind it; it reports whether the source record may settle.
//
// No mark is taken or written: a re-enqueue is not an attempt. A kill
// after the write but before the source commits leaves two records of the
// same delivery with the same attempt count and epoch, and the marks let
// only one of them be attempted: whichever is leased first either marks
// the delivery done or hands off a record one attempt newer, and the
// handed mark then turns the other copy away; while the lease is held the
// other copy waits for it.
func (r *Retrier) requeue(d *delivery.Delivery, epoch int64, tier int) bool {
	ctx := r.workCtx
	d.Tier = tier
	topic := r.cfg.Retry.Topic(r.cfg.Retry.Place(d.Due.Sub(r.cfg.Now()), tier))
	_, err := r.write(ctx, d, epoch, topic)
	if errors.Is(err, kafka.ErrTooLarge) {
		// The tier takes smaller records than the one it came from: keep
		// it where it is, waiting for it as if it were not late.
		r.log.Warn("delivery too large to re-enqueue; waiting for it in place", zap.String("delivery", d.ID),
			zap.String("topic", topic), zap.Int("bytes", len(d.Body)), zap.Error(err))
		t := time.NewTimer(d.Due.Sub(r.cfg.Now()))
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
		return r.attempt(d, epoch, tier)
	}
	if err != nil {
		return false
	}
	if r.cfg.afterRequeue != nil {
		r.cfg.afterRequeue(r.workCtx, d, topic)
	}
	r.count(func(s *Stats) { s.Requeued++ })
	return true
}
