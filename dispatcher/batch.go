package dispatcher

import (
	"fmt"
	"sync"
	"time"

	"github.com/hookline/hookline/internal/catalog"
	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/twmb/franz-go/pkg/kgo"
)

// item is one record in one endpoint's batch.
type item struct {
	value []byte
	// body is the event in the endpoint's payload shape, set when the
	// batch is sealed; nil for the full shape, whose body is value.
	body   []byte
	p      *partition
	offset int64
}

// payload is what the delivery body holds for the item.
func (it *item) payload() []byte {
	if it.body != nil {
		return it.body
	}
	return it.value
}

// batch is an endpoint's batch, open until sealed by items, bytes or time.
// Its id is fixed at creation and never changes afterwards.
type batch struct {
	id    string
	ep    *endpoints.Endpoint
	items []item
	bytes int    // body size: values, commas and brackets
	typ   string // the common event type, or "batch"
	timer *time.Timer
}

// endpointState is an endpoint's open batch and its queue of sealed ones.
// Guarded by Dispatcher.mu, except the queue channel.
type endpointState struct {
	open   *batch
	queue  chan *batch
	closed bool
	// started holds when each delivery in flight began (at most
	// Concurrency), so the oldest is known however the others come and
	// go. failing is set while the last attempt did not get a 2xx.
	started []time.Time
	failing bool
	// cycle is a moving average of how long a delivery held its sender
	// (request and settle); overflow is set while the queue is full and
	// routing gave up waiting for it; deferring counts the deferred
	// batches being written (pace.go).
	cycle     time.Duration
	overflow  bool
	deferring int
}

func (st *endpointState) closeQueue() {
	if !st.closed {
		st.closed = true
		close(st.queue)
	}
}

// route matches one record to endpoints and adds it to their batches. It
// returns how many endpoints it went to, or -1 for a malformed record.
// Called with d.mu held.
func (d *Dispatcher) route(p *partition, r *kgo.Record, tenants *tenantMemo) int {
	d.stats.Consumed++
	d.consumedBytes += int64(len(r.Value))
	// Every producer's events meet the producer library's rules, checked
	// here too: a foreign producer may write anything the topic takes.
	if len(r.Value) > d.cfg.MaxEventBytes {
		d.invalid(r, p, fmt.Errorf("%w: event of %d bytes is over the %d-byte limit (--max-event-bytes)", envelope.ErrMalformed, len(r.Value), d.cfg.MaxEventBytes))
		return -1
	}
	meta, err := envelope.FromRecord(r.Headers, r.Value)
	if err != nil {
		d.invalid(r, p, err)
		return -1
	}
	if meta.Type != tenants.known || meta.Application != tenants.knownApp {
		if err := d.knows(&meta); err != nil {
			d.invalid(r, p, err)
			return -1
		}
	}
	tenants.known, tenants.knownApp = meta.Type, meta.Application
	var matchBuf [8]*endpoints.Endpoint
	matched := matchBuf[:0]
	for _, ep := range tenants.candidates(d.cfg.Endpoints, meta.TenantID, meta.Type) {
		if !ep.Wants(&meta) {
			continue
		}
		if p.alreadySettled(ep.ID, r.Offset) {
			d.stats.Skipped++
			continue
		}
		matched = append(matched, ep)
	}
	// Register before batching: a seal below may settle at once.
	p.consumed(r.Offset, len(matched))
	for _, ep := range matched {
		d.add(ep, item{value: r.Value, p: p, offset: r.Offset}, meta.Type)
	}
	return len(matched)
}

// tenantMemo asks the lookup once per run of one tenant's records within a
// poll; an endpoint change shows from the next poll on. For a tenant with
// many endpoints it also keeps, per event type, those that want the type,
// so a record is matched against its candidates only.
type tenantMemo struct {
	tenant string // a view of the last record's header: valid for one poll
	eps    []*endpoints.Endpoint
	ok     bool
	byType map[string][]*endpoints.Endpoint // types are views too
	// known is the last type found in the catalog (a view too): runs of
	// one type skip the catalog's map.
	known, knownApp string
}

// indexFrom is the endpoint count from which a tenant's endpoints are
// indexed by type: below it, matching them all costs less than the index.
const indexFrom = 16

func (m *tenantMemo) candidates(l endpoints.Registry, tenant, typ string) []*endpoints.Endpoint {
	if !m.ok || m.tenant != tenant {
		m.tenant, m.eps, m.ok = tenant, l.ForTenant(tenant), true
		clear(m.byType)
	}
	if len(m.eps) < indexFrom {
		return m.eps
	}
	if eps, ok := m.byType[typ]; ok {
		return eps
	}
	var eps []*endpoints.Endpoint
	for _, ep := range m.eps {
		if ep.WantsType(typ) {
			eps = append(eps, ep)
		}
	}
	if m.byType == nil {
		m.byType = map[string][]*endpoints.Endpoint{}
	}
	m.byType[typ] = eps
	return eps
}

