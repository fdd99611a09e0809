package examples

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/netip"
	"testing"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/applications"
	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/registry"
	"github.com/hookline/hookline/internal/retry"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
	"github.com/hookline/hookline/retrier"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// tiers are the deployment's retry tiers in these tests. Endpoints give
// shortened schedules of 1 s waits, which the 1 s tier holds; the
// products' own schedules (minutes and hours) wait in the 1m tier, past
// every test's end.
var tiers = []time.Duration{time.Second, 4 * time.Second, time.Minute}

// deployment is one hookline deployment on a backend: a registry holding
// every application of this directory, one dispatcher and one retrier
// reading it, and a producer per application publishing with that
// application's catalog, as a product's services would. Each test that
// deploys runs in parallel with the others: they mostly wait, on retry
// tiers, batch timers and slow receivers.
type deployment struct {
	b      testbackend.Backend
	name   string
	store  *registry.Store
	topics kafka.Topics
	apps   map[string]*applications.Application
	prods  map[string]*producer.Producer
}

func deploy(t *testing.T, b testbackend.Backend) *deployment {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := &deployment{b: b, name: testbackend.UniqueName(t), prods: map[string]*producer.Producer{}}
	d.topics = kafka.Topics{Events: b.Topic(t, 2), Invalid: d.name + ".invalid", Attempts: d.name + ".attempts", Dead: d.name + ".dead"}.WithDefaults()
	policy := retry.Policy{Prefix: d.name + ".retry.", Delays: tiers}.WithDefaults()
	log := zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))

	kr, err := registry.ParseKeyring(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	d.store, err = registry.Open(ctx, registry.Config{Brokers: b.Brokers, Topic: d.name + ".registry", Keyring: kr,
		FetchMaxWait: 50 * time.Millisecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.store.Close)
	// What `hookline applications apply examples/applications/` writes.
	d.apps, _ = loadApplications(t)
	client := b.Client(t, kgo.ProducerLinger(2*time.Millisecond))
	for id, a := range d.apps {
		if _, _, err := d.store.PutApplication(ctx, a); err != nil {
			t.Fatalf("apply %s: %v", id, err)
		}
		cat, _ := a.Validate()
		p, err := producer.New(producer.Config{Client: client, Topic: d.topics.Events, Catalog: cat, RandomEventIDs: true})
		if err != nil {
			t.Fatal(err)
		}
		d.prods[id] = p
	}

	sender := delivery.SenderConfig{AllowHTTP: true, AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	disp, err := dispatcher.New(dispatcher.Config{Brokers: b.Brokers, Group: d.name + ".d", Topics: d.topics, Retry: policy,
		Endpoints: d.store, Applications: d.store, Redis: b.Redis, RedisPrefix: b.RedisPrefix, Sender: sender,
		CommitInterval: 100 * time.Millisecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	run(t, disp)
	ret, err := retrier.New(retrier.Config{Brokers: b.Brokers, Group: d.name + ".r", Topics: d.topics, Retry: policy,
		Endpoints: d.store, Redis: b.Redis, RedisPrefix: b.RedisPrefix, Sender: sender, CommitInterval: 100 * time.Millisecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	run(t, ret)
	for _, r := range []interface{ Ready(context.Context) error }{disp, ret} {
		for r.Ready(ctx) != nil {
			if ctx.Err() != nil {
				t.Fatalf("not ready after 30 s: %v", r.Ready(context.Background()))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return d
}

type runner interface {
	Run(context.Context) error
	Shutdown(context.Context) error
}

// run runs c until the test ends, then stops it gracefully.
func run(t *testing.T, c runner) {
	errc := make(chan error, 1)
	go func() { errc <- c.Run(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := c.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-errc; err != nil {
			t.Errorf("run: %v", err)
		}
	})
}

// endpoint registers a tenant's endpoint (its id made unique to the test,
// so each run has its own OAuth token) and returns it as the registry
// publishes it, its application's dialect attached.
func (d *deployment) endpoint(t *testing.T, ep *endpoints.Endpoint) *endpoints.Endpoint {
	t.Helper()
	ep.ID = d.name + "." + ep.ID
	if ep.TenantID == "" {
		ep.TenantID = "t-1"
	}
	got, err := d.store.Create(context.Background(), ep)
	if err != nil {
		t.Fatalf("create endpoint: %v", err)
	}
	return got
}

// publish publishes events one by one, each through its application's
// producer, and returns their eventIds.
func (d *deployment) publish(t *testing.T, evs ...producer.Event) []string {
	t.Helper()
	ids := make([]string, len(evs))
	for i, ev := range evs {
		res, err := d.prods[ev.Application].Publish(context.Background(), ev)
		if err != nil {
			t.Fatalf("publish %s %s: %v", ev.Application, ev.Type, err)
		}
		ids[i] = res.EventID
	}
	return ids
}

// publishAsync publishes many events without waiting for each, then
// waits for them all.
func (d *deployment) publishAsync(t *testing.T, evs []producer.Event) {
	t.Helper()
	errs := make(chan error, len(evs))
	for _, ev := range evs {
		d.prods[ev.Application].PublishAsync(context.Background(), ev, func(_ producer.Published, err error) { errs <- err })
	}
	for range evs {
		if err := <-errs; err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
}

// deadLetters waits for the dead letters of endpoint ep until n arrived
// or the timeout passed, and returns them.
func (d *deployment) deadLetters(t *testing.T, ep *endpoints.Endpoint, n int, timeout time.Duration) []*delivery.Delivery {
	t.Helper()
	c := d.b.Client(t, kgo.ConsumeTopics(d.topics.Dead), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*delivery.Delivery
	for len(out) < n {
		fs := c.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%d dead letters of %s after %s, want %d", len(out), ep.ID, timeout, n)
		}
		for _, r := range fs.Records() {
			del, err := delivery.FromRecord(r)
			if err != nil {
				t.Fatal(err)
			}
			if del.EndpointID == ep.ID {
				out = append(out, del)
			}
		}
	}
	return out
}
