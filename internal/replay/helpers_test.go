package replay_test

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/deliverylog"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/replay"
	"github.com/hookline/hookline/internal/retry"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
	"github.com/hookline/hookline/retrier"
)

const secret = "whsec-replay-secret-0123456789"

// shortSchedule is the retry schedule of the tests where the tiers' delays
// are not the point.
var shortSchedule = []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}

// rig is the pipeline a replay acts on, on one backend with topics of its
// own, each of one partition: a dispatcher, a retrier and the attempt-log
// indexer, and the Replayer and Jobs the API would be given.
type rig struct {
	b      testbackend.Backend
	topics kafka.Topics
	tiers  retry.Policy
	prod   *producer.Producer
	ret    *retrier.Retrier
	log    *deliverylog.Reader
	rp     *replay.Replayer
	jobs   *replay.Jobs
}

// newRig starts the pipeline with the retry schedule delays (nil: the
// default one) for eps.
func newRig(t *testing.T, b testbackend.Backend, delays []time.Duration, eps ...*endpoints.Endpoint) *rig {
	t.Helper()
	name := testbackend.UniqueName(t)
	r := &rig{b: b, topics: kafka.Topics{Events: name + ".events", Invalid: name + ".invalid", Attempts: name + ".attempts", Dead: name + ".dead"}.WithDefaults(),
		tiers: retry.Policy{Prefix: name + ".retry.", Delays: delays}.WithDefaults()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	all := append(r.topics.All(), append(r.tiers.Topics(), r.tiers.Lane())...)
	if err := kafka.EnsureTopics(ctx, b.Admin(t), 1, -1, all...); err != nil {
		t.Fatal(err)
	}
	set, err := endpoints.NewSet(eps...)
	if err != nil {
		t.Fatal(err)
	}
	if r.prod, err = producer.New(producer.Config{Brokers: b.Brokers, Topic: r.topics.Events}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.prod.Close(context.Background()) })
	sender := delivery.SenderConfig{AllowHTTP: true, AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	d, err := dispatcher.New(dispatcher.Config{Brokers: b.Brokers, Group: name + ".d", Topics: r.topics, Retry: r.tiers, Endpoints: set,
		Redis: b.Redis, RedisPrefix: b.RedisPrefix, Sender: sender, CommitInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, d)
	if r.ret, err = retrier.New(retrier.Config{Brokers: b.Brokers, Group: name + ".r", Topics: r.topics, Retry: r.tiers, Endpoints: set,
		Redis: b.Redis, RedisPrefix: b.RedisPrefix, Sender: sender, CommitInterval: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, r.ret)
	ix, err := deliverylog.NewIndexer(deliverylog.Config{Brokers: b.Brokers, Topic: r.topics.Attempts, Group: name + ".ix",
		Redis: b.Redis, Prefix: b.RedisPrefix})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, ix)
	r.log = deliverylog.NewReader(b.Redis, b.RedisPrefix)
	r.rp = &replay.Replayer{Brokers: b.Brokers, Topics: r.topics, Retry: r.tiers, Log: r.log}
	r.jobs = &replay.Jobs{Replayer: r.rp, Redis: b.Redis, Prefix: b.RedisPrefix}
	// Timed tests start their clocks later: let the groups form first,
	// which on a real broker takes a moment.
	for deadline := time.Now().Add(30 * time.Second); r.ret.Ready(ctx) != nil || d.Ready(ctx) != nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("pipeline not ready after 30s: %v / %v", r.ret.Ready(ctx), d.Ready(ctx))
		}
	}
	return r
}

type runner interface {
	Run(context.Context) error
	Shutdown(context.Context) error
}

func runUntilCleanup(t *testing.T, c runner) {
	errc := make(chan error, 1)
	go func() { errc <- c.Run(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := c.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-errc; err != nil {
			t.Errorf("run: %v", err)
		}
	})
}

// publish publishes n events of tenant.
func (r *rig) publish(t *testing.T, tenant string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		_, err := r.prod.Publish(context.Background(), producer.Event{Type: "task.created", TenantID: tenant,
			Data: map[string]any{"task": map[string]any{"id": "task" + strconv.Itoa(i), "title": "x"}}})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// dead waits for n dead letters.
func (r *rig) dead(t *testing.T, n int) []*delivery.Delivery {
	t.Helper()
	recs := r.b.ReadAll(t, r.topics.Dead, n, 30*time.Second)
	if len(recs) < n {
		t.Fatalf("%d dead letters, want %d", len(recs), n)
	}
	var out []*delivery.Delivery
	for _, rec := range recs {
		d, err := delivery.FromRecord(rec)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// located waits until the attempt log's index places tenant's delivery id
// in topic, as it does once the entry of the attempt that wrote it there
// is indexed: the delivery log then shows that attempt, so a user can
// press Retry now.
func (r *rig) located(t *testing.T, tenant, id, topic string) deliverylog.Location {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		loc, err := r.log.Locate(context.Background(), tenant, id)
		if err == nil && loc.Topic == topic {
			return loc
		}
		if err != nil && !errors.Is(err, deliverylog.ErrNotFound) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery %s not indexed in %s after 30s (%v, %v)", id, topic, loc, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func endpoint(id, tenant string, s *testbackend.Receiver, mod func(*endpoints.Endpoint)) *endpoints.Endpoint {
	ep := &endpoints.Endpoint{ID: id, TenantID: tenant, URL: s.URL() + "/hook", Secrets: []string{secret}, MaxItems: 1}
	if mod != nil {
		mod(ep)
	}
	return ep
}

// posts counts the receiver's posts per delivery id, and its 2xx answers.
func posts(s *testbackend.Receiver) (all, ok map[string]int) {
	ps, _ := s.Snapshot()
	all, ok = map[string]int{}, map[string]int{}
	for _, p := range ps {
		id := p.Header.Get("X-Hookline-Delivery")
		all[id]++
		if p.Status/100 == 2 {
			ok[id]++
		}
	}
	return all, ok
}