func (d *Dispatcher) state(ep *endpoints.Endpoint) *endpointState {
	// Consecutive records mostly go to the same endpoint: skip the map.
	if d.lastEp == ep {
		return d.lastSt
	}
	st := d.eps[ep.ID]
	if st == nil {
		single := ep.Limits().MaxItems == 1
		queued := d.cfg.MaxQueuedPerEndpoint
		if single {
			queued *= singleQueueFactor
		}
		st = &endpointState{queue: make(chan *batch, queued)}
		d.eps[ep.ID] = st
		d.startWorkers(st, single)
	}
	d.lastEp, d.lastSt = ep, st
	return st
}

// singleQueueFactor scales the queue of a single-event endpoint: its
// entries are single events, not batches of thousands, and a queue of four
// would leave its slots idle whenever routing is busy elsewhere, or hold
// routing up waiting for room. Memory stays bounded by MaxBufferedBytes.
const singleQueueFactor = 16

// startWorkers starts the endpoint's Concurrency senders: for batches, fed
// by a preparer that builds the next body while they send; for single
// events, each preparing its own. The choice holds for the endpoint's
// lifetime in this process; either serves any batch size.
func (d *Dispatcher) startWorkers(st *endpointState, single bool) {
	n := d.cfg.Concurrency
	if single {
		d.workers.Add(n)
		for i := 0; i < n; i++ {
			go d.soloWorker(st)
		}
		return
	}
	prep := make(chan prepared)
	d.workers.Add(1 + n)
	go d.preparer(st, prep)
	for i := 0; i < n; i++ {
		go d.worker(st, prep)
	}
}

// add appends it to ep's open batch, sealing by bytes before and by items
// after. Called with d.mu held.
func (d *Dispatcher) add(ep *endpoints.Endpoint, it item, typ string) {
	st := d.state(ep)
	lim := ep.Limits()
	maxItems, maxWait, maxBytes := lim.MaxItems, lim.MaxWait, lim.MaxBytes
	size := len(it.value) + 1
	if b := st.open; b != nil && b.bytes+size > maxBytes {
		d.seal(st)
	}
	b := st.open
	if b == nil {
		// Size the items for the batch this endpoint will likely fill.
		expect := maxBytes / max(len(it.value), 1)
		b = &batch{id: delivery.NewID(), ep: ep, typ: typ, bytes: 1, items: make([]item, 0, min(maxItems, expect+1, 16384))}
		st.open = b
		if maxItems > 1 {
			b.timer = time.AfterFunc(maxWait, func() {
				d.mu.Lock()
				if st.open == b {
					d.seal(st)
				}
				d.mu.Unlock()
			})
		}
	}
	b.items = append(b.items, it)
	b.bytes += size
	if b.typ != typ {
		b.typ = "batch"
	}
	d.buffered += int64(len(it.value))
	d.stats.PeakBuffered = max(d.stats.PeakBuffered, d.buffered)
	if len(b.items) >= maxItems {
		d.seal(st)
	}
}

// newDelivery builds the delivery of a sealed batch: one envelope as is in
// single-event mode, else a JSON array spliced from the raw record values.
func (d *Dispatcher) newDelivery(b *batch) *delivery.Delivery {
	maxItems := b.ep.Limits().MaxItems
	del := &delivery.Delivery{
		ID: b.id, EndpointID: b.ep.ID, TenantID: b.ep.TenantID, EventType: b.typ,
		Items: len(b.items), Batch: maxItems > 1, FirstAttempt: time.Now(),
	}
	if !del.Batch {
		del.Body = b.items[0].payload()
		return del
	}
	body := getBody(b.bytes + 1)
	body = append(body, '[')
	for i, it := range b.items {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, it.payload()...)
	}
	del.Body = append(body, ']')
	del.Shared = delivery.NewSharedBody(del.Body, putBody)
	return del
}

// bodies recycles batch bodies (megabytes each at full batches). A body
// comes back once its delivery settled and net/http closed every reader of
// it (delivery.SharedBody).
var bodies sync.Pool

func getBody(n int) []byte {
	if p, ok := bodies.Get().(*[]byte); ok && cap(*p) >= n {
		return (*p)[:0]
	}
	return make([]byte, 0, n)
}

func putBody(b []byte) {
	b = b[:0]
	bodies.Put(&b)
}

// releaseBody drops the dispatcher's hold on a batch body.
func releaseBody(del *delivery.Delivery) {
	if del.Shared != nil {
		del.Shared.Release()
	}
}

// knows holds an event's type to its application's catalog, or to the
// default catalog when it names no registered application.
func (d *Dispatcher) knows(m *envelope.Meta) error {
	if d.cfg.Applications != nil {
		if c := d.cfg.Applications.Catalog(m.Application); c != nil {
			if c.Has(m.Type) {
				return nil
			}
			return fmt.Errorf("%w: %q is not in the catalog of application %s (add it to the application's eventTypes)", catalog.ErrUnknownType, m.Type, m.Application)
		}
	}
	if d.cfg.Catalog.Has(m.Type) {
		return nil
	}
	return fmt.Errorf("%w: %q is not in the event catalog this dispatcher serves (add its schema with --schema-dir, or register an application with it)", catalog.ErrUnknownType, m.Type)
}
