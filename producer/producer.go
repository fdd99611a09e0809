// Package producer is the library domain services use to publish change
// events to hookline. Publish validates each event against the event catalog,
// fills eventId and createdUtc when absent (an eventId is derived from the
// object and the write, so a publish retried after a timeout keeps its id;
// random ids only with Config.RandomEventIDs), strips tenant ids from inner
// objects, computes the changed fields of update events, and produces to the
// events topic with an idempotent, acks=all Kafka producer. Routing fields go
// into record headers so the dispatcher never parses JSON to route.
package producer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookline/hookline/internal/catalog"
	"github.com/hookline/hookline/internal/config"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/topics"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// DefaultTopic is the events topic when Config.Topic is empty: the
// default layout's.
const DefaultTopic = topics.DefaultEvents

// DefaultMaxEventBytes is the encoded-size limit when Config.MaxEventBytes is 0.
const DefaultMaxEventBytes = 256 << 10

// ErrConfig marks a Config setting out of its bounds, or missing; the
// error is a *ConfigError naming it.
var ErrConfig = errors.New("producer config")

// Catalogs finds a registered application's catalog; nil for an id no
// application has (its events are the default catalog's).
type Catalogs interface {
	Catalog(application string) *catalog.Catalog
}

// ConfigError is a Config setting out of its bounds: Field names it as
// Config spells it ("MaxEventBytes"), Reason says what was wanted.
type ConfigError = config.FieldError

// Security is how a Producer reaches brokers that want TLS or SASL:
// TLS with a CA bundle, a client certificate (mTLS) and a server name;
// SASL PLAIN, SCRAM-SHA-256/512 (password from a file or a value),
// OAUTHBEARER (token from a file) or AWS_MSK_IAM (the AWS SDK's default
// credentials). The zero value is plaintext. Its String never shows a
// secret.
type Security = kafka.Security

// Config configures a Producer. The zero value plus Brokers works.
type Config struct {
	// Brokers is the Kafka bootstrap list. Required unless Client is set.
	Brokers []string
	// Security is how the Producer's own client reaches the brokers.
	// Default: plaintext, no SASL. Not used with Client.
	Security Security
	// Client, when set, is used instead of dialing Brokers. It must be
	// configured with acks=all and idempotence (franz-go's default is
	// idempotent; add kgo.RequiredAcks(kgo.AllISRAcks())). The Producer does
	// not close it.
	Client *kgo.Client
	// Topic is the events topic. Default "hookline.events".
	Topic string
	// MaxEventBytes caps one encoded envelope. Default 256 KiB.
	MaxEventBytes int
	// SchemaDir adds or overrides event types with <type>.schema.json files.
	// Default "": the embedded catalog only.
	SchemaDir string
	// Catalog, when set, is used instead of loading one (SchemaDir ignored).
	Catalog *catalog.Catalog
	// Applications finds a registered application's catalog (a
	// *registry.Store follows them): an event naming one is held to it
	// instead of Catalog. Default nil: every event is held to Catalog.
	Applications Catalogs
	// Logger receives produce failures. Default nil: silent.
	Logger *zap.Logger
	// Now is the clock for createdUtc. Default time.Now.
	Now func() time.Time
	// VersionField is the field of data.<object> that identifies a write
	// when an event has neither EventID nor Version: its value becomes the
	// last part of the derived eventId. Default "updatedUtc".
	VersionField string
	// RandomEventIDs gives an event with neither EventID, Version nor a
	// VersionField value a random eventId ("task:<24 hex>"), so a publish
	// the caller retries arrives as a new event. Default false: the id is
	// derived from the event's type and data, the same on every retry.
	RandomEventIDs bool
}

// Producer publishes events. It is safe for concurrent use.
type Producer struct {
	client    *kgo.Client
	ownClient bool
	topic     string
	maxBytes  int
	cat       *catalog.Catalog
	apps      Catalogs
	log       *zap.Logger
	now       func() time.Time
	// versionField and random decide derived eventIds (eventid.go).
	versionField string
	random       bool
}

