// Package topics names hookline's Kafka topics: every name is a role
// under one prefix, so two deployments on one cluster differ by their
// prefix alone, and the name of any topic follows from the prefix (and,
// for the retry tiers, from the schedule).
//
// It is a leaf: the packages that default a topic name (retry, registry,
// deliverylog, the producer library) take it from here without pulling in
// a Kafka client. How each topic is created (partitions, retention,
// cleanup policy, replicas) is kafka.Layout's, built on these names.
package topics

// DefaultPrefix starts every topic name of the default layout.
const DefaultPrefix = "hookline."

// The role each name adds to the prefix.
const (
	events   = "events"
	invalid  = "invalid"
	attempts = "attempts"
	dead     = "dead"
	registry = "registry"
	// tiers starts the retry tiers' names; each ends with its delay.
	tiers = "retry."
)

// The names under DefaultPrefix, for the packages whose zero Config
// falls back to them.
const (
	DefaultEvents     = DefaultPrefix + events
	DefaultInvalid    = DefaultPrefix + invalid
	DefaultAttempts   = DefaultPrefix + attempts
	DefaultDead       = DefaultPrefix + dead
	DefaultRegistry   = DefaultPrefix + registry
	DefaultTierPrefix = DefaultPrefix + tiers
)

// Names are the topics of one deployment.
type Names struct {
	// Events is the topic domain services publish to.
	Events string
	// Invalid receives records that are not usable envelopes.
	Invalid string
	// Attempts is the attempt log.
	Attempts string
	// Dead receives deliveries that failed for good.
	Dead string
	// Registry holds endpoints, tenants and API keys (compacted).
	Registry string
	// TierPrefix starts each retry tier's name: <TierPrefix><delay>, e.g.
	// hookline.retry.1m0s.
	TierPrefix string
}

// For names every topic under prefix; "" is DefaultPrefix.
func For(prefix string) Names {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return Names{
		Events:     prefix + events,
		Invalid:    prefix + invalid,
		Attempts:   prefix + attempts,
		Dead:       prefix + dead,
		Registry:   prefix + registry,
		TierPrefix: prefix + tiers,
	}
}
