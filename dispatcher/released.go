package dispatcher

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// A member that loses a partition (a Kafka outage long enough to drop it
// from the group, or a rebalance) may still be sending some of its records,
// and may get the partition back. The rules that keep it from sending
// those records twice:
//
//   - Records of a dropped partition that no request carries yet are
//     dropped from their batches before they are sent (dropReleased): the
//     partition's owner, this member again or another, reads them anew.
//   - Deliveries already in flight finish, and their outcome is recorded
//     in Redis as any other (the 2xx mark, or the hand-off's).
//   - A dropped partition commits nothing more (CommitPoint): counting its
//     dropped records down must not move a commit past them.
//   - When the partition is assigned to this member again, the assignment
//     waits, up to RevokeTimeout after the drop, until the deliveries it
//     still held of the partition have settled (awaitReleased), and only
//     then loads the spans settled in Redis, which now cover them.
//
// What remains: another member that takes the partition over while this
// one is still sending re-sends at most the deliveries this one had in
// flight, as after a crash.

// released is the partition's onRelease: keep it until it holds nothing.
// Called with d.mu held.
func (d *Dispatcher) released(p *partition) {
	p.releasedAt = time.Now()
	d.gone[p] = struct{}{}
}

// pruneGone forgets the dropped partitions that hold nothing any more, so
// that dropReleased's fast path holds again. Called with d.mu held.
func (d *Dispatcher) pruneGone() {
	for p := range d.gone {
		if p.idle() {
			delete(d.gone, p)
		}
	}
}

// dropReleased removes from b the records of partitions this member no
// longer owns, releasing them as if settled here (their next owner reads
// them again), and reports whether any record is left to send. Called
// with d.mu held.
func (d *Dispatcher) dropReleased(b *batch) bool {
	if len(d.gone) == 0 {
		return len(b.items) > 0 // the common case: nothing dropped holds records
	}
	kept := b.items[:0]
	size := 1
	var freed int64
	for _, it := range b.items {
		if it.p.dropped {
			it.p.settle(it.offset, -1)
			freed += int64(len(it.value))
			continue
		}
		kept = append(kept, it)
		size += len(it.value) + 1
	}
	if freed > 0 {
		clear(b.items[len(kept):])
		b.items, b.bytes = kept, size
		d.buffered -= freed
		d.wake()
	}
	return len(b.items) > 0
}

// allReleased reports whether every record of a prepared batch belongs to
// a dropped partition, and if so drops them all: the delivery is not sent.
// A batch holding some records still owned is sent whole. Called with d.mu
// held.
func (d *Dispatcher) allReleased(b *batch) bool {
	if len(d.gone) == 0 {
		return false
	}
	for _, it := range b.items {
		if !it.p.dropped {
			return false
		}
	}
	d.dropReleased(b)
	return true
}

// awaitReleased waits until the deliveries this member still holds of an
// earlier assignment of topic/part have settled, for at most RevokeTimeout
// from when it was dropped (one deadline however many partitions come
// back at once). Open batches are sealed first, so that the records of it
// they hold are dropped or sent now rather than when the batches fill.
func (d *Dispatcher) awaitReleased(ctx context.Context, topic string, part int32) {
	d.mu.Lock()
	var prev *partition
	for p := range d.gone {
		if p.topic == topic && p.part == part && !p.idle() {
			prev = p
		}
	}
	if prev == nil {
		d.mu.Unlock()
		return
	}
	for _, st := range d.eps {
		d.seal(st)
	}
	deadline := prev.releasedAt.Add(d.cfg.RevokeTimeout)
	d.mu.Unlock()
	start := time.Now()
	for {
		d.mu.Lock()
		idle := prev.idle()
		d.mu.Unlock()
		switch {
		case idle:
			d.log.Info("partition back: the deliveries still held of it settled first", zap.String("topic", topic),
				zap.Int32("partition", part), zap.Duration("waited", time.Since(start).Round(time.Millisecond)))
			return
		case ctx.Err() != nil || d.workCtx.Err() != nil:
			return
		case time.Now().After(deadline):
			// It stays in gone: its records not yet sent are still dropped.
			d.log.Warn("partition back while deliveries of it are still in flight; those may be sent once more",
				zap.String("topic", topic), zap.Int32("partition", part), zap.Duration("since dropped", time.Since(prev.releasedAt).Round(time.Millisecond)))
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
