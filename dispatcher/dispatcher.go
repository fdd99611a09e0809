package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/idempotency"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// Dispatcher is one consumer-group member. Create with New, then Run.
type Dispatcher struct {
	cfg    Config
	log    *zap.Logger
	sender *delivery.Sender
	ranges *idempotency.Ranges
	cl     *kgo.Client

	// workCtx outlives a graceful drain and ends when Run returns.
	workCtx    context.Context
	workCancel context.CancelFunc

	mu      sync.Mutex
	cond    *sync.Cond // signalled when buffered shrinks or on stop
	waiting int        // goroutines in cond.Wait; with none, wake-ups are skipped
	parts   map[tp]*partition
	eps     map[string]*endpointState
	// lastEp and lastSt memoise the last eps lookup (entries never leave eps).
	lastEp   *endpoints.Endpoint
	lastSt   *endpointState
	buffered int64
	stopping bool
	abandon  bool // Run's ctx ended: crash-like stop, nothing more is committed
	// consumedBytes sums the values routed, for the average record size.
	consumedBytes int64
	pollCancel    context.CancelFunc
	workers       sync.WaitGroup
	stats         Stats

	done chan struct{}
}

type tp struct {
	topic string
	part  int32
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
		cfg:    cfg,
		log:    cfg.Logger,
		sender: delivery.NewSender(cfg.Sender),
		ranges: idempotency.NewRanges(cfg.Redis, cfg.RedisPrefix, cfg.Group),
		parts:  map[tp]*partition{},
		eps:    map[string]*endpointState{},
		done:   make(chan struct{}),
	}
	d.cond = sync.NewCond(&d.mu)
	d.workCtx, d.workCancel = context.WithCancel(context.Background())
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(append([]string{cfg.Topics.Events}, cfg.ExtraEventTopics...)...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(d.assigned),
		kgo.OnPartitionsRevoked(d.revoked),
		kgo.OnPartitionsLost(d.lost),
		kgo.FetchMaxBytes(32 << 20),
		kgo.FetchMaxPartitionBytes(cfg.FetchMaxPartitionBytes),
		kgo.ProducerLinger(time.Millisecond),
		kgo.MaxBufferedBytes(int(cfg.MaxBufferedBytes)),
	}, kafka.ProducerOpts()...)
	cl, err := kgo.NewClient(append(opts, cfg.KafkaOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("dispatcher: kafka client: %w", err)
	}
	d.cl = cl
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
	defer close(d.done)
	defer d.cl.Close()
	defer d.workCancel()
	err := d.ensureTopics(d.cfg.Topics.Invalid, d.cfg.Topics.Attempts, d.cfg.Topics.Dead, d.cfg.Retry.Topic(0))
	if err != nil {
		return fmt.Errorf("dispatcher: %w", err)
	}
	pollCtx, cancel := context.WithCancel(ctx)
	d.mu.Lock()
	d.pollCancel = cancel
	if d.stopping {
		cancel() // Shutdown came while the topics were being created
	}
	d.mu.Unlock()

	commitDone := make(chan struct{})
	go func() {
		defer close(commitDone)
		kafka.Every(pollCtx, d.cfg.CommitInterval, func(ctx context.Context) { d.commit(ctx, nil) })
	}()
	go d.tick(d.workCtx)

	err = d.pollLoop(pollCtx)
	cancel()
	<-commitDone
	if ctx.Err() != nil {
		d.mu.Lock()
		d.abandon = true
		d.mu.Unlock()
		return nil
	}
	// Graceful: Shutdown asked for a drain.
	d.drain()
	return err
}

// ensureTopics creates the topics the dispatcher writes to, or raises their
// message size limit to what a delivery needs.
func (d *Dispatcher) ensureTopics(topics ...string) error {
	ctx, cancel := context.WithTimeout(d.workCtx, 30*time.Second)
	defer cancel()
	return kafka.EnsureTopics(ctx, kadm.NewClient(d.cl), -1, -1, topics...)
}

// Shutdown stops fetching, seals open batches, waits for every delivery in
// flight to settle (or ctx to end), commits, and waits for Run to return.
func (d *Dispatcher) Shutdown(ctx context.Context) error {
	d.mu.Lock()
	d.stopping = true
	if d.pollCancel != nil {
		d.pollCancel()
	}
	d.cond.Broadcast()
	d.mu.Unlock()
	go func() {
		<-ctx.Done()
		d.workCancel() // deadline passed: abandon what is still in flight
	}()
	select {
	case <-d.done:
		return nil
	case <-ctx.Done():
		<-d.done
		return ctx.Err()
	}
}

