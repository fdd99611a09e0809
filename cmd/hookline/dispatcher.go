package main

import (
	"context"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/catalog"
	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/topics"
	"go.uber.org/zap"
)

// dispatcherFlags are the dispatcher's own settings; dev registers them
// too.
type dispatcherFlags struct {
	group, eventsTopic     string
	maxBuffered            int64
	fetchPartitionBytes    int
	maxQueued, concurrency int
	markLinger             time.Duration
	maxEventBytes          int
	schemaDir              string
	// catalog is what check loaded from schemaDir.
	catalog *catalog.Catalog
	fs      *flagSet // where they were registered
}

// register adds the dispatcher's flags; in dev the events topic follows
// --topic-prefix unless given.
func (f *dispatcherFlags) register(fs *flagSet, r role) {
	f.fs = fs
	fs.StringVar(&f.group, "group", "hookline-dispatcher", "consumer group of the dispatchers")
	if r == asDev {
		fs.StringVar(&f.eventsTopic, "events-topic", "", "events topic (default <topic-prefix>events)")
	} else {
		fs.StringVar(&f.eventsTopic, "events-topic", topics.DefaultEvents, "events topic to consume")
	}
	fs.Int64Var(&f.maxBuffered, "max-buffered-bytes", dispatcher.DefaultMaxBufferedBytes, "event bytes held in batches and in flight before fetching waits")
	fs.IntVar(&f.fetchPartitionBytes, "fetch-partition-bytes", dispatcher.DefaultFetchMaxPartitionBytes, "bytes one fetch takes from one partition; smaller keeps decoding in step with sending")
	fs.IntVar(&f.maxQueued, "max-queued", 4, "sealed batches that may wait per endpoint (16 times as many single events on a single-event endpoint); past it, a slow or failing endpoint's batches go to the first retry tier")
	fs.IntVar(&f.concurrency, "concurrency", 1, "deliveries in flight per endpoint")
	fs.IntVar(&f.maxEventBytes, "max-event-bytes", dispatcher.DefaultMaxEventBytes, "largest event accepted from any producer; a larger record goes to the invalid-records topic with the reason")
	fs.StringVar(&f.schemaDir, "schema-dir", "", "directory of extra <type>.schema.json files: event types served besides the built-in catalog (a record of a type outside it goes to the invalid-records topic)")
	fs.DurationVar(&f.markLinger, "mark-linger", 0, "how long a settled delivery's Redis mark may wait for fast deliveries still in flight to share its round trip (0: never); eases Redis at up to this much per delivery")
}

// settings names the flag behind each dispatcher.Config field; the
// bounds are the dispatcher's.
func (f *dispatcherFlags) settings() settings {
	return sharedSettings.with(settings{
		"MaxBufferedBytes": "max-buffered-bytes", "FetchMaxPartitionBytes": "fetch-partition-bytes",
		"MaxQueuedPerEndpoint": "max-queued", "Concurrency": "concurrency", "MarkLinger": "mark-linger",
		"MaxEventBytes": "max-event-bytes", "Catalog": "schema-dir",
	})
}

// check refuses the flags the dispatcher's Config cannot tell from its
// defaults, and loads --schema-dir.
func (f *dispatcherFlags) check() error {
	if err := f.fs.refuseZero("max-buffered-bytes", "fetch-partition-bytes", "max-queued", "concurrency", "max-event-bytes"); err != nil {
		return err
	}
	cat, err := catalog.Load(f.schemaDir)
	if err != nil {
		return badFlag("schema-dir", "%v", err)
	}
	f.catalog = cat
	return nil
}

func parseDispatcher(fs *flagSet, args []string) (*sharedFlags, *dispatcherFlags, error) {
	var s sharedFlags
	var d dispatcherFlags
	s.register(fs, asDispatcher)
	d.register(fs, asDispatcher)
	return &s, &d, fs.parse(args)
}

func runDispatcher(ctx context.Context, args []string) error {
	fs := newFlagSet("dispatcher", "--brokers LIST --redis-url URL (--master-key KEYS | --endpoints FILE)")
	s, d, err := parseDispatcher(fs, args)
	if err != nil {
		return err
	}
	log, err := fs.logger()
	if err != nil {
		return err
	}
	defer log.Sync()
	if s.endpointsDryRun {
		return memberDryRun(ctx, s, log)
	}
	if err := s.kafka.connect(ctx, splitList(s.brokers), log); err != nil {
		return err
	}
	x, closeDeps, err := memberDeps(ctx, s, log)
	if err != nil {
		return err
	}
	defer closeDeps()
	m := x.metrics
	cfg, err := buildDispatcher(s, d, x)
	if err != nil {
		return err
	}
	tuneGC(cfg.MaxBufferedBytes, log)
	disp, err := dispatcher.New(cfg)
	if err != nil {
		return err
	}
	closeLag, err := watchLag(m, cfg.Brokers, s.kafka.opts)
	if err != nil {
		return err
	}
	defer closeLag()
	defer startOps(s.ops, m, disp.Ready, log).Stop()
	sup := supervisor(s.drain, log, "dispatcher: draining (up to %s)")
	sup.Start("dispatcher", disp)
	return sup.Wait(ctx)
}

// memberDeps connects what a dispatcher or retrier command runs against:
// Redis (its errors counted), the endpoint source, and the metrics.
func memberDeps(ctx context.Context, s *sharedFlags, log *zap.Logger) (deps, func(), error) {
	rdb, err := s.redis.client()
	if err != nil {
		return deps{}, nil, err
	}
	m := metrics.New()
	rdb.AddHook(m.RedisHook())
	eps, closeEps, err := endpointSource(ctx, s, splitList(s.brokers), log)
	if err != nil {
		rdb.Close()
		return deps{}, nil, err
	}
	return deps{endpoints: eps, redis: rdb, log: log, metrics: m}, func() { closeEps(); rdb.Close() }, nil
}