// New validates cfg, loads the catalog and connects.
func New(cfg Config) (*Producer, error) {
	p := &Producer{topic: cfg.Topic, maxBytes: cfg.MaxEventBytes, cat: cfg.Catalog, apps: cfg.Applications, log: cfg.Logger, now: cfg.Now,
		versionField: cfg.VersionField, random: cfg.RandomEventIDs}
	if p.versionField == "" {
		p.versionField = DefaultVersionField
	}
	if p.topic == "" {
		p.topic = DefaultTopic
	}
	if p.maxBytes == 0 {
		p.maxBytes = DefaultMaxEventBytes
	}
	if p.maxBytes < 0 {
		return nil, config.Errorf(ErrConfig, "MaxEventBytes", "want 0 (the default, 256 KiB) or more, got %d", p.maxBytes)
	}
	if p.log == nil {
		p.log = zap.NewNop()
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.cat == nil {
		cat, err := catalog.Load(cfg.SchemaDir)
		if err != nil {
			return nil, config.Errorf(ErrConfig, "SchemaDir", "%v", err)
		}
		p.cat = cat
	}
	p.client = cfg.Client
	if p.client == nil {
		if len(cfg.Brokers) == 0 {
			return nil, config.Errorf(ErrConfig, "Brokers", "required unless Client is set: give the Kafka bootstrap address (for `hookline dev`, 127.0.0.1:9092)")
		}
		sec, err := cfg.Security.Opts()
		if err != nil {
			return nil, config.In(ErrConfig, "Security", err)
		}
		c, err := kgo.NewClient(append([]kgo.Opt{
			kgo.SeedBrokers(cfg.Brokers...),
			kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.ProducerBatchMaxBytes(int32(max(p.maxBytes+4096, 1<<20))),
			kgo.ProducerLinger(2 * time.Millisecond),
			kgo.AllowAutoTopicCreation(),
		}, sec...)...)
		if err != nil {
			return nil, fmt.Errorf("producer: kafka client: %w", err)
		}
		p.client, p.ownClient = c, true
	}
	return p, nil
}

// Catalog returns the catalog events are validated against.
func (p *Producer) Catalog() *catalog.Catalog { return p.cat }

// Topic returns the events topic.
func (p *Producer) Topic() string { return p.topic }

// Published says where an event landed.
type Published struct {
	EventID   string
	Partition int32
	Offset    int64
}

// Publish validates and produces one event, returning once Kafka acknowledged
// it on all in-sync replicas. Bad input returns an error matching one of
// ErrUnknownType, ErrSchema, ErrTooLarge or ErrMissingTenant (errors.Is).
func (p *Producer) Publish(ctx context.Context, ev Event) (Published, error) {
	rec, id, err := p.record(&ev)
	if err != nil {
		return Published{}, err
	}
	res := p.client.ProduceSync(ctx, rec)
	r, err := res.First()
	if err != nil {
		return Published{EventID: id}, fmt.Errorf("produce event %s: %w", id, err)
	}
	return Published{EventID: id, Partition: r.Partition, Offset: r.Offset}, nil
}

// PublishAsync validates and enqueues one event; done is called exactly once,
// with the outcome, from the producer's goroutine (or at once for bad
// input). done must not block for long.
func (p *Producer) PublishAsync(ctx context.Context, ev Event, done func(Published, error)) {
	rec, id, err := p.record(&ev)
	if err != nil {
		done(Published{}, err)
		return
	}
	p.client.Produce(ctx, rec, func(r *kgo.Record, err error) {
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				p.log.Warn("produce failed", zap.String("eventId", id), zap.Error(err))
			}
			done(Published{EventID: id}, fmt.Errorf("produce event %s: %w", id, err))
			return
		}
		done(Published{EventID: id, Partition: r.Partition, Offset: r.Offset}, nil)
	})
}

// Flush waits until every enqueued event is acknowledged or failed.
func (p *Producer) Flush(ctx context.Context) error { return p.client.Flush(ctx) }

// Close flushes and, when the Producer dialed its own client, closes it.
func (p *Producer) Close(ctx context.Context) error {
	err := p.client.Flush(ctx)
	if p.ownClient {
		p.client.Close()
	}
	return err
}
