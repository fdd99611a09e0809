package main

import (
	"math"
	"net/netip"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/retry"
	"github.com/hookline/hookline/internal/topics"
	"github.com/hookline/hookline/retrier"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// role is the command registering flags: the same setting can differ in
// default and wording between them, and dev brings its own broker.
type role int

const (
	asDispatcher role = iota
	asRetrier
	asDev
	asAPI
)

// sharedFlags are the settings the dispatcher and the retrier both need;
// each command registers them once, so `dev` cannot configure its two
// halves apart where they must agree (topics, tiers, signing).
type sharedFlags struct {
	brokers, endpoints         string
	redis                      redisFlags
	endpointsDryRun            bool
	drain                      time.Duration
	topicPrefix, retrySchedule string
	member                     kafka.Group
	prefix, userAgent          string
	allowHTTP                  bool
	allowNetworks              string
	maxRetryAfter              time.Duration
	queueWait                  time.Duration
	registry                   registryFlags
	ops                        opsFlags
	kafka                      kafkaFlags // not in dev: its broker is its own
	fs                         *flagSet   // where they were registered
}

// sharedSettings names the flags behind the settings every pipeline
// command shares: the sender's, the group membership's and the queue
// wait.
var sharedSettings = settings{
	"QueueWait": "queue-wait", "Prefix": "header-prefix", "MaxRetryAfter": "max-retry-after",
	"SessionTimeout": "session-timeout", "RebalanceTimeout": "rebalance-timeout", "Protocol": "group-protocol",
}

func (f *sharedFlags) register(fs *flagSet, r role) {
	f.fs = fs
	dev := r == asDev
	if !dev {
		fs.StringVar(&f.brokers, "brokers", "127.0.0.1:9092", "Kafka bootstrap list, comma-separated")
		f.kafka.register(fs)
	}
	// The registry is made to match the file at every start.
	epUsage := "JSON file of endpoints ({\"endpoints\": [...]}); at start the registry is made to match it: what it lists is created or updated (secrets and every field), what it listed before and no longer does is deleted, endpoints created through the API are left alone"
	switch r {
	case asDispatcher, asRetrier:
		epUsage += ". Without --master-key, the fixed set of endpoints used, no registry involved"
	case asDev:
		epUsage += " (--demo's among them)"
	}
	fs.StringVar(&f.endpoints, "endpoints", "", epUsage)
	fs.BoolVar(&f.endpointsDryRun, "endpoints-dry-run", false, "print what --endpoints would create, update and delete in the registry, then exit without writing or starting")
	f.registry.register(fs)
	f.ops.register(fs)
	switch r {
	case asDispatcher:
		f.redis.register(fs, "redis://127.0.0.1:6379/0", "Redis holding settle state")
		fs.DurationVar(&f.drain, "shutdown-timeout", 30*time.Second, "on SIGTERM/Ctrl-C, how long to wait for deliveries in flight")
	case asRetrier:
		f.redis.register(fs, "redis://127.0.0.1:6379/0", "Redis holding leases and done marks")
		fs.DurationVar(&f.drain, "shutdown-timeout", 30*time.Second, "on SIGTERM/Ctrl-C, how long to wait for attempts in flight")
	case asAPI:
		f.redis.register(fs, "redis://127.0.0.1:6379/0", "Redis holding the delivery log views and replay jobs")
		fs.DurationVar(&f.drain, "shutdown-timeout", 30*time.Second, "on SIGTERM/Ctrl-C, how long to wait for requests in flight")
	case asDev:
		f.redis.register(fs, "", "use this Redis instead of the in-process one (kept in <data-dir>/redis.json)")
		fs.DurationVar(&f.drain, "shutdown-timeout", 15*time.Second, "on Ctrl-C, how long to wait for deliveries in flight")
	}
	fs.StringVar(&f.topicPrefix, "topic-prefix", topics.DefaultPrefix, "prefix of the topics written: <prefix>invalid, attempts, dead, retry.<delay>, retry.now")
	fs.StringVar(&f.retrySchedule, "retry-schedule", retry.DefaultSchedule, "delays of the retry tiers, comma-separated")
	fs.DurationVar(&f.member.SessionTimeout, "session-timeout", kafka.DefaultSessionTimeout, "consumer-group session timeout: how soon a dead member's partitions move (classic protocol)")
	fs.DurationVar(&f.member.RebalanceTimeout, "rebalance-timeout", 0, "how long a rebalance waits for members to rejoin before it goes on without them (0: half the session timeout)")
	fs.StringVar(&f.member.InstanceID, "instance-id", "", "static group membership id (e.g. the pod name): a restart keeps its partitions without a rebalance")
	fs.StringVar(&f.member.Protocol, "group-protocol", kafka.ProtocolClassic, "consumer-group protocol: classic, or consumer (KIP-848, Kafka 4+; the broker's group.consumer.session.timeout.ms then replaces --session-timeout)")
	fs.StringVar(&f.prefix, "header-prefix", "X-Hookline", "prefix of the signature headers (X-<Prefix>-Signature, ...)")
	fs.StringVar(&f.userAgent, "user-agent", delivery.DefaultUserAgent, "User-Agent of deliveries")
	fs.BoolVar(&f.allowHTTP, "allow-http", dev, "allow plain http:// endpoints (https only when false)")
	nets := ""
	if dev {
		nets = "127.0.0.0/8,::1/128"
	}
	fs.StringVar(&f.allowNetworks, "allow-networks", nets, "private/loopback CIDRs endpoints may resolve to, comma-separated (none by default outside dev)")
	if r != asAPI {
		fs.DurationVar(&f.queueWait, "queue-wait", dispatcher.DefaultQueueWait, "longest a busy endpoint's full queue (dispatcher) or its slots (retrier) may hold up the events behind it; an endpoint slower than that has its overflow deferred to a retry tier, unattempted")
	}
	fs.DurationVar(&f.maxRetryAfter, "max-retry-after", delivery.DefaultMaxRetryAfter, "longest Retry-After an endpoint may ask for; a longer one waits this long (logged once per endpoint)")
}

// policy reads --retry-schedule; the tiers are named after the topic prefix.
func (f *sharedFlags) policy() (retry.Policy, error) {
	return retryPolicy(f.retrySchedule, f.topicPrefix)
}

// retryPolicy is the topic layout's retry policy for a schedule and a
// prefix; replay, which names the tiers but sends nothing, shares it.
func retryPolicy(schedule, topicPrefix string) (retry.Policy, error) {
	delays, err := retry.ParseDelays(schedule)
	if err != nil {
		return retry.Policy{}, badFlag("retry-schedule", "%v", err)
	}
	return kafka.Layout{Prefix: topicPrefix, Delays: delays}.Retry(), nil
}

// topics names every topic after --topic-prefix, by the topic layout;
// events, when given, is taken as it is.
func (f *sharedFlags) topics(events string) kafka.Topics {
	return kafka.Layout{Prefix: f.topicPrefix, Events: events}.Topics()
}

func (f *sharedFlags) sender(log *zap.Logger) (delivery.SenderConfig, error) {
	var nets []netip.Prefix
	for _, s := range splitList(f.allowNetworks) {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return delivery.SenderConfig{}, badFlag("allow-networks", "%q is not a CIDR: %v", s, err)
		}
		nets = append(nets, p)
	}
	cfg := delivery.SenderConfig{Prefix: f.prefix, UserAgent: f.userAgent, AllowHTTP: f.allowHTTP, AllowNetworks: nets,
		MaxRetryAfter: f.maxRetryAfter, Logger: log}
	if err := cfg.Validate(); err != nil {
		return delivery.SenderConfig{}, sharedSettings.flagError(err)
	}
	return cfg, nil
}

