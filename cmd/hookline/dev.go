package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/deliverylog"
	"github.com/hookline/hookline/internal/demo"
	"github.com/hookline/hookline/internal/dev"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/retry"
	"github.com/hookline/hookline/producer"
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

	rdb, redisDesc, closeRedis, err := devRedis(c.shared.redisURL, filepath.Join(c.dataDir, "redis.json"), log)
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
	apiURL, keys, err := startDevAPI(ctx, c, emb.Addr, st, rdb, log, sup)
	if err != nil {
		return fail(err)
	}
	var d *devDemo
	if c.demo {
		if d, err = startDemo(emb.Addr, c, log); err != nil {
			return fail(err)
		}
		defer d.srv.Close()
		sup.Start("demo", d)
		if err := d.createEndpoints(ctx, apiURL, keys); err != nil {
			return fail(fmt.Errorf("demo: create its endpoints through the API: %w", err))
		}
		fmt.Printf("demo: receiver at %s verifying signatures; producing %.0f events/s\n", d.url, c.demoRate)
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
		c.ready(devReady{Kafka: emb.Addr, API: apiURL, Tenant: demo.Tenants[0], Key: keys[demo.Tenants[0]], Redis: rdb})
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

// devDemo is the demo producer and receiver. As a component it is the
// producer: Run publishes demo events until Shutdown, which flushes them.
// The receiver serves until devStack returns, after the dispatcher and
// the retrier that post to it have stopped.
type devDemo struct {
	url      string
	recv     *demo.Receiver
	srv      *http.Server
	p        *producer.Producer
	rate     float64
	log      *zap.Logger
	produced atomic.Int64
	failed   atomic.Int64
	stopOnce sync.Once
	stop     chan struct{} // closed by Shutdown
	done     chan struct{} // closed when Run returns
}

// DemoSecret signs the demo endpoint's deliveries.
const demoSecret = "whsec_aG9va2xpbmUtZGVtby1zZWNyZXQtMDEyMzQ1Njc="

// startDemo starts the receiver and makes the producer; Run produces.
func startDemo(brokers string, c devConfig, log *zap.Logger) (*devDemo, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo receiver: %w", err)
	}
	d := &devDemo{recv: demo.NewReceiver([]byte(demoSecret), c.shared.prefix), rate: c.demoRate, log: log,
		stop: make(chan struct{}), done: make(chan struct{})}
	d.recv.FailEvery = 20
	d.url = "http://" + ln.Addr().String() + "/webhooks"
	d.srv = &http.Server{Handler: d.recv, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = d.srv.Serve(ln) }()

	d.p, err = producer.New(producer.Config{Brokers: []string{brokers}, Topic: c.topics.Events, Logger: log})
	if err != nil {
		_ = d.srv.Close()
		return nil, err
	}
	return d, nil
}

// Run publishes demo events at the demo rate until Shutdown, or until ctx
// ends (an abandon: the events not yet acknowledged may be lost).
func (d *devDemo) Run(ctx context.Context) error {
	defer close(d.done)
	gen := demo.NewGenerator(uint64(time.Now().UnixNano()))
	tick := time.NewTicker(time.Duration(float64(time.Second) / d.rate))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.stop:
			return nil
		case <-tick.C:
		}
		d.p.PublishAsync(ctx, gen.Next(), func(_ producer.Published, err error) {
			if err != nil {
				if !errors.Is(err, context.Canceled) {
					d.log.Warn("demo publish failed", zap.Error(err))
				}
				d.failed.Add(1)
				return
			}
			d.produced.Add(1)
		})
	}
}

// Shutdown stops publishing and flushes the events in flight within ctx.
func (d *devDemo) Shutdown(ctx context.Context) error {
	d.stopOnce.Do(func() { close(d.stop) })
	select {
	case <-d.done:
	case <-ctx.Done():
	}
	return d.p.Close(ctx)
}

// createEndpoints creates the demo's endpoints through the API, each
// checked by its test ping: per tenant one batching endpoint, and one
// single-event endpoint for task changes of the first tenant. Endpoints
// made by an earlier run (same names) are kept.
func (d *devDemo) createEndpoints(ctx context.Context, apiURL string, keys map[string]string) error {
	type ep struct {
		tenant string
		body   map[string]any
	}
	var eps []ep
	for _, t := range demo.Tenants {
		eps = append(eps, ep{t, map[string]any{"name": "demo batches", "url": d.url + "?tenant=" + t, "secret": demoSecret,
			"eventTypes": []string{"*"}, "maxItems": 100, "maxWait": "2s", "ignoreFields": []string{"updatedUtc"}}})
	}
	eps = append(eps, ep{demo.Tenants[0], map[string]any{"name": "demo task events", "url": d.url + "?single", "secret": demoSecret,
		"maxItems": 1, "eventTypes": []string{"task.*"}}})
	for _, e := range eps {
		cl := newAPIClient(apiURL, keys[e.tenant])
		err := cl.do(ctx, "POST", "/v1/endpoints", e.body, nil)
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusConflict {
			err = repoint(ctx, cl, e.body["name"].(string), e.body["url"].(string))
		}
		if err != nil {
			return fmt.Errorf("%s %q: %w", e.tenant, e.body["name"], err)
		}
	}
	return nil
}

// repoint points the endpoint an earlier run made at this run's receiver,
// which listens on a new port.
func repoint(ctx context.Context, cl *apiClient, name, url string) error {
	var page struct {
		Data []struct{ ID, Name, URL string }
	}
	if err := cl.do(ctx, "GET", "/v1/endpoints?limit=100", nil, &page); err != nil {
		return err
	}
	for _, e := range page.Data {
		if e.Name == name && e.URL != url {
			return cl.do(ctx, "PATCH", "/v1/endpoints/"+e.ID, map[string]any{"url": url, "active": true}, nil)
		}
	}
	return nil
}

// progress prints one summary line a second until ctx ends.
func (d *devDemo) progress(ctx context.Context, disp *dispatcher.Dispatcher, ret *retrier.Retrier) {
	tty := isTerminal(os.Stdout)
	every := time.Second
	if !tty {
		every = 5 * time.Second
	}
	kafka.Every(ctx, every, func(context.Context) {
		s, ds, rs := d.recv.Stats(), disp.Stats(), ret.Stats()
		// Deliveries in the retry tiers: handed in by the dispatcher, not
		// yet delivered, dead-lettered or found done by the retrier.
		retrying := max(ds.Retried+ds.Deferred-rs.Delivered-rs.Dead-rs.AlreadyDone, 0)
		line := fmt.Sprintf("produced %d · delivered %d events to endpoints in %d verified POSTs · retrying %d · dead %d · bad signatures %d",
			d.produced.Load(), s.Events, s.Verified, retrying, ds.Dead+rs.Dead, s.Rejected)
		if tty {
			fmt.Printf("\r\033[K%s", line)
		} else {
			fmt.Println(line)
		}
	})
}
