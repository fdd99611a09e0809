// Package dispatcher consumes change events from Kafka as a consumer group,
// matches them to endpoints, batches per endpoint, signs and POSTs, and
// commits an offset only once every delivery holding a record at or below it
// has settled: a 2xx recorded in Redis, or the delivery written with
// acks=all to the first retry tier or to dead letters.
//
// Scale out by adding partitions and group members; members share nothing
// but Kafka and Redis.
package dispatcher

import (
	"errors"
	"fmt"
	"time"

	"github.com/hookline/hookline/internal/catalog"
	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/payload"
	"github.com/hookline/hookline/internal/retry"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// Config configures a Dispatcher.
type Config struct {
	// Brokers is the Kafka bootstrap list. Required.
	Brokers []string
	// Group is the consumer group. Default "hookline-dispatcher".
	Group string
	// Topics names the events topic (consumed) and the topics written.
	// Zero value: the defaults of kafka.Topics.
	Topics kafka.Topics
	// Retry is the retry schedule and its tier topics; the dispatcher
	// writes to the first tier. Zero value: retry.Policy's defaults.
	Retry retry.Policy
	// ExtraEventTopics are consumed besides Topics.Events.
	ExtraEventTopics []string
	// Endpoints is the registry: looked up per record, told of 410s.
	// Required.
	Endpoints endpoints.Registry
	// Redis holds settle state. Required.
	Redis redis.Cmdable
	// RedisPrefix namespaces keys. Default "hookline:".
	RedisPrefix string
	// Sender configures HTTP delivery (header prefix, user agent, https and
	// address rules). Zero value: production defaults.
	Sender delivery.SenderConfig
	// MaxBufferedBytes caps event bytes held in batches and in flight; past
	// it, open batches are sealed and fetching waits. Default 64 MiB
	// (DefaultMaxBufferedBytes): with the Go heap's headroom that keeps the
	// process under 256 MB whatever the endpoints do.
	MaxBufferedBytes int64
	// FetchMaxPartitionBytes is how much one fetch takes from one partition.
	// Default 256 KiB (DefaultFetchMaxPartitionBytes), a quarter of Kafka's
	// usual: a smaller fetch is decoded while the previous one is routed
	// and sent, where a large one holds the pipeline up while it decodes,
	// and buffers less.
	FetchMaxPartitionBytes int32
	// MaxQueuedPerEndpoint is how many sealed batches may wait behind an
	// endpoint's delivery in flight; more go straight to the first retry
	// tier, so a slow endpoint cannot hold memory or other endpoints up.
	// A single-event endpoint (MaxItems 1) queues 16 times as many events.
	// Default 4.
	MaxQueuedPerEndpoint int
	// Concurrency is deliveries in flight per endpoint. Default 1.
	Concurrency int
	// QueueWait is the longest routing waits for room in a busy
	// endpoint's full queue. An endpoint that has not freed a sender for
	// that long, or whose deliveries take longer than that per sender on
	// average, or is failing, does not keep up: its overflow goes to the
	// first retry tier unattempted (deferred), so its pace never sets that
	// of the other endpoints reading the same partitions. Default 100ms
	// (DefaultQueueWait); at most 10s.
	QueueWait time.Duration
	// MaxEventBytes is the largest event accepted; a larger record goes
	// to the invalid-records topic with the reason, whoever produced it.
	// Default 256 KiB (DefaultMaxEventBytes, the producer's limit); at most
	// what a delivery can carry (kafka.MaxDeliveryBytes less 2).
	MaxEventBytes int
	// Catalog is the event catalog served: a record whose type it lacks
	// goes to the invalid-records topic. Default: the embedded catalog.
	Catalog *catalog.Catalog
	// MarkLinger is how long a delivery's settle mark may wait for other
	// deliveries in flight to finish and share its Redis round trip; a
	// round leaves as soon as none is left sending, and waits only while
	// deliveries typically take under four lingers. Default 0: a mark never
	// waits. Set it (500µs, say) when Redis is what runs short: at four
	// fast deliveries in flight it took Redis's CPU per mark down by about
	// 40%, at the price of up to one linger per delivery slot's cycle.
	MarkLinger time.Duration
	// CommitInterval between offset commits. Default 1 s.
	CommitInterval time.Duration
	// RevokeTimeout bounds the wait for in-flight deliveries of partitions
	// being revoked in a rebalance. Default 30 s.
	RevokeTimeout time.Duration
	// Logger. Default nil: silent.
	Logger *zap.Logger
	// Metrics receives the figures (internal/metrics). Default nil: none.
	Metrics Metrics
	// KafkaOpts are extra client options (TLS, SASL, ...).
	KafkaOpts []kgo.Opt
	// Refs declares per event type the ids a thin payload keeps (a
	// *catalog.Catalog: its schemas' x-hookline-refs). Default: Catalog.
	Refs payload.RefSource
}

// Defaults of the memory, fetch, queue and event-size settings.
const (
	DefaultMaxBufferedBytes       = 64 << 20
	DefaultFetchMaxPartitionBytes = 256 << 10
	DefaultQueueWait              = 100 * time.Millisecond
	DefaultMaxEventBytes          = 256 << 10
)

// ErrConfig marks a configuration error.
var ErrConfig = errors.New("dispatcher config")

func (c *Config) withDefaults() error {
	switch {
	case len(c.Brokers) == 0:
		return fmt.Errorf("%w: Brokers is empty", ErrConfig)
	case c.Endpoints == nil:
		return fmt.Errorf("%w: Endpoints is nil", ErrConfig)
	case c.Redis == nil:
		return fmt.Errorf("%w: Redis is nil", ErrConfig)
	case c.MaxBufferedBytes < 0 || c.MaxQueuedPerEndpoint < 0 || c.Concurrency < 0 || c.FetchMaxPartitionBytes < 0 || c.MarkLinger < 0 ||
		c.QueueWait < 0 || c.MaxEventBytes < 0:
		return fmt.Errorf("%w: limits must not be negative", ErrConfig)
	case c.QueueWait > 10*time.Second:
		return fmt.Errorf("%w: QueueWait %s is over 10s: routing would wait that long for one endpoint", ErrConfig, c.QueueWait)
	case c.MaxEventBytes > kafka.MaxDeliveryBytes-2:
		return fmt.Errorf("%w: MaxEventBytes %d is over the largest delivery (%d bytes)", ErrConfig, c.MaxEventBytes, kafka.MaxDeliveryBytes-2)
	}
	if c.Group == "" {
		c.Group = "hookline-dispatcher"
	}
	c.Topics = c.Topics.WithDefaults()
	c.Retry = c.Retry.WithDefaults()
	if c.MaxBufferedBytes == 0 {
		c.MaxBufferedBytes = DefaultMaxBufferedBytes
	}
	if c.FetchMaxPartitionBytes == 0 {
		c.FetchMaxPartitionBytes = DefaultFetchMaxPartitionBytes
	}
	if c.MaxQueuedPerEndpoint == 0 {
		c.MaxQueuedPerEndpoint = 4
	}
	if c.Concurrency == 0 {
		c.Concurrency = 1
	}
	if c.QueueWait == 0 {
		c.QueueWait = DefaultQueueWait
	}
	if c.MaxEventBytes == 0 {
		c.MaxEventBytes = DefaultMaxEventBytes
	}
	if c.CommitInterval == 0 {
		c.CommitInterval = time.Second
	}
	if c.RevokeTimeout == 0 {
		c.RevokeTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Metrics == nil {
		c.Metrics = noMetrics{}
	}
	if c.Catalog == nil {
		cat, err := catalog.Load("")
		if err != nil {
			return fmt.Errorf("%w: event catalog: %w", ErrConfig, err)
		}
		c.Catalog = cat
	}
	if c.Refs == nil {
		c.Refs = c.Catalog
	}
	return nil
}
