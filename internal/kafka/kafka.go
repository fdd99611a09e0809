// Package kafka holds hookline's Kafka plumbing shared by every command: the
// topic layout (every topic's name and spec, Layout), topic creation,
// client options with the delivery guarantees hookline relies on (acks=all,
// idempotent writes) and group membership settings. The embedded broker of
// `hookline dev` is in internal/dev, which no production package imports.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hookline/hookline/internal/topics"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Topics names the topics a dispatcher or retrier reads and writes, other
// than the retry tiers (named by retry.Policy). Layout.Topics gives them
// for a prefix; the zero value uses the default layout's.
type Topics struct {
	// Events is the topic domain services publish to. Default "hookline.events".
	Events string
	// Invalid receives records that are not usable envelopes, with the
	// reason in a header. Default "hookline.invalid".
	Invalid string
	// Attempts is the attempt log. Default "hookline.attempts".
	Attempts string
	// Dead receives deliveries that failed permanently. Default "hookline.dead".
	Dead string
}

// WithDefaults fills empty names with the default layout's.
func (t Topics) WithDefaults() Topics {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&t.Events, topics.DefaultEvents)
	def(&t.Invalid, topics.DefaultInvalid)
	def(&t.Attempts, topics.DefaultAttempts)
	def(&t.Dead, topics.DefaultDead)
	return t
}

// All lists every name.
func (t Topics) All() []string { return []string{t.Events, t.Invalid, t.Attempts, t.Dead} }

// MaxMessageBytes is the max.message.bytes hookline gives the topics it
// creates, and the largest produce batch its writers build: a sealed
// delivery (up to MaxDeliveryBytes of body plus its headers) always fits a
// retry tier or the dead letters. Brokers default to 1 MiB, less than an
// endpoint's default batch of 5 MiB.
const MaxMessageBytes = 8 << 20

// MaxDeliveryBytes is the largest delivery body the topics accept, leaving
// MaxMessageBytes room for the record's headers and the batch framing. An
// endpoint's maxBytes may not exceed it.
const MaxDeliveryBytes = MaxMessageBytes - 64<<10

// ProducerOpts are the options every hookline writer uses: all in-sync
// replicas acknowledge, the idempotent producer (franz-go's default) keeps
// retries from duplicating records, and a batch may be as large as a topic
// accepts.
func ProducerOpts() []kgo.Opt {
	return []kgo.Opt{kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchMaxBytes(MaxMessageBytes)}
}

// EnsureTopics creates the topics that do not exist yet, with partitions and
// replication factor rf (-1: the broker's default) and max.message.bytes of
// MaxMessageBytes, and raises max.message.bytes on existing ones that accept
// less, so that no delivery hookline builds is refused as too large.
func EnsureTopics(ctx context.Context, adm *kadm.Client, partitions int32, rf int16, topics ...string) error {
	limit := strconv.Itoa(MaxMessageBytes)
	resp, err := adm.CreateTopics(ctx, partitions, rf, map[string]*string{"max.message.bytes": &limit}, topics...)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	var existing []string
	for _, r := range resp.Sorted() {
		switch {
		case errors.Is(r.Err, kerr.TopicAlreadyExists):
			existing = append(existing, r.Topic)
		case r.Err != nil:
			return fmt.Errorf("create topic %s: %w", r.Topic, r.Err)
		}
	}
	if len(existing) == 0 {
		return nil
	}
	return raiseMessageLimit(ctx, adm, existing)
}

// raiseMessageLimit sets max.message.bytes to MaxMessageBytes on the topics
// whose limit is lower.
func raiseMessageLimit(ctx context.Context, adm *kadm.Client, topics []string) error {
	var cfgs kadm.ResourceConfigs
	// A topic another member has just created may not be described yet.
	for wait := 100 * time.Millisecond; ; wait *= 2 {
		var err error
		cfgs, err = adm.DescribeTopicConfigs(ctx, topics...)
		if err == nil {
			for _, rc := range cfgs {
				if rc.Err != nil {
					err = fmt.Errorf("describe topic %s: %w", rc.Name, rc.Err)
					break
				}
			}
		}
		if err == nil {
			break
		}
		if !errors.Is(err, kerr.UnknownTopicOrPartition) || wait > 5*time.Second {
			return fmt.Errorf("describe topic configs: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("describe topic configs: %w", err)
		case <-time.After(wait):
		}
	}
	limit := strconv.Itoa(MaxMessageBytes)
	var low []string
	for _, rc := range cfgs {
		for _, c := range rc.Configs {
			if c.Key != "max.message.bytes" || c.Value == nil {
				continue
			}
			if n, err := strconv.Atoi(*c.Value); err == nil && n < MaxMessageBytes {
				low = append(low, rc.Name)
			}
		}
	}
	if len(low) == 0 {
		return nil
	}
	alter := []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: &limit}}
	out, err := adm.AlterTopicConfigs(ctx, alter, low...)
	if err != nil {
		return fmt.Errorf("raise max.message.bytes of %v: %w", low, err)
	}
	for _, r := range out {
		if r.Err != nil {
			return fmt.Errorf("raise max.message.bytes of %s to %s: %w (grant AlterConfigs, or set it yourself)", r.Name, limit, r.Err)
		}
	}
	return nil
}
