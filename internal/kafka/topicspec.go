package kafka

import (
	"strconv"
	"time"
)

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
