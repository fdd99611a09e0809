package dispatcher

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/deliverylog"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// Every write the pipeline depends on (a hand-off to a retry tier or the dead
// letters, an invalid record) has an outcome: it lands, or it is made to
// fit (a delivery split in two, an invalid value truncated), or it is tried
// again with back-off for as long as the failure lasts. Nothing is left
// pending with its bytes counted, which would stop the poll loop at
// MaxBufferedBytes.

// invalidExcerpt is how much of an invalid value is kept when the whole
// value does not fit the invalid-records topic.
const invalidExcerpt = 64 << 10

// write produces rec with acks=all until it lands (kafka.Writer): it
// returns kafka.ErrTooLarge (wrapped) when the topic cannot take it, and
// the context's error when stopping.
func (d *Dispatcher) write(rec *kgo.Record) error { return d.writer.Write(d.workCtx, rec) }

// handOff writes del to topic with acks=all, then settles b. A delivery
// without a due time is due after delay. A delivery too large for the topic
// is split into halves, each with its own id, until every part fits. cause
// is a dead letter's, for the metrics. logged is the attempt whose outcome
// del is (nil: none), logged once the write has landed, naming where.
func (d *Dispatcher) handOff(b *batch, del *delivery.Delivery, topic string, delay time.Duration, cause string, logged *deliverylog.Logged) {
	if del.Due.IsZero() {
		del.Due = time.Now().Add(delay)
	}
	rec := del.Record(topic)
	err := d.write(rec)
	if errors.Is(err, kafka.ErrTooLarge) {
		d.attempts.Landed(del, logged, nil) // before the split's entry, which is newer
		d.split(b, del, topic, delay, cause, err)
		return
	}
	if err != nil {
		d.attempts.Landed(del, logged, nil) // the attempt was made all the same
		return                              // stopping: uncommitted, re-read by the next owner
	}
	d.attempts.Landed(del, logged, rec)
	if !d.settle(b, false) {
		return
	}
	outcome := delivery.SettledDeferred
	d.mu.Lock()
	if topic == d.cfg.Topics.Dead {
		d.stats.Dead++
		outcome = delivery.SettledDead
	} else if del.Attempt > 0 {
		d.stats.Retried++
		outcome = delivery.SettledRetrying
	}
	d.mu.Unlock()
	d.cfg.Metrics.Settled(outcome, cause, len(b.items), len(del.Body))
}

// split hands off b's two halves as deliveries of their own, recorded in
// the attempt log as split from del. A single event too large for topic
// goes to the invalid-records topic instead (it cannot be made smaller).
func (d *Dispatcher) split(b *batch, del *delivery.Delivery, topic string, delay time.Duration, deadCause string, cause error) {
	if len(b.items) == 1 {
		it := b.items[0]
		reason := fmt.Errorf("event of %d bytes cannot be handed to %s: %w", len(it.value), topic, cause)
		d.log.Error("delivery too large for its topic; its event goes to the invalid-records topic",
			zap.String("delivery", del.ID), zap.String("endpoint", b.ep.ID), zap.Error(reason))
		rec := &kgo.Record{Topic: it.p.topic, Partition: it.p.part, Offset: it.offset, Value: it.value}
		if d.writeInvalid(rec, reason) != nil {
			return
		}
		if d.settle(b, false) {
			d.mu.Lock()
			d.stats.Invalid++
			d.mu.Unlock()
			d.cfg.Metrics.Consumed(0, 0, 1) // read before, counted as matched then
		}
		return
	}
	half := len(b.items) / 2
	parts := []*batch{b.part(b.items[:half]), b.part(b.items[half:])}
	dels := make([]*delivery.Delivery, len(parts))
	for i, pb := range parts {
		pd := d.newDelivery(pb)
		pd.Attempt, pd.FirstAttempt, pd.LastStatus, pd.Reason, pd.Due = del.Attempt, del.FirstAttempt, del.LastStatus, del.Reason, del.Due
		pd.SplitFrom = del.ID
		dels[i] = pd
	}
	reason := fmt.Sprintf("%d bytes too large for %s: split into %d and %d events", len(del.Body), topic, half, len(b.items)-half)
	d.log.Warn("delivery split", zap.String("delivery", del.ID), zap.String("endpoint", b.ep.ID), zap.String("reason", reason))
	d.attempts.Split(del, dels, reason)
	for i, pb := range parts {
		d.handOff(pb, dels[i], topic, delay, deadCause, nil)
		releaseBody(dels[i])
	}
}

// part is a batch of the same endpoint and type holding items, with an id
// of its own.
func (b *batch) part(items []item) *batch {
	n := 1
	for _, it := range items {
		n += len(it.payload()) + 1
	}
	return &batch{id: delivery.NewID(), ep: b.ep, items: items, bytes: n, typ: b.typ}
}

// invalid sends a malformed record to the invalid-records topic with its
// reason; the record settles once that write is acknowledged. Called with
// d.mu held; the write runs on its own goroutine.
func (d *Dispatcher) invalid(r *kgo.Record, p *partition, reason error) {
	d.stats.Invalid++
	p.consumed(r.Offset, 1)
	n := int64(len(r.Value))
	d.buffered += n
	d.workers.Add(1)
	go func() {
		defer d.workers.Done()
		if d.writeInvalid(r, reason) != nil {
			return // stopping: uncommitted, re-read by the next owner
		}
		d.mu.Lock()
		p.settle(r.Offset, -1)
		d.buffered -= n
		d.wake()
		d.mu.Unlock()
	}()
}

// writeInvalid writes r to the invalid-records topic with reason and its
// source. A value the topic refuses for its size is written again cut to
// its first 64 KiB, with its full size in a header.
func (d *Dispatcher) writeInvalid(r *kgo.Record, reason error) error {
	value := r.Value
	if len(value) > kafka.MaxDeliveryBytes {
		value = value[:invalidExcerpt]
	}
	for {
		out := d.invalidRecord(r, value, reason)
		err := d.write(out)
		if !errors.Is(err, kafka.ErrTooLarge) {
			return err
		}
		if len(value) <= 1024 {
			// Not the value: the headers alone are too large. Keep only ours.
			out.Headers = out.Headers[len(r.Headers):]
			out.Value = nil
			return d.write(out)
		}
		value = value[:min(len(value)/2, invalidExcerpt)]
	}
}

func (d *Dispatcher) invalidRecord(r *kgo.Record, value []byte, reason error) *kgo.Record {
	headers := append(append([]kgo.RecordHeader(nil), r.Headers...),
		kgo.RecordHeader{Key: "hl-invalid-reason", Value: []byte(reason.Error())},
		kgo.RecordHeader{Key: "hl-source", Value: []byte(r.Topic + "/" + itoa(int64(r.Partition)) + "@" + itoa(r.Offset))},
	)
	if len(value) < len(r.Value) {
		headers = append(headers,
			kgo.RecordHeader{Key: "hl-truncated", Value: []byte("true")},
			kgo.RecordHeader{Key: "hl-original-size", Value: []byte(strconv.Itoa(len(r.Value)))})
	}
	return &kgo.Record{Topic: d.cfg.Topics.Invalid, Key: r.Key, Value: value, Headers: headers}
}