// common checks the shared flags and returns what both configs take from
// them.
func (f *sharedFlags) common(log *zap.Logger) (retry.Policy, delivery.SenderConfig, error) {
	// queue-wait is not an API flag; refuseZero passes over it there.
	if err := f.fs.refuseZero("topic-prefix", "queue-wait", "max-retry-after"); err != nil {
		return retry.Policy{}, delivery.SenderConfig{}, err
	}
	policy, err := f.policy()
	if err != nil {
		return retry.Policy{}, delivery.SenderConfig{}, err
	}
	sender, err := f.sender(log)
	if err != nil {
		return retry.Policy{}, delivery.SenderConfig{}, err
	}
	if err := f.member.Validate(); err != nil {
		return retry.Policy{}, delivery.SenderConfig{}, sharedSettings.flagError(err)
	}
	if err := f.ops.check(); err != nil {
		return retry.Policy{}, delivery.SenderConfig{}, err
	}
	if f.endpointsDryRun && f.endpoints == "" {
		return retry.Policy{}, delivery.SenderConfig{}, errDryRunNeedsFile
	}
	return policy, sender, nil
}

// deps are what a built config runs against. Zero, the build only checks
// the flags, which is how dev refuses bad ones before it starts Kafka.
type deps struct {
	brokers   []string // nil: --brokers
	endpoints endpoints.Registry
	redis     redis.Cmdable
	log       *zap.Logger
	metrics   *metrics.Metrics // nil: none
}

