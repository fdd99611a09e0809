package retrier

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/idempotency"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// Retrier is one member of the retrier group. Create with New, then Run.
type Retrier struct {
	cfg    Config
	log    *zap.Logger
	sender *delivery.Sender
	marks  *idempotency.Marks
	cl     *kgo.Client
	tiers  map[string]int // topic -> index in the schedule

	workCtx    context.Context
	workCancel context.CancelFunc

	mu       sync.Mutex
	parts    map[tp]*partition
	stats    Stats
	lateness []time.Duration // due-to-start lateness of recent attempts
	stopping bool
	abandon  bool // Run's ctx ended: crash-like stop, nothing more committed
	cancel   context.CancelFunc
	done     chan struct{}
}

type tp struct {
	topic string
	part  int32
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
}

// New validates cfg and connects to Kafka.
func New(cfg Config) (*Retrier, error) {
	if err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	r := &Retrier{
		cfg: cfg, log: cfg.Logger, sender: delivery.NewSender(cfg.Sender),
		marks: idempotency.NewMarks(cfg.Redis, cfg.RedisPrefix),
		tiers: map[string]int{}, parts: map[tp]*partition{}, done: make(chan struct{}),
	}
	for i, t := range cfg.Retry.Topics() {
		r.tiers[t] = i
	}
	r.workCtx, r.workCancel = context.WithCancel(context.Background())
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Retry.Topics()...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(r.assigned),
		kgo.OnPartitionsRevoked(r.revoked),
		kgo.OnPartitionsLost(r.lost),
		// Small fetches: records wait in Kafka, not here.
		kgo.FetchMaxPartitionBytes(1 << 20),
		// A resumed partition is fetched with the next request; keep
		// long polls short so that is soon.
		kgo.FetchMaxWait(200 * time.Millisecond),
	}, kafka.ProducerOpts()...)
	cl, err := kgo.NewClient(append(opts, cfg.KafkaOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("retrier: kafka client: %w", err)
	}
	r.mu.Lock()
	if r.cl == nil {
		r.cl = cl
	}
	r.mu.Unlock()
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
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, p := range r.parts {
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
	defer close(r.done)
	defer r.cl.Close()
	defer r.workCancel()
	ectx, ecancel := context.WithTimeout(ctx, 30*time.Second)
	topics := append(r.cfg.Retry.Topics(), r.cfg.Topics.Dead, r.cfg.Topics.Attempts)
	err := kafka.EnsureTopics(ectx, kadm.NewClient(r.cl), -1, -1, topics...)
	ecancel()
	if err != nil {
		return fmt.Errorf("retrier: %w", err)
	}
	pollCtx, cancel := context.WithCancel(ctx)
	r.mu.Lock()
	r.cancel = cancel
	stopping := r.stopping
	r.mu.Unlock()
	if stopping {
		cancel()
	}
	go kafka.Every(pollCtx, r.cfg.CommitInterval, func(ctx context.Context) { r.commit(ctx, nil) })
	for pollCtx.Err() == nil {
		fetches := r.cl.PollRecords(pollCtx, 1000)
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				r.log.Warn("fetch error", zap.String("topic", t), zap.Int32("partition", p), zap.Error(err))
			}
		})
		// Hold the partitions that got records while those wait to be due;
		// each worker resumes its partition once its queue is empty. Pause
		// and resume both happen under r.mu, so a resume can never be
		// overtaken by the pause of records already handled.
		r.mu.Lock()
		pause := map[string][]int32{}
		fetches.EachRecord(func(rec *kgo.Record) {
			p := r.parts[tp{rec.Topic, rec.Partition}]
			if p == nil {
				return
			}
			p.push(rec)
			if !slices.Contains(pause[rec.Topic], rec.Partition) {
				pause[rec.Topic] = append(pause[rec.Topic], rec.Partition)
			}
		})
		if len(pause) > 0 {
			r.cl.PauseFetchPartitions(pause)
		}
		r.mu.Unlock()
		r.cl.AllowRebalance()
	}
	cancel()
	if ctx.Err() != nil {
		r.mu.Lock()
		r.abandon = true
		r.mu.Unlock()
		r.stopAll(false)
		return nil
	}
	r.stopAll(true)
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	r.commit(cctx, nil)
	return nil
}

