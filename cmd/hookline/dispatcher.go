package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/idempotency"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/retry"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// dispatcherFlags are the settings shared by `dispatcher` and `dev`.
type dispatcherFlags struct {
	group, prefix, userAgent string
	allowHTTP                bool
	allowNetworks            string
	maxBuffered              int64
	fetchPartitionBytes      int
	maxQueued, concurrency   int
	retrySchedule            string
	member                   kafka.Group
	topicPrefix              string
	maxRetryAfter            time.Duration
}

func (f *dispatcherFlags) register(fs *flagSet, dev bool) {
	fs.StringVar(&f.group, "group", "hookline-dispatcher", "consumer group of the dispatchers")
	fs.StringVar(&f.prefix, "header-prefix", "X-Hookline", "prefix of the signature headers (X-<Prefix>-Signature, ...)")
	fs.StringVar(&f.userAgent, "user-agent", delivery.DefaultUserAgent, "User-Agent of deliveries")
	fs.BoolVar(&f.allowHTTP, "allow-http", dev, "allow plain http:// endpoints (https only when false)")
	def := ""
	if dev {
		def = "127.0.0.0/8,::1/128"
	}
	fs.StringVar(&f.allowNetworks, "allow-networks", def, "private/loopback CIDRs endpoints may resolve to, comma-separated (none by default outside dev)")
	fs.Int64Var(&f.maxBuffered, "max-buffered-bytes", dispatcher.DefaultMaxBufferedBytes, "event bytes held in batches and in flight before fetching waits")
	fs.IntVar(&f.fetchPartitionBytes, "fetch-partition-bytes", dispatcher.DefaultFetchMaxPartitionBytes, "bytes one fetch takes from one partition; smaller keeps decoding in step with sending")
	fs.IntVar(&f.maxQueued, "max-queued", 4, "sealed batches that may wait per endpoint; past it, a slow or failing endpoint's batches go to the first retry tier")
	fs.IntVar(&f.concurrency, "concurrency", 1, "deliveries in flight per endpoint")
	fs.StringVar(&f.retrySchedule, "retry-schedule", "1m,5m,30m,2h,12h", "delays of the retry tiers, comma-separated")
	fs.DurationVar(&f.maxRetryAfter, "max-retry-after", delivery.DefaultMaxRetryAfter, "longest Retry-After an endpoint may ask for; a longer one waits this long (logged once per endpoint)")
	fs.StringVar(&f.topicPrefix, "topic-prefix", "hookline.", "prefix of the topics written: <prefix>invalid, attempts, dead, retry.<delay>")
	fs.DurationVar(&f.member.SessionTimeout, "session-timeout", kafka.DefaultSessionTimeout, "consumer-group session timeout: how soon a dead member's partitions move (classic protocol)")
	fs.DurationVar(&f.member.RebalanceTimeout, "rebalance-timeout", 0, "how long a rebalance waits for members to rejoin before it goes on without them (0: half the session timeout)")
	fs.StringVar(&f.member.InstanceID, "instance-id", "", "static group membership id (e.g. the pod name): a restart keeps its partitions without a rebalance")
	fs.StringVar(&f.member.Protocol, "group-protocol", kafka.ProtocolClassic, "consumer-group protocol: classic, or consumer (KIP-848, Kafka 4+; the broker's group.consumer.session.timeout.ms then replaces --session-timeout)")
}

// groupFlags checks the membership flags and names the one at fault.
func (f *dispatcherFlags) groupFlags() error {
	g := f.member.WithDefaults()
	switch {
	case g.SessionTimeout < time.Second:
		return badFlag("session-timeout", "want at least 1s, got %s", g.SessionTimeout)
	case g.RebalanceTimeout < time.Second:
		return badFlag("rebalance-timeout", "want at least 1s (or 0 for half the session timeout), got %s", g.RebalanceTimeout)
	}
	if err := g.Validate(); err != nil {
		return badFlag("group-protocol", "%v", err)
	}
	return nil
}

