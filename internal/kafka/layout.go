package kafka

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/config"
	"github.com/hookline/hookline/internal/retry"
	"github.com/hookline/hookline/internal/topics"
)

// Layout is every topic of one deployment: its name, under one prefix,
// and how it is created. `hookline topics create` lays a cluster out by
// it, `topics describe` and `doctor` compare a cluster with it, and every
// component, dev included, takes its topics' names from it, so a topic
// is named and sized in this one place. Zero values take the defaults
// named.
type Layout struct {
	// Prefix starts every topic's name: <Prefix>events, invalid,
	// attempts, dead, registry and retry.<delay>. Default "hookline."
	// (topics.DefaultPrefix).
	Prefix string
	// Events names the events topic, for services that publish elsewhere.
	// Default <Prefix>events.
	Events string
	// Delays is the retry schedule: one tier topic per delay, named
	// <Prefix>retry.<delay>; positive and rising (retry.CheckDelays).
	// Default 1m, 5m, 30m, 2h, 12h (retry.DefaultSchedule).
	Delays []time.Duration

	// EventPartitions of the events topic: the most dispatchers that
	// share the work. Default 12.
	EventPartitions int
	// TierPartitions of each retry tier: the most retriers that share
	// the work. Default 6.
	TierPartitions int
	// AttemptPartitions of the attempt log: the most indexers that share
	// the work. Default 6.
	AttemptPartitions int
	// DeadPartitions of the dead letters. Default 3.
	DeadPartitions int
	// InvalidPartitions of the invalid-records topic. Default 3.
	InvalidPartitions int
	// ReplicationFactor of every topic. Default 3: with acks=all and
	// min.insync.replicas 2, one broker may be down without stopping
	// writes or losing a record.
	ReplicationFactor int

	// EventRetention is how long events are kept. Default 7 days.
	EventRetention time.Duration
	// TierRetention is how long a retry tier keeps a record. Default 7
	// days; at least twice the tier's delay, so a record outlives its wait
	// with as long again for a backlog of retriers.
	TierRetention time.Duration
	// AttemptRetention is how long the attempt log is kept. Default: the
	// retry horizon plus the replay window, rounded up to whole days; at
	// least that horizon plus window, so a delivery's history is whole for
	// as long as it may be attempted or replayed.
	AttemptRetention time.Duration
	// DeadRetention is how long dead letters are kept. Default 14 days;
	// at least the replay window, for as long as they may be replayed.
	DeadRetention time.Duration
	// InvalidRetention is how long invalid records are kept. Default 14
	// days.
	InvalidRetention time.Duration
}

// Defaults of a Layout.
const (
	DefaultEventPartitions   = 12
	DefaultTierPartitions    = 6
	DefaultAttemptPartitions = 6
	DefaultDeadPartitions    = 3
	DefaultInvalidPartitions = 3
	DefaultReplicationFactor = 3
	DefaultEventRetention    = 7 * day
	DefaultTierRetention     = 7 * day
	DefaultDeadRetention     = 14 * day
	DefaultInvalidRetention  = 14 * day
)

// Bounds of a Layout. More partitions or replicas than these are a typo
// more likely than a plan; a retention under an hour would lose records
// to a routine restart of the group reading them.
const (
	MaxPartitions        = 10000
	MaxReplicationFactor = 32
	MinRetention         = time.Hour
)

const day = 24 * time.Hour

// ErrLayout marks a Layout setting out of its bounds; the error is a
// *config.FieldError naming it.
var ErrLayout = errors.New("topic layout")

// withDefaults fills what is unset.
func (l Layout) withDefaults() Layout {
	l = l.withNames()
	for _, d := range []struct {
		n *int
		v int
	}{{&l.EventPartitions, DefaultEventPartitions}, {&l.TierPartitions, DefaultTierPartitions},
		{&l.AttemptPartitions, DefaultAttemptPartitions}, {&l.DeadPartitions, DefaultDeadPartitions},
		{&l.InvalidPartitions, DefaultInvalidPartitions}, {&l.ReplicationFactor, DefaultReplicationFactor}} {
		if *d.n == 0 {
			*d.n = d.v
		}
	}
	for _, d := range []struct {
		t *time.Duration
		v time.Duration
	}{{&l.EventRetention, DefaultEventRetention}, {&l.TierRetention, DefaultTierRetention},
		{&l.DeadRetention, DefaultDeadRetention}, {&l.InvalidRetention, DefaultInvalidRetention}} {
		if *d.t == 0 {
			*d.t = d.v
		}
	}
	if l.AttemptRetention == 0 {
		keep := l.Retry().DoneTTL()
		l.AttemptRetention = (keep + day - 1) / day * day
	}
	return l
}

