package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/retry"
	"github.com/hookline/hookline/internal/topics"
	"github.com/twmb/franz-go/pkg/kadm"
)

// layoutFlags set the topic layout (kafka.Layout); `topics` creates it
// and `doctor` compares the cluster against it, so both read the same
// flags with the same defaults, the layout's.
type layoutFlags struct {
	brokers, topicPrefix, eventsTopic, retrySchedule string

	partitions, retryPartitions, attemptsPartitions, deadPartitions, invalidPartitions int
	replication                                                                        int

	eventsRetention, retryRetention, attemptsRetention, deadRetention, invalidRetention time.Duration

	kafka kafkaFlags
	fs    *flagSet // where they were registered
}

const day = 24 * time.Hour

func (f *layoutFlags) register(fs *flagSet) {
	f.fs = fs
	fs.StringVar(&f.brokers, "brokers", "127.0.0.1:9092", "Kafka bootstrap list, comma-separated")
	f.kafka.register(fs)
	fs.StringVar(&f.topicPrefix, "topic-prefix", topics.DefaultPrefix, "prefix of hookline's topics: <prefix>invalid, attempts, dead, registry, retry.<delay>, retry.now")
	fs.StringVar(&f.eventsTopic, "events-topic", topics.DefaultEvents, "events topic")
	fs.StringVar(&f.retrySchedule, "retry-schedule", retry.DefaultSchedule, "delays of the retry tiers, comma-separated (one topic each)")
	fs.IntVar(&f.partitions, "partitions", kafka.DefaultEventPartitions, "partitions of the events topic: the most dispatchers that share the work")
	fs.IntVar(&f.retryPartitions, "retry-partitions", kafka.DefaultTierPartitions, "partitions of each retry tier: the most retriers that share the work")
	fs.IntVar(&f.attemptsPartitions, "attempts-partitions", kafka.DefaultAttemptPartitions, "partitions of the attempt log: the most indexers that share the work")
	fs.IntVar(&f.deadPartitions, "dead-partitions", kafka.DefaultDeadPartitions, "partitions of the dead letters")
	fs.IntVar(&f.invalidPartitions, "invalid-partitions", kafka.DefaultInvalidPartitions, "partitions of the invalid-records topic")
	fs.IntVar(&f.replication, "replication-factor", 0, "replicas of every topic (0: 3, or fewer when the cluster has fewer brokers)")
	fs.DurationVar(&f.eventsRetention, "events-retention", kafka.DefaultEventRetention, "how long events are kept")
	fs.DurationVar(&f.retryRetention, "retry-retention", kafka.DefaultTierRetention, "how long retry-tier records are kept; at least twice the longest delay")
	fs.DurationVar(&f.attemptsRetention, "attempts-retention", 0, "how long the attempt log is kept; at least the retry horizon plus the replay window (0: that, rounded up to whole days)")
	fs.DurationVar(&f.deadRetention, "dead-retention", kafka.DefaultDeadRetention, "how long dead letters are kept (replayable); at least the replay window")
	fs.DurationVar(&f.invalidRetention, "invalid-retention", kafka.DefaultInvalidRetention, "how long invalid records are kept")
}

// layoutSettings names the flag behind each kafka.Layout field.
var layoutSettings = settings{
	"Prefix": "topic-prefix", "Events": "events-topic", "Delays": "retry-schedule",
	"EventPartitions": "partitions", "TierPartitions": "retry-partitions", "AttemptPartitions": "attempts-partitions",
	"DeadPartitions": "dead-partitions", "InvalidPartitions": "invalid-partitions", "ReplicationFactor": "replication-factor",
	"EventRetention": "events-retention", "TierRetention": "retry-retention", "AttemptRetention": "attempts-retention",
	"DeadRetention": "dead-retention", "InvalidRetention": "invalid-retention",
}

// layout maps the flags to the layout with rf replicas and returns its
// topics; the layout's bounds are reported as the flags'.
func (f *layoutFlags) layout(rf int16) ([]kafka.TopicSpec, error) {
	// The flags whose 0 the layout would read as its default.
	if err := f.fs.refuseZero("topic-prefix", "partitions", "retry-partitions", "attempts-partitions", "dead-partitions", "invalid-partitions",
		"events-retention", "retry-retention", "dead-retention", "invalid-retention"); err != nil {
		return nil, err
	}
	if _, err := retry.ParseDelays(f.retrySchedule); err != nil {
		return nil, badFlag("retry-schedule", "%v", err)
	}
	l := f.names()
	l.EventPartitions, l.TierPartitions, l.AttemptPartitions = f.partitions, f.retryPartitions, f.attemptsPartitions
	l.DeadPartitions, l.InvalidPartitions, l.ReplicationFactor = f.deadPartitions, f.invalidPartitions, int(rf)
	l.EventRetention, l.TierRetention, l.AttemptRetention = f.eventsRetention, f.retryRetention, f.attemptsRetention
	l.DeadRetention, l.InvalidRetention = f.deadRetention, f.invalidRetention
	if f.replication != 0 {
		// The flag's own value, so its bounds are reported as the flag's
		// even before the cluster is asked.
		l.ReplicationFactor = f.replication
	}
	specs, err := l.Specs()
	if err != nil {
		return nil, layoutSettings.flagError(err)
	}
	return specs, nil
}

// names is the layout as far as the flags name topics: the prefix, the
// events topic and the schedule (an unreadable one, which layout
// refuses, names the default tiers).
func (f *layoutFlags) names() kafka.Layout {
	delays, _ := retry.ParseDelays(f.retrySchedule)
	return kafka.Layout{Prefix: f.topicPrefix, Events: f.eventsTopic, Delays: delays}
}

// replicationFactor is --replication-factor, or 3 capped at the number
// of brokers in the cluster.
func (f *layoutFlags) replicationFactor(ctx context.Context, adm *kadm.Client) (int16, error) {
	if f.replication > 0 {
		return int16(f.replication), nil
	}
	md, err := adm.BrokerMetadata(ctx)
	if err != nil {
		return 0, fmt.Errorf("list brokers: %w", err)
	}
	return int16(min(3, max(1, len(md.Brokers)))), nil
}

// fmtRetention shows a retention in days or hours where it divides.
func fmtRetention(d time.Duration) string {
	switch {
	case d < 0:
		return "forever"
	case d == 0:
		return "compacted"
	case d%day == 0:
		return fmt.Sprintf("%dd", d/day)
	case d >= day:
		return fmt.Sprintf("%dd%s", d/day, d%day)
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}

// retentionOf reads retention.ms; ok is false when the broker did not say.
func retentionOf(cfg map[string]string) (time.Duration, bool) {
	v, ok := cfg["retention.ms"]
	if !ok {
		return 0, false
	}
	ms, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, false
	}
	if ms < 0 {
		return -1, true
	}
	return time.Duration(ms) * time.Millisecond, true
}
