package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/deliverylog"
	"github.com/hookline/hookline/internal/demo"
	"github.com/hookline/hookline/internal/dev"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/retry"
	"github.com/hookline/hookline/retrier"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

type devConfig struct {
	shared     sharedFlags
	disp       dispatcherFlags
	ret        retrierFlags
	api        apiFlags
	dataDir    string
	kafkaPort  int
	partitions int
	demo       bool
	demoRate   float64
	topics     kafka.Topics
	retry      retry.Policy
	// ready, when set, is told where everything is once the pipeline runs.
	ready func(devReady)
}

// devReady is what a running dev stack tells its caller.
type devReady struct {
	Kafka, API  string // broker address, API base URL
	Tenant, Key string // a tenant and one of its API keys
	Redis       redis.UniversalClient
	// Demo is the demo's producer and receivers (nil without --demo).
	Demo *devDemo
}

func runDev(ctx context.Context, args []string) error {
	fs := newFlagSet("dev", "[--demo]")
	c, err := parseDev(fs, args)
	if err != nil {
		return err
	}
	log, err := fs.logger()
	if err != nil {
		return err
	}
	defer log.Sync()
	return devStack(ctx, c, log)
}

// parseDev reads the dev flags into a config whose topics all follow
// --topic-prefix and --retry-schedule.
func parseDev(fs *flagSet, args []string) (devConfig, error) {
	var c devConfig
	fs.StringVar(&c.dataDir, "data-dir", ".hookline/dev", "where the embedded Kafka and the in-process Redis keep their data across restarts (Redis saved every 5s and on Ctrl-C: after a crash, deliveries done in its last seconds may be sent again)")
	fs.IntVar(&c.kafkaPort, "kafka-port", 9092, "port of the embedded Kafka on 127.0.0.1 (0: any free port)")
	fs.IntVar(&c.partitions, "partitions", 6, "partitions of each topic created")
	fs.BoolVar(&c.demo, "demo", false, "also run a demo producer and a demo receiver that verifies every signature")
	fs.Float64Var(&c.demoRate, "demo-rate", 20, "demo events per second")
	c.shared.register(fs, asDev)
	c.disp.register(fs, asDev)
	c.ret.register(fs, asDev)
	c.api.register(fs, asDev)
	c.api.index = true
	if err := fs.parse(args); err != nil {
		return c, err
	}
	switch {
	case c.kafkaPort < 0 || c.kafkaPort > 65535:
		return c, badFlag("kafka-port", "want 0-65535, got %d", c.kafkaPort)
	case c.partitions < 1 || c.partitions > 1000:
		return c, badFlag("partitions", "want 1-1000, got %d", c.partitions)
	case c.demoRate <= 0 || c.demoRate > 100000:
		return c, badFlag("demo-rate", "want (0, 100000], got %v", c.demoRate)
	}
	// Checked now rather than after Kafka and Redis are up.
	if err := c.api.check(); err != nil {
		return c, err
	}
	if _, err := buildDispatcher(&c.shared, &c.disp, deps{}); err != nil {
		return c, err
	}
	if _, err := buildRetrier(&c.shared, &c.ret, deps{}); err != nil {
		return c, err
	}
	// The tiers created must be the ones retried, and every topic must
	// follow the prefix.
	policy, err := c.shared.policy()
	if err != nil {
		return c, err
	}
	c.retry = policy
	c.topics = c.shared.topics(c.disp.eventsTopic)
	return c, nil
}