func (f *dispatcherFlags) config(brokers []string, topics kafka.Topics, eps endpoints.Registry, rdb redis.Cmdable, log *zap.Logger) (dispatcher.Config, error) {
	var nets []netip.Prefix
	for _, s := range splitList(f.allowNetworks) {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return dispatcher.Config{}, badFlag("allow-networks", "%q is not a CIDR: %v", s, err)
		}
		nets = append(nets, p)
	}
	policy, err := retryPolicy(f.retrySchedule, f.topicPrefix)
	if err != nil {
		return dispatcher.Config{}, err
	}
	topics = withPrefix(topics, f.topicPrefix)
	switch {
	case f.maxBuffered < 1<<20:
		return dispatcher.Config{}, badFlag("max-buffered-bytes", "want at least 1 MiB, got %d", f.maxBuffered)
	case f.fetchPartitionBytes < 16<<10 || f.fetchPartitionBytes > 64<<20:
		return dispatcher.Config{}, badFlag("fetch-partition-bytes", "want 16 KiB to 64 MiB, got %d", f.fetchPartitionBytes)
	case f.maxRetryAfter < time.Second:
		return dispatcher.Config{}, badFlag("max-retry-after", "want at least 1s, got %s", f.maxRetryAfter)
	case f.maxQueued < 1:
		return dispatcher.Config{}, badFlag("max-queued", "want at least 1, got %d", f.maxQueued)
	case f.concurrency < 1 || f.concurrency > 64:
		return dispatcher.Config{}, badFlag("concurrency", "want 1-64, got %d", f.concurrency)
	case !strings.HasPrefix(strings.ToLower(f.prefix), "x-") && f.prefix != "":
		return dispatcher.Config{}, badFlag("header-prefix", "want a header prefix like X-Acme, got %q", f.prefix)
	}
	if err := f.groupFlags(); err != nil {
		return dispatcher.Config{}, err
	}
	return dispatcher.Config{
		KafkaOpts: f.member.Opts(),
		// Work on revoked partitions must end in time to rejoin, or the
		// group waits for this member and then drops it.
		RevokeTimeout: min(f.member.RevokeTimeout(), 30*time.Second),
		Brokers:       brokers, Group: f.group, Topics: topics, Retry: policy, Endpoints: eps, Redis: rdb, Logger: log,
		Sender: delivery.SenderConfig{Prefix: f.prefix, UserAgent: f.userAgent, AllowHTTP: f.allowHTTP, AllowNetworks: nets,
			MaxRetryAfter: f.maxRetryAfter, Logger: log},
		MaxBufferedBytes: f.maxBuffered, MaxQueuedPerEndpoint: f.maxQueued, Concurrency: f.concurrency,
		FetchMaxPartitionBytes: int32(f.fetchPartitionBytes),
	}, nil
}

// retryPolicy reads --retry-schedule; the tiers are named after the topic
// prefix.
func retryPolicy(schedule, topicPrefix string) (retry.Policy, error) {
	delays, err := retry.ParseDelays(schedule)
	if err != nil {
		return retry.Policy{}, badFlag("retry-schedule", "%v", err)
	}
	return retry.Policy{Delays: delays, Prefix: topicPrefix + "retry."}.WithDefaults(), nil
}

func runDispatcher(ctx context.Context, args []string) error {
	fs := newFlagSet("dispatcher", "--endpoints FILE --redis-url URL")
	brokers := fs.String("brokers", "127.0.0.1:9092", "Kafka bootstrap list, comma-separated")
	eventsTopic := fs.String("events-topic", "hookline.events", "events topic to consume")
	epFile := fs.String("endpoints", "", "JSON file of endpoints ({\"endpoints\": [...]})")
	redisURL := fs.String("redis-url", "redis://127.0.0.1:6379/0", "Redis holding settle state")
	drain := fs.Duration("shutdown-timeout", 30*time.Second, "on SIGTERM/Ctrl-C, how long to wait for deliveries in flight")
	var df dispatcherFlags
	df.register(fs, false)
	if err := fs.parse(args); err != nil {
		return err
	}
	log, err := fs.logger()
	if err != nil {
		return err
	}
	defer log.Sync()
	eps, rdb, err := loadEndpointsAndRedis(*epFile, *redisURL)
	if err != nil {
		return err
	}
	defer rdb.Close()
	cfg, err := df.config(splitList(*brokers), kafka.Topics{Events: *eventsTopic}, eps, rdb, log)
	if err != nil {
		return err
	}
	tuneGC(cfg.MaxBufferedBytes, log)
	d, err := dispatcher.New(cfg)
	if err != nil {
		return err
	}
	return runUntilSignal(ctx, d, *drain, "dispatcher")
}

// runner is a component with a Run / Shutdown lifecycle.
type runner interface {
	Run(ctx context.Context) error
	Shutdown(ctx context.Context) error
}

// runUntilSignal runs r; on ctx's end (SIGINT/SIGTERM) it drains r within
// timeout.
func runUntilSignal(ctx context.Context, r runner, timeout time.Duration, name string) error {
	errc := make(chan error, 1)
	go func() { errc <- r.Run(context.Background()) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintf(os.Stderr, "%s: draining (up to %s)\n", name, timeout)
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := r.Shutdown(sctx); err != nil {
		return fmt.Errorf("%s: drain incomplete: %w", name, err)
	}
	return <-errc
}

// withPrefix names the written topics after prefix where t leaves them empty.
func withPrefix(t kafka.Topics, prefix string) kafka.Topics {
	def := func(s *string, v string) {
		if *s == "" {
			*s = prefix + v
		}
	}
	def(&t.Invalid, "invalid")
	def(&t.Attempts, "attempts")
	def(&t.Dead, "dead")
	return t.WithDefaults()
}

// loadEndpointsAndRedis reads the endpoints file and connects to Redis, the
// two dependencies the dispatcher and retrier commands share.
func loadEndpointsAndRedis(epFile, redisURL string) (*endpoints.Set, *redis.Client, error) {
	if epFile == "" {
		return nil, nil, badFlag("endpoints", "required: a JSON file {\"endpoints\": [{\"id\", \"tenantId\", \"url\", \"secrets\"}]}")
	}
	eps, err := endpoints.LoadFile(epFile)
	if err != nil {
		return nil, nil, badFlag("endpoints", "%v", err)
	}
	opt, err := idempotency.ParseURL(redisURL)
	if err != nil {
		return nil, nil, badFlag("redis-url", "%v", err)
	}
	return eps, redis.NewClient(opt), nil
}