// Shutdown stops fetching, lets every partition finish the attempt it is
// making (bounded by ctx), commits, and waits for Run to return.
func (r *Retrier) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	r.stopping = true
	if r.cancel != nil {
		r.cancel()
	}
	r.mu.Unlock()
	go func() {
		<-ctx.Done()
		r.workCancel()
	}()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		<-r.done
		return ctx.Err()
	}
}

// stopAll stops every partition worker; graceful lets the attempt in
// progress finish and settle.
func (r *Retrier) stopAll(graceful bool) {
	r.mu.Lock()
	var ps []*partition
	for _, p := range r.parts {
		ps = append(ps, p)
	}
	r.mu.Unlock()
	if !graceful {
		r.workCancel()
	}
	for _, p := range ps {
		p.stop()
	}
}

// commit commits, per partition, the offset after the last settled record.
func (r *Retrier) commit(ctx context.Context, only map[string][]int32) {
	offsets := map[string]map[int32]kgo.EpochOffset{}
	r.mu.Lock()
	type upd struct {
		p  *partition
		at int64
	}
	var ups []upd
	for k, p := range r.parts {
		if only != nil && !slices.Contains(only[k.topic], k.part) {
			continue
		}
		at := p.settledNext()
		if at <= p.committed {
			continue
		}
		if offsets[k.topic] == nil {
			offsets[k.topic] = map[int32]kgo.EpochOffset{}
		}
		offsets[k.topic][k.part] = kgo.EpochOffset{Epoch: -1, Offset: at}
		ups = append(ups, upd{p, at})
	}
	r.mu.Unlock()
	if len(ups) == 0 {
		return
	}
	if err := kafka.Commit(ctx, r.cl, offsets); err != nil {
		if ctx.Err() == nil {
			r.log.Warn("commit failed; will retry", zap.Error(err))
		}
		return
	}
	r.mu.Lock()
	for _, u := range ups {
		u.p.committed = max(u.p.committed, u.at)
	}
	r.mu.Unlock()
}

func (r *Retrier) assigned(_ context.Context, cl *kgo.Client, assigned map[string][]int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// The group can assign before New has stored the client it built.
	if r.cl == nil {
		r.cl = cl
	}
	// A pause outlives the assignment it was made in; start every newly
	// assigned partition unpaused, in step with its empty queue.
	r.cl.ResumeFetchPartitions(assigned)
	for topic, parts := range assigned {
		for _, part := range parts {
			p := newPartition(r, topic, part, r.tiers[topic])
			r.parts[tp{topic, part}] = p
			go p.run()
		}
	}
}

// revoked lets the revoked partitions finish their current attempt, commits
// what settled, and drops them.
func (r *Retrier) revoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	for _, p := range r.selectParts(revoked) {
		p.stop()
	}
	r.mu.Lock()
	abandon := r.abandon
	r.mu.Unlock()
	if !abandon {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r.commit(cctx, revoked)
		cancel()
	}
	r.drop(revoked)
}

// lost drops partitions another member owns now, without committing.
func (r *Retrier) lost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	for _, p := range r.selectParts(lost) {
		p.stop()
	}
	r.drop(lost)
}

func (r *Retrier) selectParts(ps map[string][]int32) []*partition {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*partition
	for topic, parts := range ps {
		for _, part := range parts {
			if p := r.parts[tp{topic, part}]; p != nil {
				out = append(out, p)
			}
		}
	}
	return out
}

func (r *Retrier) drop(ps map[string][]int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for topic, parts := range ps {
		for _, part := range parts {
			delete(r.parts, tp{topic, part})
		}
	}
}
