// Package member is the consumer-group member the dispatcher and the
// retrier are both built on: the Kafka client and its group options, the
// topics a member writes, the poll loop, the periodic and final offset
// commits, Run and Shutdown with their drain, and the bookkeeping of the
// partitions assigned, revoked and lost. What differs between the two lives
// behind Handler (what to do with fetched records, how to wait for work in
// flight) and Partition (the offset a partition may commit).
//
// Offsets are committed only at a partition's CommitPoint, so a member
// commits no further than its owner says is durable. Run and Shutdown keep
// the lifecycle contract (internal/lifecycle): a Shutdown drains, within
// its context, and is remembered when made before Run; the end of a
// context abandons.
package member

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hookline/hookline/internal/kafka"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// Partition is an owner's state of one assigned partition.
type Partition interface {
	// CommitPoint is the offset to commit next (one past the last record
	// whose outcome is durable), or below 0 when there is none yet.
	CommitPoint() int64
	// Release tells the partition it is no longer this member's: stop its
	// work. It is called once, after the final commit on a revoke, at once
	// on a loss, and at the end of Run.
	Release()
}

// Handler is what the owner of a member supplies.
//
// Optionally it also implements PollSizer and Committer.
type Handler[P Partition] interface {
	// Assign makes the state of a newly assigned partition. It may wait
	// for a dependency (Redis away); it reports false if ctx ends first
	// (the client is closing) and the partition is then not taken.
	Assign(ctx context.Context, topic string, part int32) (P, bool)
	// Handle takes the records of one poll. Records of partitions no
	// longer assigned are to be skipped (Member.Partition tells).
	Handle(ctx context.Context, fetches kgo.Fetches)
	// Quiesce waits, until ctx ends, for the work in flight on ps to
	// settle: before the final commit of revoked partitions, and of all
	// of them on a graceful Shutdown.
	Quiesce(ctx context.Context, ps []P)
}

// PollSizer is implemented by a Handler that chooses how many records the
// next poll takes; it may wait (for memory to drain) until ctx ends.
// Without it, a poll takes up to 1,000 records.
type PollSizer interface {
	PollSize(ctx context.Context) int
}

// Committer is implemented by a Handler that wants to know of every
// offset committed (to prune state kept below it).
type Committer[P Partition] interface {
	Committed(ctx context.Context, p P, topic string, part int32, offset int64)
}

// Config configures a Member.
type Config struct {
	// Brokers is the Kafka bootstrap list. Required.
	Brokers []string
	// Group is the consumer group. Required.
	Group string
	// Consume lists the topics consumed. Required.
	Consume []string
	// Write lists the topics the member writes to; Run creates those
	// missing and raises their message size limit.
	Write []string
	// CommitInterval between offset commits. Default 1 s.
	CommitInterval time.Duration
	// RevokeTimeout bounds the wait for work in flight on revoked
	// partitions before their final commit. Default 30 s.
	RevokeTimeout time.Duration
	// ClientOpts are the owner's client options (fetch sizes, linger);
	// KafkaOpts the user's (TLS, SASL, group membership), applied last.
	ClientOpts, KafkaOpts []kgo.Opt
	// Logger. Default nil: silent.
	Logger *zap.Logger
	// Observer is told of the Kafka calls that failed and are retried.
	// Default nil: none.
	Observer Observer
}

// Observer counts a member's failed Kafka calls, for metrics: op is
// "fetch", "commit" or "produce" (the owner's writes). It must not block.
type Observer interface {
	KafkaError(op string)
}

// ObserverOf is an owner's metrics as the member's Observer, when they
// implement it, else nil.
func ObserverOf(metrics any) Observer {
	o, _ := metrics.(Observer)
	return o
}

// ErrConfig marks a configuration error.
var ErrConfig = errors.New("member config")

type entry[P Partition] struct {
	p         P
	committed int64
}

type tp struct {
	topic string
	part  int32
}

