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
	"time"

	"github.com/hookline/hookline/internal/catalog"
	"github.com/hookline/hookline/internal/config"
	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/payload"
	"github.com/hookline/hookline/internal/retry"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// Catalogs finds a registered application's catalog; nil for an id no
// application has (its events are the default catalog's).
type Catalogs interface {
	Catalog(application string) *catalog.Catalog
}

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
	// Redis holds settle state. Required. A *redis.Client (one server,
	// not a cluster or ring) gets the settle marks a connection of their
	// own, taken from its pool once and kept: a pooled command checks its
	// connection with a syscall at every checkout, which costs about a
	// fifth of a mark (idempotency.ConnRecorder). Any other client marks
	// through its pool.
	Redis redis.Cmdable
	// RedisPrefix namespaces keys. Default "hookline:".
	RedisPrefix string
	// Sender configures HTTP delivery (header prefix, user agent, https and
	// address rules). Zero value: production defaults.
	Sender delivery.SenderConfig
	// MaxBufferedBytes caps event bytes held in batches and in flight; past
	// it, open batches are sealed and fetching waits. Default 64 MiB
	// (DefaultMaxBufferedBytes): with the Go heap's headroom that keeps the
	// process under 256 MB whatever the endpoints do. At least 1 MiB: a
	// smaller cap seals batches before they fill and holds fetching back
	// for savings no process notices.
	MaxBufferedBytes int64
	// FetchMaxPartitionBytes is how much one fetch takes from one partition.
	// Default 256 KiB (DefaultFetchMaxPartitionBytes), a quarter of Kafka's
	// usual: a smaller fetch is decoded while the previous one is routed
	// and sent, where a large one holds the pipeline up while it decodes,
	// and buffers less. 16 KiB to 64 MiB: a smaller fetch spends more on
	// requests than it saves, a larger one holds a partition's worth of
	// records before any is routed.
	FetchMaxPartitionBytes int32
	// MaxQueuedPerEndpoint is how many sealed batches may wait behind an
	// endpoint's delivery in flight; more go straight to the first retry
	// tier, so a slow endpoint cannot hold memory or other endpoints up.
	// A single-event endpoint (MaxItems 1) queues 16 times as many events.
	// Default 4.
	MaxQueuedPerEndpoint int
	// Concurrency is deliveries in flight per endpoint. Default 1; at most
	// 64, the connections the sender keeps per host: more would wait for
	// a connection, and widen what a crash may send twice.
	Concurrency int
	// QueueWait is the longest routing waits for room in a busy
	// endpoint's full queue. An endpoint that has not freed a sender for
	// that long, or whose deliveries take longer than that per sender on
	// average, or is failing, does not keep up: its overflow goes to the
	// first retry tier unattempted (deferred), so its pace never sets that
	// of the other endpoints reading the same partitions. Default 100ms
	// (DefaultQueueWait); 1ms to 10s: routing would wait that long for one
	// endpoint.
	QueueWait time.Duration
	// MaxEventBytes is the largest event accepted; a larger record goes
	// to the invalid-records topic with the reason, whoever produced it.
	// Default 256 KiB (DefaultMaxEventBytes, the producer's limit); at
	// least 1 KiB, which every event of the catalog needs; at most what a
	// delivery can carry (kafka.MaxDeliveryBytes less the 2 bytes of a
	// batch's brackets).
	MaxEventBytes int
	// Catalog is the event catalog served: a record whose type it lacks
	// goes to the invalid-records topic. Default: the embedded catalog.
	Catalog *catalog.Catalog
	// Applications holds the registered applications' catalogs: an event
	// naming one is held to its catalog instead of Catalog. Default nil:
	// every event is held to Catalog.
	Applications Catalogs
	// MarkLinger is how long a delivery's settle mark may wait for other
	// deliveries in flight to finish and share its Redis round trip; a
	// round leaves as soon as none is left sending, and waits only while
	// deliveries typically take under four lingers. Default 0: a mark never
	// waits. Set it (500µs, say) when Redis is what runs short: at four
	// fast deliveries in flight it took Redis's CPU per mark down by about
	// 40%, at the price of up to one linger per delivery slot's cycle. At
	// most 100ms: a longer wait costs each delivery more than the round
	// trip it saves.
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
	// Security is how every client reaches brokers that want TLS or SASL
	// (the member's, the attempt log writer's). Default: plaintext, no
	// SASL.
	Security kafka.Security
	// KafkaOpts are extra client options, applied after Security's.
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

