package registry

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookline/hookline/internal/config"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/topics"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// Errors.
var (
	// ErrNameTaken: another live endpoint of the tenant has that name; the
	// log decided which came first.
	ErrNameTaken = errors.New("endpoint name taken")
	// ErrExists: an endpoint with that id exists already.
	ErrExists = errors.New("endpoint id exists")
	// ErrTenantNotFound marks an unknown tenant id.
	ErrTenantNotFound = errors.New("tenant not found")
	// ErrKeyNotFound marks an unknown API key id.
	ErrKeyNotFound = errors.New("api key not found")
	// ErrConfig marks a Config that cannot work; the error is a
	// *config.FieldError naming the setting.
	ErrConfig = errors.New("registry config")
	// ErrClosed is returned by writes after Close.
	ErrClosed = errors.New("registry closed")
	// ErrTopic marks a registry topic laid out so that the log cannot
	// order every change (more than one partition).
	ErrTopic = errors.New("registry topic")
)

// DefaultTopic is the registry topic's default name: the default
// layout's.
const DefaultTopic = topics.DefaultRegistry

// Config configures a Store.
type Config struct {
	// Brokers is the Kafka bootstrap list. Required.
	Brokers []string
	// Topic is the registry topic, created (compacted, one partition) when
	// missing. Default DefaultTopic.
	Topic string
	// Keyring seals and opens endpoint secrets. Required.
	Keyring *Keyring
	// Logger; nil is silent.
	Logger *zap.Logger
	// ClientOpts are extra Kafka client options: the user's TLS and SASL
	// (kafka.Security.Opts), a test's dialer.
	ClientOpts []kgo.Opt
	// FetchMaxWait bounds how long the follower's fetch waits at the log's
	// end; a record that arrives sooner is returned at once. Default 100 ms.
	FetchMaxWait time.Duration
	// ReplicationFactor of a topic Open creates. Default 0: the broker's
	// default.
	ReplicationFactor int16
	// KeyUseInterval is how often at most this Store records that one API
	// key was used (NoteKeyUse). Default DefaultKeyUseInterval.
	KeyUseInterval time.Duration
}

