// Package retrier runs the delayed retry tiers: a consumer group over one
// topic per delay (default 1m, 5m, 30m, 2h, 12h) and the Retry-now lane,
// whose records replays write due at once. A partition is paused while
// its head record is not yet due, so waiting deliveries stay in Kafka,
// not in memory. Each attempt re-reads the endpoint, signs afresh (same
// delivery id, same body) and, on failure, writes the delivery to the next
// tier or, at the end, to dead letters. Redis keeps an in-flight lease and a
// done mark per delivery, so nothing is sent again after a 2xx.
package retrier

import (
	"context"
	"errors"
	"time"

	"github.com/hookline/hookline/internal/config"
	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/retry"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// Config configures a Retrier.
type Config struct {
	// Brokers is the Kafka bootstrap list. Required.
	Brokers []string
	// Group is the consumer group. Default "hookline-retrier".
	Group string
	// Topics names the retry tiers (Topics.Retry is the schedule), dead
	// letters and the attempt log. Zero value: the defaults.
	Topics kafka.Topics
	// Endpoints is the registry, read before every attempt (nil: deleted)
	// and told of 410s. Required.
	Endpoints endpoints.Registry
	// Retry is the schedule and the tier topics consumed; its
	// ReplayWindow sizes the done marks. Zero value: retry.Policy's
	// defaults.
	Retry retry.Policy
	// Redis holds leases and done marks. Required.
	Redis redis.Cmdable
	// RedisPrefix namespaces keys. Default "hookline:".
	RedisPrefix string
	// Sender configures HTTP delivery. Zero value: production defaults.
	Sender delivery.SenderConfig
	// Concurrency is attempts in flight per tier partition. Default 16
	// (DefaultConcurrency); at most 1024: each is a request in flight and
	// its goroutine, and more per partition is a typo more likely than a
	// plan.
	Concurrency int
	// EndpointConcurrency is the most attempts one endpoint may have in
	// flight in this retrier, so a slow endpoint cannot take every slot
	// of the partitions its deliveries share with others. An endpoint
	// whose attempts take no longer than QueueWait on average may have
	// Concurrency less EndpointConcurrency, when that is more. Default 4,
	// or Concurrency when lower; at most Concurrency.
	EndpointConcurrency int
	// QueueWait is how long a due record of an endpoint at
	// EndpointConcurrency may wait for one of its slots; an endpoint that
	// frees none for that long, or takes longer than that per slot on
	// average, has the record deferred a tier's delay without an attempt.
	// Default 100ms; 1ms to 10s: a partition's due records would wait
	// that long behind one endpoint.
	QueueWait time.Duration
	// CommitInterval between offset commits. Default 1 s.
	CommitInterval time.Duration
	// RevokeTimeout bounds the wait for attempts in flight on partitions
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
	// Now is the clock. Default time.Now.
	Now func() time.Time

	// afterHandOff, set by tests only, runs once a failed attempt's record
	// is in the next tier or the dead letters and the delivery's mark says
	// so, before the source record settles: the point where a kill used to
	// fork the retry chain.
	afterHandOff func(ctx context.Context, d *delivery.Delivery, topic string)
	// afterRequeue, set by tests only, runs once a re-enqueued copy is in
	// its tier, before the source record settles: a kill there leaves two
	// records of one attempt.
	afterRequeue func(ctx context.Context, d *delivery.Delivery, topic string)
}

// ErrConfig marks a Config setting out of its bounds, or missing; the
// error is a *config.FieldError naming it.
var ErrConfig = errors.New("retrier config")

// Validate reports the first setting out of its bounds (each field's doc
// says them; zero takes the default). It needs nothing connected, so a
// command can check its flags before it starts anything; New calls it,
// and also requires Brokers, Endpoints and Redis.
func (c *Config) Validate() error {
	field := func(name, format string, a ...any) error { return config.Errorf(ErrConfig, name, format, a...) }
	concurrency := c.Concurrency
	if concurrency == 0 {
		concurrency = DefaultConcurrency
	}
	switch {
	case c.Concurrency < 0 || c.Concurrency > 1024:
		return field("Concurrency", "want 1-1024, got %d", c.Concurrency)
	case c.EndpointConcurrency < 0 || c.EndpointConcurrency > concurrency:
		return field("EndpointConcurrency", "want 0 (the default) to Concurrency (%d), got %d", concurrency, c.EndpointConcurrency)
	case c.QueueWait != 0 && (c.QueueWait < time.Millisecond || c.QueueWait > 10*time.Second):
		return field("QueueWait", "want 1ms to 10s, got %s", c.QueueWait)
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

// Defaults of Config.
const (
	DefaultConcurrency         = 16
	DefaultEndpointConcurrency = 4
	DefaultQueueWait           = 100 * time.Millisecond
)

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
		c.Group = "hookline-retrier"
	}
	c.Topics = c.Topics.WithDefaults()
	c.Retry = c.Retry.WithDefaults()
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.EndpointConcurrency == 0 {
		c.EndpointConcurrency = min(DefaultEndpointConcurrency, c.Concurrency)
	}
	if c.QueueWait == 0 {
		c.QueueWait = DefaultQueueWait
	}
	if c.CommitInterval == 0 {
		c.CommitInterval = time.Second
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Metrics == nil {
		c.Metrics = noMetrics{}
	}
	return nil
}

// doneTTL covers the whole retry horizon plus the replay window.
func (c *Config) doneTTL() time.Duration { return c.Retry.DoneTTL() }
