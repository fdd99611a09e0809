package kafka

import (
	"errors"
	"time"

	"github.com/hookline/hookline/internal/config"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Group protocols a member can join with.
const (
	// ProtocolClassic is the JoinGroup/SyncGroup protocol: the members
	// agree on an assignment at a barrier, and the session and rebalance
	// timeouts are the member's own.
	ProtocolClassic = "classic"
	// ProtocolConsumer is KIP-848's: the broker assigns partitions through
	// heartbeats and no member waits for another. It needs Kafka 4.0 or
	// newer (4.3 recommended); a broker without it gets a classic join. The
	// broker's group.consumer.session.timeout.ms, not SessionTimeout,
	// decides when a dead member's partitions move.
	ProtocolConsumer = "consumer"
)

// DefaultSessionTimeout is Group.SessionTimeout when zero.
const DefaultSessionTimeout = 45 * time.Second

// Group is how a dispatcher or retrier takes part in its consumer group.
// The zero value is a dynamic member of a classic group with the defaults
// below.
type Group struct {
	// SessionTimeout is how long the broker waits for a member that has
	// gone silent before it drops it and hands its partitions on: the
	// stall a killed member costs its partitions. Default 45 s
	// (DefaultSessionTimeout).
	SessionTimeout time.Duration
	// RebalanceTimeout is how long a rebalance waits for every member to
	// rejoin, and then for every member to fetch its assignment, before it
	// goes on without the laggards. Default: half of SessionTimeout. A
	// member killed while its join was pending counts as joined and is
	// given partitions; only this timeout (or its session, if shorter)
	// takes them back, so it is paid on top of the session timeout when a
	// member dies during a rebalance. Kafka's clients default to 60 s
	// whatever the session timeout.
	RebalanceTimeout time.Duration
	// InstanceID makes the member static: a restart under the same id
	// within SessionTimeout takes its partitions back without a
	// rebalance. Default empty: dynamic.
	InstanceID string
	// Protocol is ProtocolClassic (the default) or ProtocolConsumer.
	Protocol string
}

// WithDefaults fills zero fields.
func (g Group) WithDefaults() Group {
	if g.SessionTimeout == 0 {
		g.SessionTimeout = DefaultSessionTimeout
	}
	if g.RebalanceTimeout == 0 {
		g.RebalanceTimeout = g.SessionTimeout / 2
	}
	if g.Protocol == "" {
		g.Protocol = ProtocolClassic
	}
	return g
}

// ErrGroup marks a Group setting the broker or the client would refuse;
// the error is a *config.FieldError naming it.
var ErrGroup = errors.New("group membership")

// Validate reports settings the broker or the client would refuse: a
// timeout under a second is shorter than the heartbeats that keep a
// member in its group.
func (g Group) Validate() error {
	g = g.WithDefaults()
	switch {
	case g.SessionTimeout < time.Second:
		return config.Errorf(ErrGroup, "SessionTimeout", "want at least 1s, got %s", g.SessionTimeout)
	case g.RebalanceTimeout < time.Second:
		return config.Errorf(ErrGroup, "RebalanceTimeout", "want at least 1s (or 0 for half SessionTimeout), got %s", g.RebalanceTimeout)
	case g.Protocol != ProtocolClassic && g.Protocol != ProtocolConsumer:
		return config.Errorf(ErrGroup, "Protocol", "want %q or %q, got %q", ProtocolClassic, ProtocolConsumer, g.Protocol)
	}
	return nil
}

// HeartbeatInterval is a tenth of the session timeout, within 500 ms and
// 3 s: a member learns that a rebalance began at its next heartbeat, so
// the interval adds to every stall, and the broker should see several
// heartbeats per session before it gives up on a member.
func (g Group) HeartbeatInterval() time.Duration {
	return min(max(g.WithDefaults().SessionTimeout/10, 500*time.Millisecond), 3*time.Second)
}

// RevokeTimeout is how long a member may spend finishing the work of
// partitions taken from it, so that it still rejoins within the rebalance
// timeout: the rebalance timeout less two heartbeats (one to learn of the
// rebalance, one of slack) and a second to commit, but at least half the
// rebalance timeout.
func (g Group) RevokeTimeout() time.Duration {
	g = g.WithDefaults()
	return max(g.RebalanceTimeout-2*g.HeartbeatInterval()-time.Second, g.RebalanceTimeout/2)
}

// Opts are the client options of a member.
func (g Group) Opts() []kgo.Opt {
	g = g.WithDefaults()
	opts := []kgo.Opt{
		kgo.SessionTimeout(g.SessionTimeout),
		kgo.RebalanceTimeout(g.RebalanceTimeout),
		kgo.HeartbeatInterval(g.HeartbeatInterval()),
		// franz-go's default, named because the consumer protocol needs a
		// sticky or range balancer first to be used at all.
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
	}
	if g.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(g.InstanceID))
	}
	if g.Protocol == ProtocolConsumer {
		opts = append(opts, kgo.ServerSideBalancer())
	}
	return opts
}
