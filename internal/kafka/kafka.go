// Package kafka holds hookline's Kafka plumbing shared by every command: the
// topic names, topic creation, client options with the delivery guarantees
// hookline relies on (acks=all, idempotent writes), and the embedded broker
// of `hookline dev`.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Topics names hookline's topics. The zero value uses the defaults.
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
	// RetryPrefix names the retry tiers: <prefix><delay>, e.g.
	// hookline.retry.1m0s. Default "hookline.retry.".
	RetryPrefix string
	// Retry is the retry schedule, one topic per delay. Default 1m, 5m,
	// 30m, 2h, 12h.
	Retry []time.Duration
}

// DefaultRetrySchedule is the retry tiers' delays when Topics.Retry is empty.
var DefaultRetrySchedule = []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 12 * time.Hour}

// RetryTopic names the tier with the given delay.
func (t Topics) RetryTopic(delay time.Duration) string { return t.RetryPrefix + delay.String() }

// RetryTopics names every tier, in schedule order.
func (t Topics) RetryTopics() []string {
	out := make([]string, len(t.Retry))
	for i, d := range t.Retry {
		out[i] = t.RetryTopic(d)
	}
	return out
}

// WithDefaults fills empty names.
func (t Topics) WithDefaults() Topics {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&t.Events, "hookline.events")
	def(&t.Invalid, "hookline.invalid")
	def(&t.Attempts, "hookline.attempts")
	def(&t.Dead, "hookline.dead")
	def(&t.RetryPrefix, "hookline.retry.")
	if len(t.Retry) == 0 {
		t.Retry = DefaultRetrySchedule
	}
	return t
}

// All lists every topic name.
func (t Topics) All() []string {
	return append([]string{t.Events, t.Invalid, t.Attempts, t.Dead}, t.RetryTopics()...)
}

// ProducerOpts are the options every hookline writer uses: all in-sync
// replicas acknowledge, and the idempotent producer (franz-go's default)
// keeps retries from duplicating records.
func ProducerOpts() []kgo.Opt {
	return []kgo.Opt{kgo.RequiredAcks(kgo.AllISRAcks())}
}

// EnsureTopics creates the topics that do not exist yet, with partitions and
// replication factor rf (-1: the broker's default).
func EnsureTopics(ctx context.Context, adm *kadm.Client, partitions int32, rf int16, topics ...string) error {
	resp, err := adm.CreateTopics(ctx, partitions, rf, nil, topics...)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	for _, r := range resp.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", r.Topic, r.Err)
		}
	}
	return nil
}

// Embedded is the in-process broker of `hookline dev`.
type Embedded struct {
	*kfake.Cluster
	Addr string
}

// StartEmbedded starts an in-process Kafka on 127.0.0.1:port that persists
// under dir, so a restart keeps topics, records and committed offsets.
// Port 0 picks a free port.
func StartEmbedded(dir string, port int, partitions int32) (*Embedded, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("embedded kafka: data dir: %w", err)
	}
	if port != 0 {
		// kfake would fail later with a less helpful message.
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			return nil, fmt.Errorf("embedded kafka: port %d is taken (another Kafka or hookline dev?); pick another with --kafka-port: %w", port, err)
		}
		_ = l.Close()
	}
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.DataDir(filepath.Clean(dir)),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(int(partitions)),
		kfake.BrokerConfigs(map[string]string{"group.consumer.heartbeat.interval.ms": "500"}),
	)
	if err != nil {
		return nil, fmt.Errorf("embedded kafka: %w", err)
	}
	return &Embedded{Cluster: c, Addr: c.ListenAddrs()[0]}, nil
}
