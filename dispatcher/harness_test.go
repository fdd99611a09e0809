package dispatcher_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/retry"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
	"github.com/twmb/franz-go/pkg/kgo"
)

const secret = "whsec-test-secret-0123456789"

func newSink(t *testing.T, prefix string) *testbackend.Receiver {
	return testbackend.NewReceiver(t, prefix, secret)
}

func events(t *testing.T, body []byte) []map[string]any { return testbackend.Events(t, body) }

// fixture is a dispatcher on one backend with its own topics and group.
type fixture struct {
	b      testbackend.Backend
	topics kafka.Topics
	retry  retry.Policy
	prod   *producer.Producer
	set    *endpoints.Set
	d      *dispatcher.Dispatcher
	cfg    dispatcher.Config
	kill   func() // stops the current member abruptly: no drain, no commit
}

func endpointFor(id, tenant string, s *testbackend.Receiver, mod func(*endpoints.Endpoint)) *endpoints.Endpoint {
	ep := &endpoints.Endpoint{ID: id, TenantID: tenant, URL: s.URL() + "/hooks/" + id, Secrets: []string{secret}}
	if mod != nil {
		mod(ep)
	}
	return ep
}

func newFixture(t *testing.T, b testbackend.Backend, eps []*endpoints.Endpoint, mod func(*dispatcher.Config)) *fixture {
	t.Helper()
	name := testbackend.UniqueName(t)
	f := &fixture{b: b}
	f.topics = kafka.Topics{
		Events: b.Topic(t, 3), Invalid: name + ".invalid", Attempts: name + ".attempts", Dead: name + ".dead",
	}
	f.retry = retry.Policy{Prefix: name + ".retry.", Delays: []time.Duration{time.Minute}}
	var err error
	if f.set, err = endpoints.NewSet(eps...); err != nil {
		t.Fatal(err)
	}
	// The tests publish one write many times as distinct events, so their
	// eventIds are random rather than derived from the write.
	if f.prod, err = producer.New(producer.Config{Brokers: b.Brokers, Topic: f.topics.Events, RandomEventIDs: true}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.prod.Close(context.Background()) })
	f.cfg = dispatcher.Config{
		Brokers: b.Brokers, Group: name, Topics: f.topics, Retry: f.retry, Endpoints: f.set, Redis: b.Redis, RedisPrefix: b.RedisPrefix,
		Sender:         delivery.SenderConfig{AllowHTTP: true, AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
		CommitInterval: 100 * time.Millisecond,
	}
	if mod != nil {
		mod(&f.cfg)
	}
	f.start(t)
	return f
}

// start runs a dispatcher member until the test ends.
func (f *fixture) start(t *testing.T) *dispatcher.Dispatcher {
	t.Helper()
	d, err := dispatcher.New(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.d = d
	errc := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { errc <- d.Run(ctx) }()
	killed := false
	f.kill = func() {
		killed = true
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("run: %v", err)
		}
	}
	t.Cleanup(func() {
		if killed {
			return
		}
		defer cancel()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := d.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-errc; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return d
}

// publish sends events and returns their ids and record values in order.
func (f *fixture) publish(t *testing.T, evs ...producer.Event) []string {
	t.Helper()
	ids := make([]string, len(evs))
	for i, ev := range evs {
		res, err := f.prod.Publish(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = res.EventID
	}
	return ids
}

// read returns n records of topic.
func (f *fixture) read(t *testing.T, topic string, n int) []*kgo.Record {
	t.Helper()
	recs := f.b.ReadAll(t, topic, n, 20*time.Second)
	if len(recs) < n {
		t.Fatalf("%s holds %d records, want %d", topic, len(recs), n)
	}
	return recs
}

func taskEvent(tenant, id, status string) producer.Event {
	return producer.Event{Type: "task.created", TenantID: tenant,
		Data: map[string]any{"task": map[string]any{"id": id, "title": "Ducts " + id, "status": status}}}
}

func kgoRecord(topic string, v []byte) *kgo.Record { return &kgo.Record{Topic: topic, Value: v} }