func devStack(ctx context.Context, c devConfig, log *zap.Logger) error {
	kdir := filepath.Join(c.dataDir, "kafka")
	emb, err := dev.StartKafka(kdir, c.kafkaPort, int32(c.partitions))
	if err != nil {
		return err
	}
	defer func() {
		emb.Close() // persists to the data dir
		fmt.Fprintln(os.Stderr, "kafka: stopped; data kept in", kdir)
	}()
	fmt.Printf("kafka: %s (embedded; data in %s)\n", emb.Addr, kdir)
	if c.shared.endpointsDryRun {
		kr, err := devKeyring(c)
		if err != nil {
			return err
		}
		return endpointsDryRun(ctx, os.Stdout, c.shared.endpoints, []string{emb.Addr}, c.shared.topicPrefix, kr, log)
	}

	rdb, redisDesc, closeRedis, err := devRedis(&c.shared.redis, filepath.Join(c.dataDir, "redis.json"), log)
	if err != nil {
		return err
	}
	defer closeRedis()
	fmt.Printf("redis: %s\n", redisDesc)
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis %s: %w (is it running? omit --redis-url for the in-process one)", redisDesc, err)
	}

	admCl, err := kgo.NewClient(kgo.SeedBrokers(emb.Addr))
	if err != nil {
		return err
	}
	defer admCl.Close()
	if err := kafka.EnsureTopics(ctx, kadm.NewClient(admCl), int32(c.partitions), 1, append(c.topics.All(), append(c.retry.Topics(), c.retry.Lane())...)...); err != nil {
		return err
	}

	st, err := devRegistry(ctx, c, emb.Addr, log)
	if err != nil {
		return err
	}
	defer st.Close()
	// Stopped in the order started: the API and the demo producer stop
	// taking in work, then the dispatcher and the retrier drain (the demo
	// receiver serves until they have).
	sup := supervisor(c.shared.drain, log, "\nshutting down: draining deliveries (up to %s), committing, closing")
	fail := func(err error) error {
		_ = sup.Stop() // err is the cause; what the stop says adds nothing
		return err
	}
	api, err := startDevAPI(ctx, c, emb.Addr, st, rdb, log, sup)
	if err != nil {
		return fail(err)
	}
	var d *devDemo
	if c.demo {
		// The applications are registered before the producer starts:
		// their events are held to their catalogs from the first one.
		if d, err = startDemo(ctx, emb.Addr, c, api, st, log); err != nil {
			return fail(err)
		}
		defer d.srv.Close()
		sup.Start("demo", d)
		if err := d.createEndpoints(ctx, api.url, api.keys); err != nil {
			return fail(fmt.Errorf("demo: create its endpoints through the API: %w", err))
		}
		d.announce(c.demoRate)
	}
	met := metrics.New()
	rdb.AddHook(met.RedisHook())
	x := deps{brokers: []string{emb.Addr}, endpoints: st, redis: rdb, log: log, metrics: met}
	dcfg, err := buildDispatcher(&c.shared, &c.disp, x)
	if err != nil {
		return fail(err)
	}
	disp, err := dispatcher.New(dcfg)
	if err != nil {
		return fail(err)
	}
	rcfg, err := buildRetrier(&c.shared, &c.ret, x)
	if err != nil {
		return fail(err)
	}
	ret, err := retrier.New(rcfg)
	if err != nil {
		return fail(err)
	}
	closeLag, err := watchLag(met, []string{emb.Addr}, nil, deliverylog.DefaultGroup)
	if err != nil {
		return fail(err)
	}
	defer closeLag()
	ops := startOps(c.shared.ops, met, allReady(disp.Ready, ret.Ready), log)
	defer ops.Stop()
	if a := ops.Addr(); a != "" {
		fmt.Printf("ops: http://%s/metrics, /healthz, /readyz\n", a)
	}
	sup.Start("dispatcher", disp)
	sup.Start("retrier", ret)
	fmt.Printf("dispatcher: group %s, %d endpoints; retrier: group %s, tiers %v\n", dcfg.Group, countEndpoints(st), rcfg.Group, rcfg.Retry.Topics())
	fmt.Printf("ready: publish with `hookline produce --brokers %s --topic %s ...`, read with `hookline tail --brokers %s`; Ctrl-C stops\n", emb.Addr, c.topics.Events, emb.Addr)
	if c.ready != nil {
		c.ready(devReady{Kafka: emb.Addr, API: api.url, Tenant: demo.Tenants[0], Key: api.keys[demo.Tenants[0]], Redis: rdb, Demo: d})
	}
	if d != nil {
		// The progress line ends before the stop's first line.
		pctx, stopProgress := context.WithCancel(context.Background())
		progressed := make(chan struct{})
		go func() {
			defer close(progressed)
			d.progress(pctx, disp, ret)
		}()
		announce := sup.OnStop
		sup.OnStop = func() { stopProgress(); <-progressed; announce() }
	}
	return sup.Wait(ctx)
}
