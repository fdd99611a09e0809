package dispatcher

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/deliverylog"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/idempotency"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/member"
	"github.com/hookline/hookline/internal/payload"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// Dispatcher is one consumer-group member. Create with New, then Run.
type Dispatcher struct {
	cfg    Config
	log    *zap.Logger
	sender *delivery.Sender
	ranges *idempotency.Ranges
	// marks group-commits settled spans: one round trip for every mark
	// ready, across deliveries and endpoints.
	marks *idempotency.Group
	// markMetrics is cfg.Metrics when it takes the marks' figures, or nil.
	markMetrics MarkMetrics
	// shapers compiles each payload spec once for every endpoint using it.
	shapers *payload.Cache
	// appShapers holds, by application id, the shapers of the events of
	// a registered application (*appShapers): their thin bodies keep the
	// ids its catalog declares.
	appShapers sync.Map
	m          *member.Member[*partition]
	cl         *kgo.Client
	// attempts writes the attempt log on a client of its own, lingering
	// to batch; hand-offs go on cl.
	attempts *deliverylog.Writer
	// writer writes hand-offs and invalid records on cl until they land.
	writer *kafka.Writer

	// workCtx outlives a graceful drain and ends when Run returns.
	workCtx context.Context

	mu      sync.Mutex
	cond    *sync.Cond // signalled when buffered shrinks or on stop
	waiting int        // goroutines in cond.Wait; with none, wake-ups are skipped
	eps     map[string]*endpointState
	// gone holds partitions dropped while this member may still hold some
	// of their records (released.go).
	gone map[*partition]struct{}
	// lastEp and lastSt memoise the last eps lookup (entries never leave eps).
	lastEp   *endpoints.Endpoint
	lastSt   *endpointState
	buffered int64
	// consumedBytes sums the values routed, for the average record size.
	consumedBytes int64
	workers       sync.WaitGroup
	stats         Stats
}

// Stats are cumulative counters, for progress lines and tests.
type Stats struct {
	Consumed, Invalid, Skipped         int64 // records read; malformed; already settled before a restart
	Delivered, Retried, Dead, Deferred int64 // deliveries by outcome; Deferred: sent to retry unattempted, endpoint busy
	Events                             int64 // events in delivered deliveries
	// Buffered is the event bytes held now; PeakBuffered the most held.
	Buffered, PeakBuffered int64
}

// New validates cfg and connects to Kafka.
func New(cfg Config) (*Dispatcher, error) {
	if err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	d := &Dispatcher{
		cfg:     cfg,
		log:     cfg.Logger,
		sender:  delivery.NewSender(cfg.Sender),
		ranges:  idempotency.NewRanges(cfg.Redis, cfg.RedisPrefix, cfg.Group),
		eps:     map[string]*endpointState{},
		gone:    map[*partition]struct{}{},
		shapers: payload.NewCache(cfg.Refs),
	}
	// A single-server client marks over a connection kept for the marks,
	// which spares each round a pool checkout (Config.Redis); any other
	// client marks through its pool.
	var rec idempotency.SpanRecorder = d.ranges
	if c, ok := cfg.Redis.(*redis.Client); ok {
		rec = idempotency.NewConnRecorder(c, cfg.RedisPrefix, cfg.Group)
	}
	d.marks = idempotency.NewGroup(rec)
	d.marks.Linger = cfg.MarkLinger
	if mm, ok := cfg.Metrics.(MarkMetrics); ok {
		d.markMetrics = mm
		d.marks.Observe = mm.MarkRound
	}
	d.cond = sync.NewCond(&d.mu)
	m, err := member.New(member.Config{
		Brokers:        cfg.Brokers,
		Group:          cfg.Group,
		Consume:        append([]string{cfg.Topics.Events}, cfg.ExtraEventTopics...),
		Write:          []string{cfg.Topics.Invalid, cfg.Topics.Attempts, cfg.Topics.Dead, cfg.Retry.Topic(0)},
		CommitInterval: cfg.CommitInterval,
		RevokeTimeout:  cfg.RevokeTimeout,
		ClientOpts: []kgo.Opt{
			kgo.FetchMaxBytes(32 << 20),
			kgo.FetchMaxPartitionBytes(cfg.FetchMaxPartitionBytes),
			kgo.ProducerLinger(time.Millisecond),
			kgo.MaxBufferedBytes(int(cfg.MaxBufferedBytes)),
		},
		KafkaOpts: cfg.KafkaOpts,
		Logger:    cfg.Logger,
		Observer:  member.ObserverOf(cfg.Metrics),
	}, group{d})
	if err != nil {
		return nil, fmt.Errorf("dispatcher: %w", err)
	}
	d.attempts, err = deliverylog.NewWriter(deliverylog.WriterConfig{
		Brokers: cfg.Brokers, Topic: cfg.Topics.Attempts, KafkaOpts: cfg.KafkaOpts, Logger: cfg.Logger,
	})
	if err != nil {
		m.Client().Close()
		return nil, fmt.Errorf("dispatcher: %w", err)
	}
	d.m, d.cl, d.workCtx = m, m.Client(), m.Work()
	d.writer = &kafka.Writer{Client: d.cl, Log: d.log, Ensure: func(ctx context.Context, topic string) error { return m.EnsureTopics(ctx, topic) }}
	if o := member.ObserverOf(cfg.Metrics); o != nil {
		d.writer.Failed = func() { o.KafkaError("produce") }
	}
	return d, nil
}

