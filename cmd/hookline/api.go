package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/hookline/hookline/internal/api"
	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/deliverylog"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/lifecycle"
	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/registry"
	"github.com/hookline/hookline/internal/replay"
	"github.com/hookline/hookline/internal/retry"
	"github.com/hookline/hookline/producer"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// apiFlags are the API command's own settings; dev registers them too.
type apiFlags struct {
	listen, operatorKey string
	index               bool
	autoDisable         time.Duration
	rate, ingestRate    float64
	burst, ingestBurst  int
}

func (f *apiFlags) register(fs *flagSet, r role) {
	if r == asDev {
		fs.StringVar(&f.listen, "api-addr", "127.0.0.1:8080", "address of the management API and web page (port 0: any free port)")
	} else {
		fs.StringVar(&f.listen, "listen", api.DefaultAddr, "address of the management API")
		fs.StringVar(&f.operatorKey, "operator-key", "", "key that may create tenants and their API keys (prefer HOOKLINE_OPERATOR_KEY); empty: no one may")
		fs.BoolVar(&f.index, "index", true, "also index the attempt log into Redis for the deliveries and health views (group hookline-indexer)")
	}
	fs.DurationVar(&f.autoDisable, "auto-disable-after", deliverylog.DefaultAutoDisableAfter, "disable an endpoint that has failed (no 2xx) this long; 0: never")
	fs.Float64Var(&f.rate, "rate-limit", api.DefaultRatePerSecond, "requests per second each API key may make (every route, POST /v1/events too unless --ingest-rate-limit is set); beyond it the API answers 429 with Retry-After; 0: the default; negative: no limit")
	fs.IntVar(&f.burst, "rate-burst", 0, "requests a key may make at once before --rate-limit paces it (default 0: twice --rate-limit, at least 1)")
	fs.Float64Var(&f.ingestRate, "ingest-rate-limit", 0, "events per second each API key may post to POST /v1/events, a budget apart from --rate-limit (default 0: events count against --rate-limit; negative: no limit)")
	fs.IntVar(&f.ingestBurst, "ingest-rate-burst", 0, "events a key may post at once before --ingest-rate-limit paces it (default 0: twice --ingest-rate-limit, at least 1)")
}

// apiSettings names the flag behind each api.Config setting the command
// sets from one.
var apiSettings = settings{
	"RatePerSecond": "rate-limit", "RateBurst": "rate-burst",
	"IngestRatePerSecond": "ingest-rate-limit", "IngestRateBurst": "ingest-rate-burst",
}

// limits sets cfg's per-key rates from the flags and checks them by the
// API's rules, naming the flag at fault.
func (f *apiFlags) limits(cfg *api.Config) error {
	cfg.RatePerSecond, cfg.RateBurst = f.rate, f.burst
	cfg.IngestRatePerSecond, cfg.IngestRateBurst = f.ingestRate, f.ingestBurst
	return apiSettings.flagError(cfg.Validate())
}

// check refuses bad API settings before anything is started.
func (f *apiFlags) check() error {
	if f.autoDisable < 0 {
		return badFlag("auto-disable-after", "want 0 (never) or a duration, got %s", f.autoDisable)
	}
	return f.limits(&api.Config{})
}

// manager is the management side of hookline: the API, the delivery-log
// indexer behind its views, and what its routes write through.
type manager struct {
	srv     *api.Server
	indexer *deliverylog.Indexer // nil when not indexing
	prod    *producer.Producer
}

// buildManager wires the API over the registry st and Redis rdb.
func buildManager(s *sharedFlags, a *apiFlags, brokers []string, st *registry.Store, rdb redis.UniversalClient, log *zap.Logger) (*manager, error) {
	policy, sender, err := s.common(log)
	if err != nil {
		return nil, err
	}
	if err := a.check(); err != nil {
		return nil, err
	}
	sec, err := s.kafka.security()
	if err != nil {
		return nil, err
	}
	topics := s.topics("")
	m := &manager{}
	if m.prod, err = producer.New(producer.Config{Brokers: brokers, Security: sec, Topic: topics.Events, Logger: log, Applications: st}); err != nil {
		return nil, err
	}
	if a.index {
		auto := a.autoDisable
		if auto == 0 {
			auto = -1 // the indexer's "never"
		}
		m.indexer, err = deliverylog.NewIndexer(deliverylog.Config{Brokers: brokers, Topic: topics.Attempts, Membership: s.member,
			Redis: rdb, AutoDisableAfter: auto, Disabler: st, Logger: log, ClientOpts: s.kafka.opts})
		if err != nil {
			return nil, err
		}
	}
	deliveries := deliverylog.NewReader(rdb, "")
	jobs := &replay.Jobs{Replayer: &replay.Replayer{Brokers: brokers, Topics: topics, Retry: policy, Log: deliveries, KafkaOpts: s.kafka.opts}, Redis: rdb, Logger: log}
	cfg := api.Config{
		Addr: a.listen, Registry: st, Deliveries: deliveries, Publisher: m.prod, Replayer: jobs,
		Pinger: delivery.NewSender(sender), OperatorKey: a.operatorKey,
		AllowHTTP: sender.AllowHTTP, AllowNetworks: sender.AllowNetworks, Logger: log,
		Defaults: defaultDialect(sender, policy),
	}
	if err := a.limits(&cfg); err != nil {
		return nil, err
	}
	if m.srv, err = api.New(cfg); err != nil {
		return nil, err
	}
	return m, nil
}

