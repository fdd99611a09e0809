package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/api"
	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/deliverylog"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/twmb/franz-go/pkg/kgo"
)

// logAttempts writes attempt-log records and indexes them with a real
// Indexer into b's Redis, returning the Reader over them.
func logAttempts(t testing.TB, b testbackend.Backend, recs func(topic string) []*kgo.Record) *deliverylog.Reader {
	t.Helper()
	topic := b.Kafka.Topic(t, 1)
	all := recs(topic)
	cl := b.Kafka.Client(t, kgo.ProducerBatchMaxBytes(1<<20))
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	for start := 0; start < len(all); start += 5000 {
		if err := cl.ProduceSync(ctx, all[start:min(start+5000, len(all))]...).FirstErr(); err != nil {
			t.Fatalf("produce attempt log: %v", err)
		}
	}
	ix, err := deliverylog.NewIndexer(deliverylog.Config{Brokers: b.Kafka.Brokers, Topic: topic,
		Group: testbackend.UniqueName(t), Redis: b.Redis, Prefix: b.RedisPrefix, Keep: len(all) + 1})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ix.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })
	// Indexing runs at several thousand records a second: allow for the
	// benchmark's million on a busy machine.
	deadline := time.Now().Add(120*time.Second + time.Duration(len(all))*time.Millisecond)
	for ix.Stats().Records < int64(len(all)) {
		if time.Now().After(deadline) {
			t.Fatalf("indexed %d of %d records", ix.Stats().Records, len(all))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return deliverylog.NewReader(b.Redis, b.RedisPrefix)
}

func attempt(topic string, d *delivery.Delivery, n, status int, o delivery.Outcome) *kgo.Record {
	d.Attempt = n
	if o == delivery.Retry {
		d.Due = time.Now().Add(time.Minute)
	}
	return deliverylog.AttemptRecord(topic, d, delivery.Attempt{Status: status, Latency: 12 * time.Millisecond}, o, "")
}

func TestDeliveriesAndHealth(t *testing.T) {
	testbackend.ForEachBackend(t, func(t *testing.T, b testbackend.Backend) {
		var reader *deliverylog.Reader
		e := newEnv(t, b.Kafka, func(c *api.Config) { c.Deliveries = readerFunc(func() api.DeliveryReader { return reader }) })
		tenantA, a := e.tenant("a")
		_, other := e.tenant("b")
		id := e.do("POST", "/v1/endpoints", a, with(endpointBody("a", "https://1.1.1.1/a"), "verify", false)).want(t, 201).str("id")
		d1 := &delivery.Delivery{ID: delivery.NewID(), EndpointID: id, TenantID: tenantA, Items: 3, EventType: "task.created"}
		d2 := &delivery.Delivery{ID: delivery.NewID(), EndpointID: id, TenantID: tenantA, Items: 1, EventType: "task.created"}
		d3 := &delivery.Delivery{ID: delivery.NewID(), EndpointID: id, TenantID: tenantA, Items: 2, EventType: "task.created"}
		reader = logAttempts(t, b, func(topic string) []*kgo.Record {
			return []*kgo.Record{
				attempt(topic, d1, 1, 200, delivery.Delivered),
				attempt(topic, d2, 1, 500, delivery.Retry),
				attempt(topic, d3, 1, 503, delivery.Retry),
				attempt(topic, d2, 2, 204, delivery.Delivered),
				attempt(topic, d3, 2, 500, delivery.Dead),
			}
		})
		l := e.do("GET", "/v1/endpoints/"+id+"/deliveries?limit=2", a, nil).want(t, 200)
		page := l.JSON["data"].([]any)
		if len(page) != 2 || l.str("nextCursor") == "" {
			t.Fatalf("first page: %s", l.Body)
		}
		l2 := e.do("GET", "/v1/endpoints/"+id+"/deliveries?limit=2&cursor="+l.str("nextCursor"), a, nil).want(t, 200)
		if len(l2.JSON["data"].([]any)) != 1 || l2.str("nextCursor") != "" {
			t.Fatalf("second page: %s", l2.Body)
		}
		e.do("GET", "/v1/endpoints/"+id+"/deliveries?cursor=garbage", a, nil).wantErr(t, 400, "cursor")

		g := e.do("GET", "/v1/deliveries/"+d2.ID, a, nil).want(t, 200)
		if g.str("status") != "delivered" || g.JSON["attempts"] != float64(2) || len(g.JSON["history"].([]any)) != 2 {
			t.Fatalf("delivery: %s", g.Body)
		}
		if g3 := e.do("GET", "/v1/deliveries/"+d3.ID, a, nil).want(t, 200); g3.str("status") != "dead" || g3.JSON["lastCode"] != float64(500) {
			t.Fatalf("dead delivery: %s", g3.Body)
		}
		// Isolation over the log.
		e.do("GET", "/v1/deliveries/"+d2.ID, other, nil).want(t, 404)
		e.do("GET", "/v1/endpoints/"+id+"/deliveries", other, nil).want(t, 404)
		e.do("GET", "/v1/endpoints/"+id+"/health", other, nil).want(t, 404)
		e.do("GET", "/v1/deliveries/"+delivery.NewID(), a, nil).want(t, 404)

		// The route shows the log's health as the Reader computes it.
		h := e.do("GET", "/v1/endpoints/"+id+"/health", a, nil).want(t, 200)
		want, err := reader.Health(context.Background(), tenantA, id, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if h.str("state") != want.State || h.JSON["attempts1h"] != float64(5) || len(h.JSON["recent"].([]any)) != 5 ||
			h.JSON["consecutiveFailures"] != float64(want.ConsecutiveFailures) || h.JSON["p99Ms"] != float64(want.P99MS) {
			t.Fatalf("health: %s, reader says %+v", h.Body, want)
		}
		// The registry's switch wins over the log's view.
		e.do("PATCH", "/v1/endpoints/"+id, a, map[string]any{"active": false}).want(t, 200)
		if h := e.do("GET", "/v1/endpoints/"+id+"/health", a, nil).want(t, 200); h.str("state") != "disabled" || h.str("reason") != "inactivated by user" {
			t.Fatalf("inactive endpoint's health: %s", h.Body)
		}
		e.do("PATCH", "/v1/endpoints/"+id, a, map[string]any{"active": true}).want(t, 200)
		if err := e.store.Disable(context.Background(), id, "endpoint answered 410 Gone"); err != nil {
			t.Fatal(err)
		}
		if h := e.do("GET", "/v1/endpoints/"+id+"/health", a, nil).want(t, 200); h.str("state") != "disabled" || h.str("reason") != "endpoint answered 410 Gone" {
			t.Fatalf("disabled endpoint's health: %s", h.Body)
		}
		if g := e.do("GET", "/v1/endpoints/"+id, a, nil).want(t, 200); g.str("status") != "disabled" {
			t.Fatalf("disabled endpoint: %s", g.Body)
		}
	})
}

// readerFunc lets a test build the Reader after the server: the log's
// records need the endpoint id the server hands out.
type readerFunc func() api.DeliveryReader

func (f readerFunc) Deliveries(ctx context.Context, tenant, ep, cursor string, limit int) ([]deliverylog.Delivery, string, error) {
	return f().Deliveries(ctx, tenant, ep, cursor, limit)
}

func (f readerFunc) Delivery(ctx context.Context, tenant, id string) (deliverylog.Delivery, error) {
	return f().Delivery(ctx, tenant, id)
}

func (f readerFunc) Health(ctx context.Context, tenant, ep string, now time.Time) (deliverylog.Health, error) {
	return f().Health(ctx, tenant, ep, now)
}

func TestRoutesWithoutBackendsAnswer501(t *testing.T) {
	e := newEnv(t, testbackend.NewFake(t))
	_, key := e.tenant("a")
	id := e.do("POST", "/v1/endpoints", key, with(endpointBody("a", "https://1.1.1.1/a"), "verify", false)).want(t, 201).str("id")
	for _, r := range []struct{ method, path string }{
		{"GET", "/v1/endpoints/" + id + "/deliveries"}, {"GET", "/v1/endpoints/" + id + "/health"},
		{"GET", "/v1/deliveries/x"}, {"POST", "/v1/deliveries/x/retry"}, {"POST", "/v1/endpoints/" + id + "/replay"},
		{"GET", "/v1/replays/x"}, {"POST", "/v1/events"},
	} {
		e.do(r.method, r.path, key, map[string]any{}).wantErr(t, 501, "")
	}
}
