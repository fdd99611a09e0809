package deliverylog

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// WriterConfig configures a Writer.
type WriterConfig struct {
	// Brokers is the Kafka bootstrap list. Required.
	Brokers []string
	// Topic is the attempt-log topic. Required.
	Topic string
	// Linger is how long a record waits for others to share its produce
	// request. Default 20 ms (DefaultWriterLinger).
	Linger time.Duration
	// FlushTimeout bounds how long Close writes what is buffered. Default
	// 5 s: what a stop leaves unwritten only thins the log.
	FlushTimeout time.Duration
	// KafkaOpts are extra client options (TLS, SASL, ...).
	KafkaOpts []kgo.Opt
	// MaxBuffered is how many records may wait to be written; past it, new
	// ones are dropped (see Failed). Default 100,000.
	MaxBuffered int
	// Logger reports records that could not be written. Default nil: silent.
	Logger *zap.Logger
}

// DefaultWriterLinger is WriterConfig.Linger's default.
const DefaultWriterLinger = 20 * time.Millisecond

// Writer writes attempt-log records asynchronously, batched on a Kafka
// client of its own. The log is a view of outcomes, not one of them: no
// offset commit waits for it, so its records can linger to fill produce
// requests (at a thousand single-event deliveries a second, a 20 ms linger
// makes one request of twenty records where a 1 ms one makes twenty of
// one) without delaying the hand-offs to retry tiers and dead letters,
// which go on the member's client with its short linger.
type Writer struct {
	cl     *kgo.Client
	topic  string
	flush  time.Duration
	log    *zap.Logger
	failed atomic.Int64
}

// NewWriter connects a producer client for the attempt log.
func NewWriter(cfg WriterConfig) (*Writer, error) {
	if len(cfg.Brokers) == 0 || cfg.Topic == "" {
		return nil, fmt.Errorf("attempt log: brokers and topic are required")
	}
	if cfg.Linger <= 0 {
		cfg.Linger = DefaultWriterLinger
	}
	if cfg.MaxBuffered <= 0 {
		cfg.MaxBuffered = 100_000
	}
	if cfg.FlushTimeout <= 0 {
		cfg.FlushTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	opts := append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...), kgo.ProducerLinger(cfg.Linger), kgo.MaxBufferedRecords(cfg.MaxBuffered)}, kafka.ProducerOpts()...)
	cl, err := kgo.NewClient(append(opts, cfg.KafkaOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("attempt log client: %w", err)
	}
	return &Writer{cl: cl, topic: cfg.Topic, flush: cfg.FlushTimeout, log: cfg.Logger}, nil
}

// Attempt logs attempt a of d and its outcome. It does not wait.
func (w *Writer) Attempt(d *delivery.Delivery, a delivery.Attempt, o delivery.Outcome, reason string) {
	w.produce(AttemptRecord(w.topic, d, a, o, reason))
}

// Logged is an attempt whose outcome writes a record (to a retry tier or
// the dead letters). Its entry is written once that record has landed, so
// that it names where: Retry now reads the delivery from there rather
// than search the topics for it.
type Logged struct {
	Attempt delivery.Attempt
	Outcome delivery.Outcome
	Reason  string
}

// Landed logs l, an attempt of d, with where its record landed; nil
// landed: none did (a split, or a stop before the write landed), and the
// entry names no place. A nil l logs nothing: the write followed no
// attempt. It does not wait.
func (w *Writer) Landed(d *delivery.Delivery, l *Logged, landed *kgo.Record) {
	if l == nil {
		return
	}
	var at *Location
	if landed != nil {
		loc := LocationOf(landed)
		at = &loc
	}
	w.produce(attemptRecord(w.topic, d, l.Attempt, l.Outcome, l.Reason, at))
}

// Split logs that d became parts because of reason. It does not wait.
func (w *Writer) Split(d *delivery.Delivery, parts []*delivery.Delivery, reason string) {
	w.produce(SplitRecord(w.topic, d, parts, reason))
}

func (w *Writer) produce(r *kgo.Record) {
	// Never blocks: with Kafka away and the buffer full, a record is
	// dropped (counted, logged once) rather than hold a delivery up, or
	// hold up a stop that waits for deliveries before closing the log.
	// Not the caller's context: a record buffered when its work is
	// abandoned is still worth writing.
	w.cl.TryProduce(context.Background(), r, w.done)
}

func (w *Writer) done(r *kgo.Record, err error) {
	if err == nil {
		return
	}
	// Logged at the 1st, 2nd, 4th, 8th ... failure: an outage is seen
	// without a line per record.
	if n := w.failed.Add(1); n&(n-1) == 0 {
		w.log.Warn("attempt log records not written; the delivery log misses them",
			zap.String("topic", r.Topic), zap.Int64("so_far", n), zap.Error(err))
	}
}

// Failed is how many records could not be written, or were dropped
// because the buffer was full.
func (w *Writer) Failed() int64 { return w.failed.Load() }

// Close writes what is buffered, for at most the flush timeout, then
// closes the client.
func (w *Writer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), w.flush)
	defer cancel()
	if err := w.cl.Flush(ctx); err != nil {
		w.log.Warn("attempt log: stopped before every record was written", zap.Error(err))
	}
	w.cl.Close()
}