// start runs the API, the indexer and the producer under sup, which
// stops them in that order: the API stops taking requests first, and the
// producer flushes what they published once none is left in flight.
func (m *manager) start(sup *lifecycle.Supervisor) {
	sup.Start("api", m.srv)
	if m.indexer != nil {
		sup.Start("indexer", m.indexer)
	}
	sup.Start("producer", lifecycle.Closer(m.prod.Close))
}

// parseAPI reads and checks the api command's flags.
func parseAPI(fs *flagSet, args []string) (*sharedFlags, *apiFlags, error) {
	var s sharedFlags
	var a apiFlags
	s.register(fs, asAPI)
	a.register(fs, asAPI)
	if err := fs.parse(args); err != nil {
		return nil, nil, err
	}
	return &s, &a, a.check()
}

func runAPI(ctx context.Context, args []string) error {
	fs := newFlagSet("api", "--brokers LIST --redis-url URL --master-key KEYS [--operator-key KEY]")
	s, a, err := parseAPI(fs, args)
	if err != nil {
		return err
	}
	log, err := fs.logger()
	if err != nil {
		return err
	}
	defer log.Sync()
	kr, err := s.registry.keyring()
	if err != nil {
		return err
	}
	if kr == nil {
		return badFlag("master-key", "required: the keyring sealing endpoint secrets in the registry")
	}
	if err := s.kafka.connect(ctx, splitList(s.brokers), log); err != nil {
		return err
	}
	if s.endpointsDryRun {
		return endpointsDryRun(ctx, os.Stdout, s.endpoints, splitList(s.brokers), s.topicPrefix, kr, log, s.kafka.opts...)
	}
	if err := s.ops.check(); err != nil {
		return err
	}
	rdb, err := s.redis.client()
	if err != nil {
		return err
	}
	defer rdb.Close()
	met := metrics.New()
	rdb.AddHook(met.RedisHook())
	brokers := splitList(s.brokers)
	st, err := openRegistry(ctx, brokers, s.topicPrefix, kr, s.endpoints, log, s.kafka.opts...)
	if err != nil {
		return err
	}
	defer st.Close()
	m, err := buildManager(s, a, brokers, st, rdb, log)
	if err != nil {
		return err
	}
	closeLag, err := watchLag(met, brokers, s.kafka.opts, deliverylog.DefaultGroup)
	if err != nil {
		return err
	}
	defer closeLag()
	defer startOps(s.ops, met, redisReady(rdb), log).Stop()
	if err := m.srv.Listen(); err != nil {
		return err
	}
	sup := supervisor(s.drain, log, "api: draining (up to %s)")
	m.start(sup)
	fmt.Printf("api: http://%s\n", m.srv.Addr())
	return sup.Wait(ctx)
}

// redisReady is the API's readiness: its registry is caught up once it
// is open, so what remains is Redis, behind every delivery-log view.
func redisReady(rdb redis.UniversalClient) readyFunc {
	return func(ctx context.Context) error {
		if err := rdb.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("redis unreachable: %w", err)
		}
		return nil
	}
}

// defaultDialect is the default application's dialect as the pipeline's
// flags make it: the header prefix, the User-Agent and the retry tiers.
func defaultDialect(sender delivery.SenderConfig, policy retry.Policy) endpoints.Dialect {
	d := endpoints.Dialect{HeaderPrefix: sender.Prefix, UserAgent: sender.UserAgent}
	for _, w := range policy.WithDefaults().Delays {
		d.RetrySchedule = append(d.RetrySchedule, endpoints.Duration(w))
	}
	return d
}
