package retrier

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/deliverylog"
	"github.com/hookline/hookline/internal/idempotency"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/member"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// Retrier is one member of the retrier group. Create with New, then Run.
type Retrier struct {
	cfg    Config
	log    *zap.Logger
	sender *delivery.Sender
	marks  *idempotency.Marks
	m      *member.Member[*partition]
	cl     *kgo.Client
	// attempts writes the attempt log on a client of its own, lingering
	// to batch; hand-offs go on cl.
	attempts *deliverylog.Writer
	// writer writes hand-offs and re-enqueues on cl until they land.
	writer *kafka.Writer
	tiers  map[string]int // topic -> index in the schedule

	// workCtx outlives a graceful drain and ends when Run returns.
	workCtx context.Context

	mu       sync.Mutex
	paces    map[string]*endpointPace // attempts in flight by endpoint (pace.go)
	stats    Stats
	lateness []time.Duration // due-to-start lateness of recent attempts
}

// Stats are cumulative counters.
type Stats struct {
	Attempts, Delivered, Retried, Dead int64
	// AlreadyDone counts records skipped because the delivery had a 2xx.
	AlreadyDone int64
	// AlreadyHanded counts records skipped because a newer record of the
	// delivery was already written to a tier (a copy re-read after a
	// crash, or one a replay superseded).
	AlreadyHanded int64
	// AlreadyDead counts records skipped because the delivery was already
	// dead-lettered in the record's epoch or a later one.
	AlreadyDead int64
	// Requeued counts records written again to a shorter or the same
	// tier instead of holding up the records behind them.
	Requeued int64
	// Deferred counts the re-enqueued records whose endpoint had
	// EndpointConcurrency attempts in flight and was not keeping up; each
	// is also counted in Requeued.
	Deferred int64
}

// New validates cfg and connects to Kafka.
func New(cfg Config) (*Retrier, error) {
	if err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	r := &Retrier{
		cfg: cfg, log: cfg.Logger, sender: delivery.NewSender(cfg.Sender),
		marks: idempotency.NewMarks(cfg.Redis, cfg.RedisPrefix),
		tiers: map[string]int{}, paces: map[string]*endpointPace{},
	}
	for i, t := range cfg.Retry.Topics() {
		r.tiers[t] = i
	}
	// The Retry-now lane is consumed beside the tiers, and created with
	// them so that a replay never waits for a topic.
	consume := append(cfg.Retry.Topics(), cfg.Retry.Lane())
	write := slices.Concat(consume, []string{cfg.Topics.Dead, cfg.Topics.Attempts})
	m, err := member.New(member.Config{
		Brokers:        cfg.Brokers,
		Group:          cfg.Group,
		Consume:        consume,
		Write:          write,
		CommitInterval: cfg.CommitInterval,
		RevokeTimeout:  cfg.RevokeTimeout,
		ClientOpts: []kgo.Opt{
			// Small fetches: records wait in Kafka, not here.
			kgo.FetchMaxPartitionBytes(1 << 20),
			// A resumed partition is fetched with the next request; keep
			// long polls short so that is soon.
			kgo.FetchMaxWait(200 * time.Millisecond),
		},
		KafkaOpts: cfg.KafkaOpts,
		Logger:    cfg.Logger,
		Observer:  member.ObserverOf(cfg.Metrics),
	}, group{r})
	if err != nil {
		return nil, fmt.Errorf("retrier: %w", err)
	}
	r.attempts, err = deliverylog.NewWriter(deliverylog.WriterConfig{
		Brokers: cfg.Brokers, Topic: cfg.Topics.Attempts, KafkaOpts: cfg.KafkaOpts, Logger: cfg.Logger,
	})
	if err != nil {
		m.Client().Close()
		return nil, fmt.Errorf("retrier: %w", err)
	}
	r.m, r.cl, r.workCtx = m, m.Client(), m.Work()
	r.writer = &kafka.Writer{Client: r.cl, Log: r.log, Ensure: func(ctx context.Context, topic string) error { return m.EnsureTopics(ctx, topic) }}
	if o := member.ObserverOf(cfg.Metrics); o != nil {
		r.writer.Failed = func() { o.KafkaError("produce") }
	}
	return r, nil
}

// Stats returns a snapshot of the counters.
func (r *Retrier) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Held returns how many fetched records wait in memory across partitions;
// the rest of a tier's backlog stays in Kafka.
func (r *Retrier) Held() int {
	ps := r.m.Partitions()
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, p := range ps {
		n += len(p.queue)
	}
	return n
}

// Lateness returns how late attempts started after their due time, for the
// most recent attempts (up to 200,000).
func (r *Retrier) Lateness() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.lateness...)
}

// Run consumes until ctx ends (a crash-like stop: nothing more committed)
// or Shutdown drains.
func (r *Retrier) Run(ctx context.Context) error {
	go kafka.Every(r.workCtx, time.Second, func(context.Context) { r.sample() })
	err := r.m.Run(ctx)
	r.attempts.Close()
	if err != nil {
		return fmt.Errorf("retrier: %w", err)
	}
	return nil
}

// Shutdown stops fetching, lets every partition finish the attempt it is
// making (bounded by ctx), commits, and waits for Run to return.
func (r *Retrier) Shutdown(ctx context.Context) error { return r.m.Shutdown(ctx) }

// group is the retrier as its consumer-group member sees it.
type group struct{ r *Retrier }

// Assign starts a worker for a new tier or lane partition. A pause
// outlives the assignment it was made in, so the partition starts
// unpaused, in step with its empty queue.
func (g group) Assign(_ context.Context, topic string, part int32) (*partition, bool) {
	r := g.r
	p := newPartition(r, topic, part, r.tiers[topic]) // the lane: 0, the first tier's position
	r.mu.Lock()
	r.m.Client().ResumeFetchPartitions(map[string][]int32{topic: {part}})
	r.mu.Unlock()
	go p.run()
	return p, true
}

// Handle queues the fetched records on their partitions and pauses the
// partitions that got records while those wait to be due; each worker
// resumes its partition once its queue is empty. Pause and resume both
// happen under r.mu, so a resume can never be overtaken by the pause of
// records already handled.
func (g group) Handle(_ context.Context, fetches kgo.Fetches) {
	r := g.r
	r.mu.Lock()
	defer r.mu.Unlock()
	pause := map[string][]int32{}
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		p, ok := r.m.Partition(fp.Topic, fp.Partition)
		if !ok || len(fp.Records) == 0 {
			return
		}
		for _, rec := range fp.Records {
			p.push(rec)
		}
		pause[fp.Topic] = append(pause[fp.Topic], fp.Partition)
	})
	if len(pause) > 0 {
		r.cl.PauseFetchPartitions(pause)
	}
}

// Quiesce lets each partition finish the attempts it is making, then stops
// its worker; ctx bounds the wait (an attempt is itself bounded by its
// endpoint's timeout).
func (g group) Quiesce(ctx context.Context, ps []*partition) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, p := range ps {
			p.stop()
		}
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
