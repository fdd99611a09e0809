package dispatcher

import (
	"time"

	"github.com/hookline/hookline/internal/catalog"
	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/deliverylog"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/payload"
	"go.uber.org/zap"
)

// shapeItems makes each item's body in its endpoint's payload shape, once,
// when the batch is sealed: the body is then fixed for every retry. The
// full shape does nothing here, so its bodies stay spliced from record
// bytes without a parse. An event its shape cannot be made from (a
// template that fails on it) leaves the batch and is dead-lettered alone
// with the error; the batch's other events go on. It reports false when
// no event is left to deliver.
func (d *Dispatcher) shapeItems(b *batch) bool {
	spec := b.ep.Resolved().Payload
	if spec.IsFull() {
		return true
	}
	sh, specErr := d.shapersFor(b.ep).Get(spec)
	// One buffer holds every body of the batch; a body stays valid when
	// the buffer grows, as it keeps the memory it was written into.
	arena := make([]byte, 0, b.bytes)
	kept := b.items[:0]
	var failed []item
	var reasons []error
	size := 1
	for _, it := range b.items {
		err := specErr
		if err == nil {
			start := len(arena)
			if arena, err = sh.Append(arena, it.value); err == nil {
				it.body = arena[start:len(arena):len(arena)]
				kept = append(kept, it)
				size += len(it.body) + 1
				continue
			}
		}
		failed, reasons = append(failed, it), append(reasons, err)
	}
	b.items, b.bytes = kept, size
	if len(failed) > 0 {
		d.deadLetterShapeless(b, failed, reasons)
	}
	return len(kept) > 0
}

// deadLetterShapeless hands each event that failed its shape to the dead
// letters as a delivery of its own, holding the event as published and
// the error as its reason, without an attempt: no request could succeed.
func (d *Dispatcher) deadLetterShapeless(b *batch, failed []item, reasons []error) {
	d.workers.Add(1)
	go func() {
		defer d.workers.Done()
		for i, it := range failed {
			pb := b.part([]item{it})
			del := d.newDelivery(pb)
			del.Attempt, del.Reason, del.Due = 0, reasons[i].Error(), time.Now()
			d.log.Warn("event dead-lettered: its payload shape failed", zap.String("endpoint", b.ep.ID),
				zap.String("delivery", del.ID), zap.String("reason", del.Reason))
			d.handOff(pb, del, d.cfg.Topics.Dead, 0, delivery.CauseRejected, &deliverylog.Logged{Outcome: delivery.Dead, Reason: del.Reason})
			releaseBody(del)
		}
	}()
}

// appShapers are the shapers of one version of an application's catalog.
type appShapers struct {
	cat   *catalog.Catalog
	cache *payload.Cache
}

// shapersFor returns the shapers of ep's events. An endpoint of a
// registered application receives that application's events only, whose
// thin bodies keep the ids its catalog declares (x-hookline-refs), not
// those of Config.Refs; a new version of the catalog gets new shapers. An
// endpoint of no registered application, or of every application, keeps
// Config.Refs.
func (d *Dispatcher) shapersFor(ep *endpoints.Endpoint) *payload.Cache {
	if d.cfg.Applications == nil || ep.Application == "" {
		return d.shapers
	}
	cat := d.cfg.Applications.Catalog(ep.Application)
	if cat == nil {
		return d.shapers
	}
	if v, ok := d.appShapers.Load(ep.Application); ok && v.(*appShapers).cat == cat {
		return v.(*appShapers).cache
	}
	s := &appShapers{cat: cat, cache: payload.NewCache(cat)}
	d.appShapers.Store(ep.Application, s)
	return s.cache
}