// Member is one consumer-group member. Create with New, then Run.
type Member[P Partition] struct {
	cfg Config
	h   Handler[P]
	log *zap.Logger

	// work outlives a graceful drain and ends when Run returns, or when
	// Shutdown's deadline passes: the context of the owner's deliveries.
	work       context.Context
	workCancel context.CancelFunc

	cl *kgo.Client

	mu         sync.Mutex
	parts      map[tp]*entry[P]
	stopping   bool
	abandoned  bool
	pollCancel context.CancelFunc
	// started is closed when Run starts. The group may assign partitions
	// as soon as the client exists, before the owner's New has even
	// stored the member; callbacks wait for Run so the owner is whole.
	started chan struct{}
	done    chan struct{}
}

// New validates cfg and makes the Kafka client; the group is joined once
// Run polls.
func New[P Partition](cfg Config, h Handler[P]) (*Member[P], error) {
	switch {
	case len(cfg.Brokers) == 0:
		return nil, fmt.Errorf("%w: Brokers is empty", ErrConfig)
	case cfg.Group == "":
		return nil, fmt.Errorf("%w: Group is empty", ErrConfig)
	case len(cfg.Consume) == 0:
		return nil, fmt.Errorf("%w: no topic to consume", ErrConfig)
	}
	if cfg.CommitInterval <= 0 {
		cfg.CommitInterval = time.Second
	}
	if cfg.RevokeTimeout <= 0 {
		cfg.RevokeTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	m := &Member[P]{cfg: cfg, h: h, log: cfg.Logger, parts: map[tp]*entry[P]{},
		started: make(chan struct{}), done: make(chan struct{})}
	m.work, m.workCancel = context.WithCancel(context.Background())
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Consume...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		// Callbacks run only between polls, so a partition's records are
		// never handled while it is being revoked.
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(m.assigned),
		kgo.OnPartitionsRevoked(m.revoked),
		kgo.OnPartitionsLost(m.lost),
	}
	opts = append(opts, kafka.ProducerOpts()...)
	opts = append(opts, cfg.ClientOpts...)
	cl, err := kgo.NewClient(append(opts, cfg.KafkaOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	m.cl = cl
	return m, nil
}

// Client is the member's Kafka client, for the owner's produces and
// partition pauses.
func (m *Member[P]) Client() *kgo.Client { return m.cl }

// Work is the context of the owner's work: it ends when Run returns after
// a crash-like stop, or when Shutdown's deadline passes.
func (m *Member[P]) Work() context.Context { return m.work }

// Abandoned reports whether Run's context ended: a crash-like stop in
// which nothing more is committed.
func (m *Member[P]) Abandoned() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.abandoned
}

// Partition returns the state of an assigned partition.
func (m *Member[P]) Partition(topic string, part int32) (P, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.parts[tp{topic, part}]
	if e == nil {
		var zero P
		return zero, false
	}
	return e.p, true
}

// Partitions returns the states of the partitions assigned now.
func (m *Member[P]) Partitions() []P {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]P, 0, len(m.parts))
	for _, e := range m.parts {
		out = append(out, e.p)
	}
	return out
}

// Run creates the topics written, then polls and hands records to the
// Handler until ctx ends or Shutdown is called, committing every
// CommitInterval.
//
// The end of ctx is a crash-like stop: nothing more is committed, Work
// ends, and what was in flight is re-read by the partitions' next owner.
// After Shutdown, Run drains: it waits (Quiesce, until Shutdown's deadline)
// for the work in flight on every partition, commits, and returns. Run
// releases every partition and closes the client before returning.
func (m *Member[P]) Run(ctx context.Context) error {
	close(m.started)
	defer close(m.done)
	defer m.workCancel()
	defer m.Client().Close()
	defer m.releaseAll()
	if err := m.EnsureTopics(ctx, m.cfg.Write...); err != nil {
		return err
	}
	pollCtx, cancel := context.WithCancel(ctx)
	m.mu.Lock()
	m.pollCancel = cancel
	if m.stopping {
		cancel() // Shutdown came while the topics were being created
	}
	m.mu.Unlock()

	commitDone := make(chan struct{})
	go func() {
		defer close(commitDone)
		kafka.Every(pollCtx, m.cfg.CommitInterval, func(ctx context.Context) { m.commit(ctx, nil) })
	}()
	m.poll(pollCtx)
	cancel()
	<-commitDone
	if ctx.Err() != nil {
		m.mu.Lock()
		m.abandoned = true
		m.mu.Unlock()
		m.workCancel()
		return nil
	}
	m.h.Quiesce(m.work, m.Partitions())
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	m.commit(cctx, nil)
	return nil
}