// drain seals every open batch, waits for the workers, and commits.
func (d *Dispatcher) drain() {
	d.mu.Lock()
	for _, st := range d.eps {
		d.seal(st)
		st.closeQueue()
	}
	d.mu.Unlock()
	d.workers.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d.commit(ctx, nil)
}

func (d *Dispatcher) pollLoop(ctx context.Context) error {
	for {
		d.mu.Lock()
		for d.buffered >= d.cfg.MaxBufferedBytes && !d.stopping && ctx.Err() == nil {
			// Full: send what is open so memory can drain, then wait.
			for _, st := range d.eps {
				d.seal(st)
			}
			d.wait()
		}
		d.mu.Unlock()
		if ctx.Err() != nil {
			return nil
		}
		fetches := d.cl.PollRecords(ctx, d.pollSize())
		if ctx.Err() != nil {
			d.cl.AllowRebalance()
			return nil
		}
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				d.log.Warn("fetch error", zap.String("topic", t), zap.Int32("partition", p), zap.Error(err))
			}
		})
		// Lock per record, so workers settling deliveries never wait for a
		// whole poll to be routed. The partition is looked up once; a
		// partition dropped meanwhile (lost) skips the rest: its next owner
		// reads them again.
		var tenants tenantMemo
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			d.mu.Lock()
			p := d.parts[tp{fp.Topic, fp.Partition}]
			d.mu.Unlock()
			if p == nil {
				return // not ours (revoked under us)
			}
			for _, r := range fp.Records {
				d.mu.Lock()
				if !p.dropped {
					d.route(p, r, &tenants)
				}
				d.mu.Unlock()
			}
			// Routing may wait on busy endpoints; a rebalance waiting
			// for a whole poll could outlast the rebalance timeout and
			// drop this member. Partitions revoked meanwhile are
			// dropped and their remaining records skipped.
			d.cl.AllowRebalance()
		})
		d.cl.AllowRebalance()
	}
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

// pollSize is how many records to take next so that buffered bytes stay
// near the cap: the room left divided by the average record seen.
func (d *Dispatcher) pollSize() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	avg := int64(1024)
	if d.stats.Consumed > 0 && d.consumedBytes > 0 {
		avg = max(d.consumedBytes/d.stats.Consumed, 1)
	}
	return int(min(max((d.cfg.MaxBufferedBytes-d.buffered)/avg, 1), 1_000_000))
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
			d.mu.Unlock()
		}
	}
}

// commit commits the settled point of every partition (or of only when
// not nil) that advanced, then prunes Redis spans below it.
func (d *Dispatcher) commit(ctx context.Context, only map[string][]int32) {
	offsets := map[string]map[int32]kgo.EpochOffset{}
	var advanced []*partition
	var points []int64
	d.mu.Lock()
	for k, p := range d.parts {
		if only != nil && !slices.Contains(only[k.topic], k.part) {
			continue
		}
		at := p.commitPoint()
		if at <= p.committed || at < 0 {
			continue
		}
		if offsets[k.topic] == nil {
			offsets[k.topic] = map[int32]kgo.EpochOffset{}
		}
		offsets[k.topic][k.part] = kgo.EpochOffset{Epoch: -1, Offset: at}
		advanced = append(advanced, p)
		points = append(points, at)
	}
	d.mu.Unlock()
	if len(advanced) == 0 {
		return
	}
	if commitErr := kafka.Commit(ctx, d.cl, offsets); commitErr != nil {
		if ctx.Err() == nil {
			d.log.Warn("commit failed; will retry", zap.Error(commitErr))
		}
		return
	}
	d.mu.Lock()
	for i, p := range advanced {
		p.committed = points[i]
	}
	d.mu.Unlock()
	for i, p := range advanced {
		if err := d.ranges.Prune(ctx, p.topic, p.part, points[i]); err != nil && ctx.Err() == nil {
			d.log.Debug("prune settled spans", zap.Error(err)) // harmless: retried at the next commit
		}
	}
}