// Stats returns a snapshot of the counters.
func (d *Dispatcher) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.stats
	st.Buffered = d.buffered
	return st
}

// Run consumes until ctx ends or until Shutdown completes a drain. The end
// of ctx is a crash-like stop: nothing more is committed and deliveries in
// flight are abandoned, to be re-read by the partitions' next owner (Redis
// keeps it from re-sending what settled). It closes the Kafka client before
// returning.
func (d *Dispatcher) Run(ctx context.Context) error {
	go d.tick(d.workCtx)
	err := d.m.Run(ctx)
	// Every delivery settled (drain) or was abandoned: end the workers.
	d.mu.Lock()
	for _, st := range d.eps {
		st.closeQueue()
	}
	d.mu.Unlock()
	d.workers.Wait()
	d.attempts.Close()
	if err != nil {
		return fmt.Errorf("dispatcher: %w", err)
	}
	return nil
}

// Shutdown stops fetching, seals open batches, waits for every delivery in
// flight to settle (or ctx to end), commits, and waits for Run to return.
func (d *Dispatcher) Shutdown(ctx context.Context) error {
	d.mu.Lock()
	d.cond.Broadcast()
	d.mu.Unlock()
	return d.m.Shutdown(ctx)
}

// abandoned reports a crash-like stop: nothing more is committed.
func (d *Dispatcher) abandoned() bool { return d.m.Abandoned() }

// handle routes the records of one poll. It locks per record, so workers
// settling deliveries never wait for a whole poll to be routed. The
// partition is looked up once; a partition dropped meanwhile (lost) skips
// the rest: its next owner reads them again.
func (d *Dispatcher) handle(fetches kgo.Fetches) {
	var tenants tenantMemo
	var records, matched, invalid int
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		p, ok := d.m.Partition(fp.Topic, fp.Partition)
		if !ok {
			return // not ours (revoked under us)
		}
		for _, r := range fp.Records {
			d.mu.Lock()
			if !p.dropped {
				n := d.route(p, r, &tenants)
				records++
				if n < 0 {
					invalid++
				} else {
					matched += n
				}
			}
			d.mu.Unlock()
		}
		// Routing may wait on busy endpoints; a rebalance waiting for a
		// whole poll could outlast the rebalance timeout and drop this
		// member. Partitions revoked meanwhile are dropped and their
		// remaining records skipped.
		d.cl.AllowRebalance()
	})
	if records > 0 {
		d.cfg.Metrics.Consumed(records, matched, invalid)
	}
}

// pollSize waits while the buffer is full (sealing what is open so memory
// can drain) and returns how many records to take next so that buffered
// bytes stay near the cap: the room left divided by the average record.
func (d *Dispatcher) pollSize(ctx context.Context) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.buffered >= d.cfg.MaxBufferedBytes && ctx.Err() == nil {
		for _, st := range d.eps {
			d.seal(st)
		}
		d.wait()
	}
	avg := int64(1024)
	if d.stats.Consumed > 0 && d.consumedBytes > 0 {
		avg = max(d.consumedBytes/d.stats.Consumed, 1)
	}
	return int(min(max((d.cfg.MaxBufferedBytes-d.buffered)/avg, 1), 1_000_000))
}

// wait waits on d.cond, counted so wake-ups are skipped when no one waits.
// Called with d.mu held.
func (d *Dispatcher) wait() {
	d.waiting++
	d.cond.Wait()
	d.waiting--
}

// wake wakes the waiters, if any. Called with d.mu held.
func (d *Dispatcher) wake() {
	if d.waiting > 0 {
		d.cond.Broadcast()
	}
}

// tick wakes waiters on d.cond so time-based conditions (an endpoint
// falling behind) are noticed without a delivery settling.
func (d *Dispatcher) tick(ctx context.Context) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			d.mu.Lock()
			d.cond.Broadcast()
			d.mu.Unlock()
			return
		case <-t.C:
			d.mu.Lock()
			d.cond.Broadcast()
			buffered := d.buffered
			d.pruneGone()
			d.mu.Unlock()
			d.cfg.Metrics.Buffered(buffered)
		}
	}
}
