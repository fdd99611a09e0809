package dispatcher

import (
	"context"
	"time"

	"github.com/hookline/hookline/internal/idempotency"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// group is the dispatcher as its consumer-group member sees it.
type group struct{ d *Dispatcher }

// Assign loads the spans already settled in Redis for a new partition, so
// records re-consumed after a crash are not POSTed again; a partition this
// member had before waits first for what it still holds of it
// (awaitReleased). Redis being away holds the assignment (and so the
// partition) until it answers.
func (g group) Assign(ctx context.Context, topic string, part int32) (*partition, bool) {
	d := g.d
	d.awaitReleased(ctx, topic, part)
	var settled map[string][][2]int64
	err := idempotency.Until(ctx, d.log, "load settled spans", func(ctx context.Context) error {
		var err error
		settled, err = d.ranges.Load(ctx, topic, part, 0)
		return err
	})
	if err != nil {
		return nil, false // client closing
	}
	p := newPartition(topic, part, settled)
	p.mu, p.onRelease = &d.mu, d.released
	if len(settled) > 0 {
		d.log.Info("settled spans loaded", zap.String("topic", topic), zap.Int32("partition", part),
			zap.Int("settledEndpoints", len(settled)))
	}
	return p, true
}

func (g group) Handle(_ context.Context, fetches kgo.Fetches) { g.d.handle(fetches) }

func (g group) PollSize(ctx context.Context) int { return g.d.pollSize(ctx) }

// Quiesce seals every open batch (a batch may hold records of several
// partitions) and waits until no record of ps waits for a delivery.
func (g group) Quiesce(ctx context.Context, ps []*partition) {
	d := g.d
	d.mu.Lock()
	for _, st := range d.eps {
		d.seal(st)
	}
	d.mu.Unlock()
	for ctx.Err() == nil && d.workCtx.Err() == nil && !d.idle(ps) {
		time.Sleep(20 * time.Millisecond)
	}
}

// Committed prunes the Redis spans below a committed offset.
func (g group) Committed(ctx context.Context, _ *partition, topic string, part int32, at int64) {
	if err := g.d.ranges.Prune(ctx, topic, part, at); err != nil && ctx.Err() == nil {
		g.d.log.Debug("prune settled spans", zap.Error(err)) // harmless: retried at the next commit
	}
}

func (d *Dispatcher) idle(ps []*partition) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range ps {
		if !p.dropped && !p.idle() {
			return false
		}
	}
	return true
}