// ErrConfig marks a Config setting out of its bounds, or missing; the
// error is a *config.FieldError naming it.
var ErrConfig = errors.New("dispatcher config")

// Validate reports the first setting out of its bounds (each field's doc
// says them; zero takes the default). It needs nothing connected, so a
// command can check its flags before it starts anything; New calls it,
// and also requires Brokers, Endpoints and Redis.
func (c *Config) Validate() error {
	field := func(name, format string, a ...any) error { return config.Errorf(ErrConfig, name, format, a...) }
	switch {
	case c.MaxBufferedBytes != 0 && c.MaxBufferedBytes < 1<<20:
		return field("MaxBufferedBytes", "want at least 1 MiB, got %d", c.MaxBufferedBytes)
	case c.FetchMaxPartitionBytes != 0 && (c.FetchMaxPartitionBytes < 16<<10 || c.FetchMaxPartitionBytes > 64<<20):
		return field("FetchMaxPartitionBytes", "want 16 KiB to 64 MiB, got %d", c.FetchMaxPartitionBytes)
	case c.MaxQueuedPerEndpoint < 0:
		return field("MaxQueuedPerEndpoint", "want at least 1, got %d", c.MaxQueuedPerEndpoint)
	case c.Concurrency < 0 || c.Concurrency > 64:
		return field("Concurrency", "want 1-64, got %d", c.Concurrency)
	case c.QueueWait != 0 && (c.QueueWait < time.Millisecond || c.QueueWait > 10*time.Second):
		return field("QueueWait", "want 1ms to 10s, got %s", c.QueueWait)
	case c.MaxEventBytes != 0 && (c.MaxEventBytes < 1<<10 || c.MaxEventBytes > kafka.MaxDeliveryBytes-2):
		return field("MaxEventBytes", "want 1 KiB to %d, got %d", kafka.MaxDeliveryBytes-2, c.MaxEventBytes)
	case c.MarkLinger < 0 || c.MarkLinger > 100*time.Millisecond:
		return field("MarkLinger", "want 0 to 100ms, got %v", c.MarkLinger)
	case c.CommitInterval < 0:
		return field("CommitInterval", "want 0 (the default, 1s) or more, got %s", c.CommitInterval)
	case c.RevokeTimeout < 0:
		return field("RevokeTimeout", "want 0 (the default, 30s) or more, got %s", c.RevokeTimeout)
	}
	if err := config.In(ErrConfig, "Security", c.Security.Validate()); err != nil {
		return err
	}
	return config.In(ErrConfig, "Sender", c.Sender.Validate())
}

func (c *Config) withDefaults() error {
	switch {
	case len(c.Brokers) == 0:
		return config.Errorf(ErrConfig, "Brokers", "required")
	case c.Endpoints == nil:
		return config.Errorf(ErrConfig, "Endpoints", "required")
	case c.Redis == nil:
		return config.Errorf(ErrConfig, "Redis", "required")
	}
	if err := c.Validate(); err != nil {
		return err
	}
	sec, err := c.Security.Opts()
	if err != nil {
		return config.In(ErrConfig, "Security", err)
	}
	c.KafkaOpts = append(sec, c.KafkaOpts...)
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
			return config.Errorf(ErrConfig, "Catalog", "loading the embedded catalog: %v", err)
		}
		c.Catalog = cat
	}
	if c.Refs == nil {
		c.Refs = c.Catalog
	}
	return nil
}
