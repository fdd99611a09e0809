// Package deliverylog is the attempt log, whole: its record format (Entry,
// and the Location of the record an attempt wrote), the Writer the
// dispatcher and the retrier log every attempt with, and the views built
// from it. An Indexer, a member of a consumer group of its own built on
// internal/member like the dispatcher and the retrier, follows the topic
// and writes every attempt into Redis, bounded per endpoint and expiring,
// before it commits; a Reader answers the delivery-log, health and Retry
// now questions from Redis alone, so no request ever scans the topic.
//
// It depends on internal/delivery for the Delivery and the Attempt it
// logs, never the reverse: sending a delivery does not need its log.
//
// Indexing is idempotent: a record read twice (after a crash, or from an
// earlier offset) changes no figure, so offsets can be committed lazily.
package deliverylog

import (
	"context"
	"errors"
	"time"

	"github.com/hookline/hookline/internal/config"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/topics"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// ErrNotFound is returned for a delivery or an endpoint the log does not
// hold for the tenant asking, including one that belongs to another tenant.
var ErrNotFound = errors.New("deliverylog: not found")

// ErrBadCursor is returned for a page cursor this package did not issue.
var ErrBadCursor = errors.New("deliverylog: invalid cursor")

// Disabler turns an endpoint off; the registry implements it.
type Disabler interface {
	Disable(ctx context.Context, id, reason string) error
}

// Config configures an Indexer. Zero values take the defaults named.
type Config struct {
	// Brokers is the Kafka bootstrap list; required.
	Brokers []string
	// Topic is the attempt-log topic. Default "hookline.attempts" (the
	// default layout's).
	Topic string
	// Group is the indexer's consumer group. Default "hookline-indexer".
	Group string
	// Membership tunes the group member (session and rebalance timeouts,
	// static id, protocol). Default: kafka.Group's defaults.
	Membership kafka.Group
	// Redis holds the views; required.
	Redis redis.UniversalClient
	// Prefix starts every key. Default "hookline:".
	Prefix string
	// Keep is how many deliveries are kept per endpoint, the most recently
	// active ones. Default 1000.
	Keep int
	// KeepAttempts is how many log entries are kept per delivery, the
	// newest. Default 50.
	KeepAttempts int
	// RecentCodes is how many status codes Health reports. Default 50.
	RecentCodes int
	// TTL is how long a delivery and an endpoint's views outlive their
	// last write. Default 7 days.
	TTL time.Duration
	// AutoDisableAfter is how long an endpoint may fail (no 2xx), from its
	// first failure to its newest, before the Disabler turns it off.
	// Default 5 days; negative: never.
	AutoDisableAfter time.Duration
	// Disabler is called once per failing stretch that passes
	// AutoDisableAfter. Nil: no auto-disable.
	Disabler Disabler
	// MaxBatch is the most records indexed per Redis round trip. Default 1000.
	MaxBatch int
	// Logger receives warnings (Redis away, unreadable records) and
	// auto-disables. Nil: silent.
	Logger *zap.Logger
	// ClientOpts are extra Kafka client options, applied last: the user's
	// TLS and SASL (kafka.Security.Opts), a test's dialer.
	ClientOpts []kgo.Opt
}

// Defaults of Config.
const (
	DefaultTopic            = topics.DefaultAttempts
	DefaultGroup            = "hookline-indexer"
	DefaultPrefix           = "hookline:"
	DefaultKeep             = 1000
	DefaultKeepAttempts     = 50
	DefaultRecentCodes      = 50
	DefaultTTL              = 7 * 24 * time.Hour
	DefaultAutoDisableAfter = 5 * 24 * time.Hour
	DefaultMaxBatch         = 1000
)

// ErrConfig marks a Config setting out of its bounds, or missing; the
// error is a *config.FieldError naming it.
var ErrConfig = errors.New("deliverylog config")

// Validate reports the first setting out of its bounds: a count or a TTL
// is 0 (its default) or more, and Membership is one the broker takes.
// NewIndexer calls it, and also requires Brokers and Redis.
func (c *Config) Validate() error {
	for _, n := range []struct {
		field string
		v     int
	}{{"Keep", c.Keep}, {"KeepAttempts", c.KeepAttempts}, {"RecentCodes", c.RecentCodes}, {"MaxBatch", c.MaxBatch}} {
		if n.v < 0 {
			return config.Errorf(ErrConfig, n.field, "want 0 (the default) or more, got %d", n.v)
		}
	}
	if c.TTL < 0 {
		return config.Errorf(ErrConfig, "TTL", "want 0 (the default, 7 days) or more, got %s", c.TTL)
	}
	return config.In(ErrConfig, "Membership", c.Membership.Validate())
}

func (c *Config) withDefaults() error {
	switch {
	case len(c.Brokers) == 0:
		return config.Errorf(ErrConfig, "Brokers", "required")
	case c.Redis == nil:
		return config.Errorf(ErrConfig, "Redis", "required")
	}
	if err := c.Validate(); err != nil {
		return err
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Topic, DefaultTopic)
	def(&c.Group, DefaultGroup)
	def(&c.Prefix, DefaultPrefix)
	defInt := func(n *int, v int) {
		if *n == 0 {
			*n = v
		}
	}
	defInt(&c.Keep, DefaultKeep)
	defInt(&c.KeepAttempts, DefaultKeepAttempts)
	defInt(&c.RecentCodes, DefaultRecentCodes)
	defInt(&c.MaxBatch, DefaultMaxBatch)
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	// EXPIRE takes whole seconds, and 0 would delete the key just written.
	c.TTL = max(c.TTL, time.Second)
	if c.AutoDisableAfter == 0 {
		c.AutoDisableAfter = DefaultAutoDisableAfter
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return nil
}