// Store is one process's view of the registry: an in-memory table that
// follows the topic, and the writes that append to it. Safe for
// concurrent use.
type Store struct {
	topic  string
	log    *zap.Logger
	cl     *kgo.Client
	writer string // this Store's id in the records it writes
	kr     atomic.Pointer[Keyring]
	cur    atomic.Pointer[index]
	pubMu  sync.Mutex // serialises publishing a new index
	uses   keyUses    // throttles the use records NoteKeyUse writes

	wmu     sync.Mutex
	waiters map[string]chan outcome // by write id
	closed  bool                    // no new writes or orphans once set

	ctx       context.Context // ends at Close
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// Open connects, creates the topic if missing, and returns once the table
// holds everything the topic held when Open was called; the Store then
// follows the topic until Close. Open fails if a live endpoint's secrets
// do not open with cfg.Keyring.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if len(cfg.Brokers) == 0 {
		return nil, config.Errorf(ErrConfig, "Brokers", "required")
	}
	if cfg.Keyring == nil || len(cfg.Keyring.keys) == 0 {
		return nil, config.Errorf(ErrConfig, "Keyring", "required")
	}
	if cfg.Topic == "" {
		cfg.Topic = DefaultTopic
	}
	if cfg.FetchMaxWait <= 0 {
		cfg.FetchMaxWait = 100 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.FetchMaxWait(cfg.FetchMaxWait),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0), // a write waits for its own record; nothing to batch with
	}, kafka.ProducerOpts()...)
	cl, err := kgo.NewClient(append(opts, cfg.ClientOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("registry: kafka client: %w", err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	s := &Store{
		topic: cfg.Topic, log: cfg.Logger.With(zap.String("topic", cfg.Topic)), cl: cl,
		writer: randomID("", 8), waiters: map[string]chan outcome{}, ctx: sctx, cancel: cancel,
	}
	s.kr.Store(cfg.Keyring)
	s.uses.init(cfg.KeyUseInterval)
	s.cur.Store(newIndex())
	end, err := s.prepareTopic(ctx, cfg.ReplicationFactor)
	if err != nil {
		s.Close()
		return nil, err
	}
	// Consuming starts once the topic exists: a client that looked it up
	// before waits out a metadata back-off on its first fetch.
	s.cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{s.topic: {0: kgo.NewOffset().AtStart()}})
	ready := make(chan error, 1)
	s.wg.Add(1)
	go s.follow(end, ready)
	select {
	case err = <-ready:
	case <-ctx.Done():
		err = fmt.Errorf("registry: catching up with %s: %w", cfg.Topic, ctx.Err())
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	s.log.Info("registry loaded", zap.Int("endpoints", len(s.cur.Load().entries)), zap.Int64("end offset", end))
	s.repairStale(ctx)
	s.repairKeyUses(ctx)
	return s, nil
}

// Close stops the follower and any correction still running, then closes
// the client, which ends any key use still being recorded. Writes after
// Close return ErrClosed.
func (s *Store) Close() {
	s.closeOnce.Do(func() {
		s.wmu.Lock()
		s.closed = true
		s.wmu.Unlock()
		s.cancel()
		s.wg.Wait()
		s.cl.Close()
		s.uses.wg.Wait() // after the client is closed: see keyUses
	})
}

// prepareTopic creates the topic when missing, checks it has one
// partition, and returns its end offset.
func (s *Store) prepareTopic(ctx context.Context, rf int16) (int64, error) {
	if rf == 0 {
		rf = -1
	}
	adm := kadm.NewClient(s.cl)
	limit := strconv.Itoa(kafka.MaxMessageBytes)
	compact := "compact"
	resp, err := adm.CreateTopic(ctx, 1, rf, map[string]*string{"cleanup.policy": &compact, "max.message.bytes": &limit}, s.topic)
	if err == nil {
		err = resp.Err
	}
	switch {
	case errors.Is(err, kerr.TopicAlreadyExists):
		// Raises max.message.bytes when an operator created it lower.
		if err := kafka.EnsureTopics(ctx, adm, 1, rf, s.topic); err != nil {
			return 0, fmt.Errorf("registry: %w", err)
		}
		s.checkCompacted(ctx, adm)
	case err != nil:
		return 0, fmt.Errorf("registry: create topic %s: %w", s.topic, err)
	default:
		s.log.Info("registry topic created")
	}
	for wait := 50 * time.Millisecond; ; wait *= 2 {
		ends, err := adm.ListEndOffsets(ctx, s.topic)
		if err == nil {
			err = ends.Error()
		}
		if err == nil {
			if n := len(ends[s.topic]); n != 1 {
				return 0, fmt.Errorf("%w %s has %d partitions; it needs exactly 1 so that the log orders every change", ErrTopic, s.topic, n)
			}
			o, _ := ends.Lookup(s.topic, 0)
			return s.readableEnd(ctx, adm, o.Offset)
		}
		// A topic just created may not be in metadata yet.
		if !errors.Is(err, kerr.UnknownTopicOrPartition) || wait > 5*time.Second {
			return 0, fmt.Errorf("registry: end offset of %s: %w", s.topic, err)
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("registry: end offset of %s: %w", s.topic, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// readableEnd returns end, or 0 when the log holds no record below it
// (deleted by retention), so that catching up does not wait for records
// that will never come.
func (s *Store) readableEnd(ctx context.Context, adm *kadm.Client, end int64) (int64, error) {
	if end == 0 {
		return 0, nil
	}
	starts, err := adm.ListStartOffsets(ctx, s.topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return 0, fmt.Errorf("registry: start offset of %s: %w", s.topic, err)
	}
	if o, _ := starts.Lookup(s.topic, 0); o.Offset >= end {
		return 0, nil
	}
	return end, nil
}

// checkCompacted warns about a registry topic an operator created without
// compaction: it then loses records to retention, and with them endpoints.
func (s *Store) checkCompacted(ctx context.Context, adm *kadm.Client) {
	cfgs, err := adm.DescribeTopicConfigs(ctx, s.topic)
	if err != nil {
		return
	}
	for _, rc := range cfgs {
		for _, c := range rc.Configs {
			if c.Key == "cleanup.policy" && c.Value != nil && *c.Value != "compact" {
				s.log.Warn("registry topic is not compacted (cleanup.policy=compact only): retention can delete endpoints", zap.String("cleanup.policy", *c.Value))
			}
		}
	}
}