// Validate reports the first setting out of its bounds. It needs no
// cluster, so a command can call it before it connects.
func (l Layout) Validate() error {
	if len(l.Delays) > 0 {
		if err := retry.CheckDelays(l.Delays); err != nil {
			return config.Errorf(ErrLayout, "Delays", "%v", err)
		}
	}
	l = l.withDefaults()
	for _, p := range []struct {
		field string
		n     int
	}{{"EventPartitions", l.EventPartitions}, {"TierPartitions", l.TierPartitions}, {"AttemptPartitions", l.AttemptPartitions},
		{"DeadPartitions", l.DeadPartitions}, {"InvalidPartitions", l.InvalidPartitions}} {
		if p.n < 1 || p.n > MaxPartitions {
			return config.Errorf(ErrLayout, p.field, "want 1-%d, got %d", MaxPartitions, p.n)
		}
	}
	if l.ReplicationFactor < 1 || l.ReplicationFactor > MaxReplicationFactor {
		return config.Errorf(ErrLayout, "ReplicationFactor", "want 1-%d (or 0 for the default), got %d", MaxReplicationFactor, l.ReplicationFactor)
	}
	policy := l.Retry()
	longest := policy.Delay(policy.Tiers() - 1)
	keep := policy.DoneTTL()
	switch {
	case l.EventRetention < MinRetention:
		return config.Errorf(ErrLayout, "EventRetention", "want at least %s, got %s", short(MinRetention), l.EventRetention)
	case l.TierRetention < 2*longest:
		return config.Errorf(ErrLayout, "TierRetention", "want at least twice the longest retry delay (%s), got %s", 2*longest, l.TierRetention)
	case l.AttemptRetention < keep:
		return config.Errorf(ErrLayout, "AttemptRetention", "want at least the retry horizon plus the replay window (%s), got %s", keep, l.AttemptRetention)
	case l.DeadRetention < policy.ReplayWindow:
		return config.Errorf(ErrLayout, "DeadRetention", "want at least the replay window (%s), got %s", policy.ReplayWindow, l.DeadRetention)
	case l.InvalidRetention < MinRetention:
		return config.Errorf(ErrLayout, "InvalidRetention", "want at least %s, got %s", short(MinRetention), l.InvalidRetention)
	}
	return nil
}

// short writes d without its zero minutes and seconds, as a flag takes
// it: "1h", not "1h0m0s".
func short(d time.Duration) string {
	return strings.TrimSuffix(strings.TrimSuffix(d.String(), "0s"), "0m")
}

// Topics names the topics the dispatcher and the retrier read and write,
// other than the tiers (Retry) and the registry (Registry).
func (l Layout) Topics() Topics {
	l = l.withNames()
	n := topics.For(l.Prefix)
	return Topics{Events: l.Events, Invalid: n.Invalid, Attempts: n.Attempts, Dead: n.Dead}
}

// Registry names the registry topic.
func (l Layout) Registry() string { return topics.For(l.withNames().Prefix).Registry }

// Retry is the retry policy: the schedule, with its tiers named after
// the prefix.
func (l Layout) Retry() retry.Policy {
	l = l.withNames()
	return retry.Policy{Delays: l.Delays, Prefix: topics.For(l.Prefix).TierPrefix}.WithDefaults()
}

// withNames fills the settings the names depend on: a layout whose sizes
// are out of bounds still names its topics.
func (l Layout) withNames() Layout {
	if l.Prefix == "" {
		l.Prefix = topics.DefaultPrefix
	}
	if l.Events == "" {
		l.Events = topics.For(l.Prefix).Events
	}
	if len(l.Delays) == 0 {
		l.Delays = retry.DefaultDelays()
	}
	return l
}

// TopicSpec is one topic as hookline wants it.
type TopicSpec struct {
	Name string
	// Role says what the topic is for, in the words of `topics describe`
	// and `doctor`: "events", "retry tier 1m0s", "registry", ...
	Role       string
	Partitions int32
	// ExactPartitions: any other count is wrong (the registry's log must
	// order every change), not merely fewer consumers.
	ExactPartitions bool
	RF              int16
	// Retention is retention.ms; 0: compacted, kept until replaced.
	Retention time.Duration
	// MinRetention is the least retention that loses nothing hookline
	// still needs.
	MinRetention time.Duration
	// Configs are the topic configs it is created with.
	Configs map[string]string
}

// Specs is every topic of the layout, in the order `topics describe`
// shows them: events, the tiers, dead letters, attempt log, invalid
// records, registry.
func (l Layout) Specs() ([]TopicSpec, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	l = l.withDefaults()
	policy := l.Retry()
	t := l.Topics()
	rf := int16(l.ReplicationFactor)
	spec := func(name, role string, parts int, ret, least time.Duration) TopicSpec {
		return TopicSpec{Name: name, Role: role, Partitions: int32(parts), RF: rf, Retention: ret, MinRetention: least}
	}
	out := []TopicSpec{spec(t.Events, "events", l.EventPartitions, l.EventRetention, MinRetention)}
	for i, name := range policy.Topics() {
		out = append(out, spec(name, "retry tier "+policy.Delay(i).String(), l.TierPartitions, l.TierRetention, 2*policy.Delay(i)))
	}
	// The Retry-now lane is read by the retriers as the tiers are, and its
	// records are due when written: what keeps a first-tier record waiting
	// keeps them.
	out = append(out, spec(policy.Lane(), "Retry-now lane", l.TierPartitions, l.TierRetention, 2*policy.Delay(0)))
	out = append(out,
		spec(t.Dead, "dead letters", l.DeadPartitions, l.DeadRetention, policy.ReplayWindow),
		spec(t.Attempts, "attempt log", l.AttemptPartitions, l.AttemptRetention, policy.DoneTTL()),
		spec(t.Invalid, "invalid records", l.InvalidPartitions, l.InvalidRetention, MinRetention),
		TopicSpec{Name: l.Registry(), Role: "registry", Partitions: 1, ExactPartitions: true, RF: rf,
			// Every process replays the registry at start: shorter
			// segments let compaction keep that replay short.
			Configs: map[string]string{"cleanup.policy": "compact", "segment.ms": strconv.FormatInt(day.Milliseconds(), 10)}},
	)
	for i := range out {
		s := &out[i]
		if s.Configs == nil {
			s.Configs = map[string]string{"cleanup.policy": "delete", "retention.ms": strconv.FormatInt(s.Retention.Milliseconds(), 10)}
		}
		s.Configs["max.message.bytes"] = strconv.Itoa(MaxMessageBytes)
		if rf >= 3 {
			// With acks=all, two copies are written before a write counts,
			// and one broker may be down without stopping writes.
			s.Configs["min.insync.replicas"] = "2"
		}
	}
	return out, nil
}