func (x deps) brokerList(s *sharedFlags) []string {
	if x.brokers != nil {
		return x.brokers
	}
	return splitList(s.brokers)
}

// buildDispatcher is the one place flags become a dispatcher.Config.
func buildDispatcher(s *sharedFlags, d *dispatcherFlags, x deps) (dispatcher.Config, error) {
	policy, sender, err := s.common(x.log)
	if err != nil {
		return dispatcher.Config{}, err
	}
	if err := d.check(); err != nil {
		return dispatcher.Config{}, err
	}
	sec, err := s.kafka.security()
	if err != nil {
		return dispatcher.Config{}, err
	}
	cfg := dispatcher.Config{
		Security:  sec,
		KafkaOpts: s.member.Opts(),
		// Work on revoked partitions must end in time to rejoin, or the
		// group waits for this member and then drops it.
		RevokeTimeout: min(s.member.RevokeTimeout(), 30*time.Second),
		Brokers:       x.brokerList(s), Group: d.group, Topics: s.topics(d.eventsTopic), Retry: policy,
		Endpoints: x.endpoints, Redis: x.redis, Logger: x.log, Sender: sender,
		MaxBufferedBytes: d.maxBuffered, MaxQueuedPerEndpoint: d.maxQueued, Concurrency: d.concurrency,
		MarkLinger: d.markLinger,
		QueueWait:  s.queueWait, MaxEventBytes: d.maxEventBytes, Catalog: d.catalog,
		FetchMaxPartitionBytes: int32(min(max(d.fetchPartitionBytes, math.MinInt32), math.MaxInt32)),
		Metrics:                x.dispatcherMetrics(d.group),
	}
	// The registry holds the applications' catalogs; a fixed set of
	// endpoints from a file has none.
	if apps, ok := x.endpoints.(dispatcher.Catalogs); ok {
		cfg.Applications = apps
	}
	if err := cfg.Validate(); err != nil {
		return dispatcher.Config{}, d.settings().flagError(err)
	}
	return cfg, nil
}

// buildRetrier is the one place flags become a retrier.Config.
func buildRetrier(s *sharedFlags, r *retrierFlags, x deps) (retrier.Config, error) {
	policy, sender, err := s.common(x.log)
	if err != nil {
		return retrier.Config{}, err
	}
	if err := r.check(); err != nil {
		return retrier.Config{}, err
	}
	sec, err := s.kafka.security()
	if err != nil {
		return retrier.Config{}, err
	}
	cfg := retrier.Config{
		Security:      sec,
		KafkaOpts:     s.member.Opts(),
		RevokeTimeout: min(s.member.RevokeTimeout(), 30*time.Second),
		Brokers:       x.brokerList(s), Group: r.group, Topics: s.topics(""), Retry: policy,
		Endpoints: x.endpoints, Redis: x.redis, Logger: x.log, Sender: sender,
		Concurrency: r.concurrency, EndpointConcurrency: r.endpointCon, QueueWait: s.queueWait,
		Metrics: x.retrierMetrics(r.group, policy),
	}
	if err := cfg.Validate(); err != nil {
		return retrier.Config{}, r.settings().flagError(err)
	}
	return cfg, nil
}

// dispatcherMetrics is the dispatcher's view of x.metrics; a nil
// interface, not a nil pointer in one, when there are none.
func (x deps) dispatcherMetrics(group string) dispatcher.Metrics {
	if x.metrics == nil {
		return nil
	}
	return x.metrics.Dispatcher(group)
}

func (x deps) retrierMetrics(group string, policy retry.Policy) retrier.Metrics {
	if x.metrics == nil {
		return nil
	}
	return x.metrics.Retrier(group, policy)
}
