package dispatcher

import (
	"context"
	"time"

	"github.com/hookline/hookline/internal/idempotency"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// assigned loads, per new partition, the spans already settled in Redis so
// records re-consumed after a crash are not POSTed again. Redis being away
// holds the assignment (and so the partition) until it answers.
func (d *Dispatcher) assigned(ctx context.Context, _ *kgo.Client, assigned map[string][]int32) {
	for topic, parts := range assigned {
		for _, part := range parts {
			var settled map[string][][2]int64
			err := idempotency.Until(ctx, d.log, "load settled spans", func(ctx context.Context) error {
				var err error
				settled, err = d.ranges.Load(ctx, topic, part, 0)
				return err
			})
			if err != nil {
				return // client closing
			}
			d.mu.Lock()
			d.parts[tp{topic, part}] = newPartition(topic, part, settled)
			d.mu.Unlock()
			d.log.Info("partition assigned", zap.String("topic", topic), zap.Int32("partition", part),
				zap.Int("settledEndpoints", len(settled)))
		}
	}
}

// revoked seals the open batches, waits (up to RevokeTimeout) for every
// delivery holding records of the revoked partitions, commits them and lets
// them go. A delivery still in flight after the timeout completes, but its
// records may be sent again by the partition's next owner.
func (d *Dispatcher) revoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	d.mu.Lock()
	if d.abandon {
		d.mu.Unlock()
		d.drop(revoked)
		return
	}
	for _, st := range d.eps {
		d.seal(st)
	}
	d.mu.Unlock()
	deadline := time.Now().Add(d.cfg.RevokeTimeout)
	for time.Now().Before(deadline) && ctx.Err() == nil && !d.partsIdle(revoked) {
		time.Sleep(20 * time.Millisecond)
	}
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	d.commit(cctx, revoked)
	cancel()
	d.drop(revoked)
}

// lost drops partitions without committing: another member owns them now.
func (d *Dispatcher) lost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	d.drop(lost)
}

func (d *Dispatcher) partsIdle(ps map[string][]int32) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for topic, parts := range ps {
		for _, part := range parts {
			if p := d.parts[tp{topic, part}]; p != nil && !p.idle() {
				return false
			}
		}
	}
	return true
}

func (d *Dispatcher) drop(ps map[string][]int32) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for topic, parts := range ps {
		for _, part := range parts {
			if p := d.parts[tp{topic, part}]; p != nil {
				p.dropped = true
				delete(d.parts, tp{topic, part})
			}
		}
	}
}