// EnsureTopics creates the topics missing, with the cluster's default
// partitions and replication, and raises their message size limit to what
// a delivery needs; it gives up after 30 s.
func (m *Member[P]) EnsureTopics(ctx context.Context, topics ...string) error {
	if len(topics) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return kafka.EnsureTopics(ctx, kadm.NewClient(m.Client()), -1, -1, topics...)
}

func (m *Member[P]) poll(ctx context.Context) {
	sizer, _ := any(m.h).(PollSizer)
	cl := m.Client()
	for ctx.Err() == nil {
		n := 1000
		if sizer != nil {
			n = sizer.PollSize(ctx)
		}
		if ctx.Err() != nil {
			return
		}
		fetches := cl.PollRecords(ctx, n)
		if ctx.Err() != nil {
			cl.AllowRebalance()
			return
		}
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				m.log.Warn("fetch error", zap.String("topic", t), zap.Int32("partition", p), zap.Error(err))
				m.KafkaError("fetch")
			}
		})
		m.h.Handle(ctx, fetches)
		cl.AllowRebalance()
	}
}

// Shutdown stops fetching and waits for Run to drain and return. If ctx
// ends first, Work ends (what is in flight is abandoned, to be re-read by
// the next owner), and Shutdown returns ctx's error once Run has returned.
func (m *Member[P]) Shutdown(ctx context.Context) error {
	m.mu.Lock()
	m.stopping = true
	if m.pollCancel != nil {
		m.pollCancel()
	}
	m.mu.Unlock()
	go func() {
		select {
		case <-ctx.Done():
			m.workCancel() // deadline passed: abandon what is still in flight
		case <-m.done:
		}
	}()
	select {
	case <-m.done:
		return nil
	case <-ctx.Done():
		<-m.done
		return ctx.Err()
	}
}

// KafkaError tells the Observer, if any, of a failed Kafka call.
func (m *Member[P]) KafkaError(op string) {
	if m.cfg.Observer != nil {
		m.cfg.Observer.KafkaError(op)
	}
}

// ErrNotJoined is Ready's answer before the member has joined its group.
var ErrNotJoined = errors.New("not joined to the consumer group yet")

// Joined reports whether the member is in its group now: the group gave
// it a generation (classic protocol) or an epoch (KIP-848), whether or
// not any partition came with it. It is false before Run and the first
// join, and after Run returns; a member dropped by the group keeps its last
// generation until it has joined again.
func (m *Member[P]) Joined() bool {
	select {
	case <-m.done:
		return false
	default:
	}
	select {
	case <-m.started:
	default:
		return false // the client may join before Run, but nothing is consumed yet
	}
	_, gen := m.cl.GroupMetadata()
	return gen > 0
}

// Ready reports why the member cannot work now: it has not joined its
// group, or no broker answers. Nil: ready.
func (m *Member[P]) Ready(ctx context.Context) error {
	if !m.Joined() {
		return fmt.Errorf("group %s: %w", m.cfg.Group, ErrNotJoined)
	}
	if err := m.cl.Ping(ctx); err != nil {
		return fmt.Errorf("kafka unreachable: %w", err)
	}
	return nil
}

// Stopping reports whether Shutdown was called.
func (m *Member[P]) Stopping() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stopping
}
