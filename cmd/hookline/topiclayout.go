package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/retry"
	"github.com/twmb/franz-go/pkg/kadm"
)

// layoutFlags describe the topics hookline expects; `topics` creates them
// and `doctor` compares the cluster against them, so both read the same
// flags with the same defaults.
type layoutFlags struct {
	brokers, topicPrefix, eventsTopic, retrySchedule string

	partitions, retryPartitions, attemptsPartitions, deadPartitions, invalidPartitions int
	replication                                                                        int

	eventsRetention, retryRetention, attemptsRetention, deadRetention, invalidRetention time.Duration
}

// Layout defaults. The events topic's partitions bound how many
// dispatchers share the work; each retry tier's bound the retriers.
const (
	defaultEventPartitions = 12
	defaultTierPartitions  = 6
	day                    = 24 * time.Hour
)

func (f *layoutFlags) register(fs *flagSet) {
	fs.StringVar(&f.brokers, "brokers", "127.0.0.1:9092", "Kafka bootstrap list, comma-separated")
	fs.StringVar(&f.topicPrefix, "topic-prefix", "hookline.", "prefix of hookline's topics: <prefix>invalid, attempts, dead, registry, retry.<delay>, retry.now")
	fs.StringVar(&f.eventsTopic, "events-topic", "hookline.events", "events topic")
	fs.StringVar(&f.retrySchedule, "retry-schedule", "1m,5m,30m,2h,12h", "delays of the retry tiers, comma-separated (one topic each)")
	fs.IntVar(&f.partitions, "partitions", defaultEventPartitions, "partitions of the events topic: the most dispatchers that share the work")
	fs.IntVar(&f.retryPartitions, "retry-partitions", defaultTierPartitions, "partitions of each retry tier: the most retriers that share the work")
	fs.IntVar(&f.attemptsPartitions, "attempts-partitions", defaultTierPartitions, "partitions of the attempt log: the most indexers that share the work")
	fs.IntVar(&f.deadPartitions, "dead-partitions", 3, "partitions of the dead letters")
	fs.IntVar(&f.invalidPartitions, "invalid-partitions", 3, "partitions of the invalid-records topic")
	fs.IntVar(&f.replication, "replication-factor", 0, "replicas of every topic (0: 3, or fewer when the cluster has fewer brokers)")
	fs.DurationVar(&f.eventsRetention, "events-retention", 7*day, "how long events are kept")
	fs.DurationVar(&f.retryRetention, "retry-retention", 7*day, "how long retry-tier records are kept; at least twice the longest delay")
	fs.DurationVar(&f.attemptsRetention, "attempts-retention", 0, "how long the attempt log is kept; at least the retry horizon plus the replay window (0: that, rounded up to whole days)")
	fs.DurationVar(&f.deadRetention, "dead-retention", 14*day, "how long dead letters are kept (replayable); at least the replay window")
	fs.DurationVar(&f.invalidRetention, "invalid-retention", 14*day, "how long invalid records are kept")
}

// topicSpec is one topic as hookline wants it.
type topicSpec struct {
	Name, Role string
	Partitions int32
	// ExactPartitions: any other count is wrong (the registry's log must
	// order every change), not merely fewer consumers.
	ExactPartitions bool
	RF              int16
	Retention       time.Duration // 0: compacted, kept until replaced
	// MinRetention is the least retention that loses nothing hookline
	// still needs.
	MinRetention time.Duration
	Configs      map[string]string
}

// layout checks the flags and returns every topic, with rf replicas.
func (f *layoutFlags) layout(rf int16) ([]topicSpec, error) {
	policy, err := retryPolicy(f.retrySchedule, f.topicPrefix)
	if err != nil {
		return nil, err
	}
	for _, p := range []struct {
		name string
		n    int
	}{{"partitions", f.partitions}, {"retry-partitions", f.retryPartitions}, {"attempts-partitions", f.attemptsPartitions},
		{"dead-partitions", f.deadPartitions}, {"invalid-partitions", f.invalidPartitions}} {
		if p.n < 1 || p.n > 10000 {
			return nil, badFlag(p.name, "want 1-10000, got %d", p.n)
		}
	}
	if f.replication < 0 || f.replication > 32 {
		return nil, badFlag("replication-factor", "want 1-32 (or 0 for the default), got %d", f.replication)
	}
	longest := policy.Delay(policy.Tiers() - 1)
	keep := policy.DoneTTL()
	attempts := f.attemptsRetention
	if attempts == 0 {
		attempts = (keep + day - 1) / day * day
	}
	switch {
	case f.eventsRetention < time.Hour:
		return nil, badFlag("events-retention", "want at least 1h, got %s", f.eventsRetention)
	case f.retryRetention < 2*longest:
		return nil, badFlag("retry-retention", "want at least twice the longest retry delay (%s), got %s", 2*longest, f.retryRetention)
	case attempts < keep:
		return nil, badFlag("attempts-retention", "want at least the retry horizon plus the replay window (%s), got %s", keep, attempts)
	case f.deadRetention < retry.DefaultReplayWindow:
		return nil, badFlag("dead-retention", "want at least the replay window (%s), got %s", retry.DefaultReplayWindow, f.deadRetention)
	case f.invalidRetention < time.Hour:
		return nil, badFlag("invalid-retention", "want at least 1h, got %s", f.invalidRetention)
	}
	t := withPrefix(kafka.Topics{Events: f.eventsTopic}, f.topicPrefix)
	spec := func(name, role string, parts int, ret, least time.Duration) topicSpec {
		return topicSpec{Name: name, Role: role, Partitions: int32(parts), RF: rf, Retention: ret, MinRetention: least}
	}
	out := []topicSpec{spec(t.Events, "events", f.partitions, f.eventsRetention, time.Hour)}
	for i, name := range policy.Topics() {
		out = append(out, spec(name, "retry tier "+policy.Delay(i).String(), f.retryPartitions, f.retryRetention, 2*policy.Delay(i)))
	}
	// The Retry-now lane is read by the retriers as the tiers are, and its
	// records are due when written: what keeps a first-tier record waiting
	// keeps them.
	out = append(out, spec(policy.Lane(), "Retry-now lane", f.retryPartitions, f.retryRetention, 2*policy.Delay(0)))
	out = append(out,
		spec(t.Dead, "dead letters", f.deadPartitions, f.deadRetention, retry.DefaultReplayWindow),
		spec(t.Attempts, "attempt log", f.attemptsPartitions, attempts, keep),
		spec(t.Invalid, "invalid records", f.invalidPartitions, f.invalidRetention, time.Hour),
		topicSpec{Name: registryTopic(f.topicPrefix), Role: "registry", Partitions: 1, ExactPartitions: true, RF: rf,
			// Every process replays the registry at start: shorter
			// segments let compaction keep that replay short.
			Configs: map[string]string{"cleanup.policy": "compact", "segment.ms": strconv.FormatInt(day.Milliseconds(), 10)}},
	)
	for i := range out {
		s := &out[i]
		if s.Configs == nil {
			s.Configs = map[string]string{"cleanup.policy": "delete", "retention.ms": strconv.FormatInt(s.Retention.Milliseconds(), 10)}
		}
		s.Configs["max.message.bytes"] = strconv.Itoa(kafka.MaxMessageBytes)
		if rf >= 3 {
			// With acks=all, two copies are written before a write counts,
			// and one broker may be down without stopping writes.
			s.Configs["min.insync.replicas"] = "2"
		}
	}
	return out, nil
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
