package retrier_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/retry"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/retrier"
	"github.com/twmb/franz-go/pkg/kgo"
)

// tierRig is a retrier alone over single-partition tiers, fed by the test.
type tierRig struct {
	b      testbackend.Backend
	topics kafka.Topics
	tiers  retry.Policy
	set    *endpoints.Set
	cfg    retrier.Config
	cl     *kgo.Client
}

func newTierRig(t *testing.T, b testbackend.Backend, delays []time.Duration, eps ...*endpoints.Endpoint) *tierRig {
	t.Helper()
	name := testbackend.UniqueName(t)
	r := &tierRig{b: b, topics: kafka.Topics{Attempts: name + ".attempts", Dead: name + ".dead"}.WithDefaults(),
		tiers: retry.Policy{Prefix: name + ".retry.", Delays: delays}.WithDefaults()}
	// One partition per tier: every record shares one head, whatever its
	// endpoint.
	if err := kafka.EnsureTopics(context.Background(), b.Admin(t), 1, -1, r.tiers.Topics()...); err != nil {
		t.Fatal(err)
	}
	var err error
	if r.set, err = endpoints.NewSet(eps...); err != nil {
		t.Fatal(err)
	}
	r.cfg = retrier.Config{Brokers: b.Brokers, Group: name + ".r", Topics: r.topics, Retry: r.tiers, Endpoints: r.set,
		Redis: b.Redis, RedisPrefix: b.RedisPrefix, CommitInterval: 100 * time.Millisecond,
		Sender: delivery.SenderConfig{AllowHTTP: true, AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}
	r.cl = b.Client(t, kafka.ProducerOpts()...)
	return r
}

// pending is a delivery of endpoint ep with attempts made, waiting for
// position tier, due at due.
func pending(ep string, attempts, tier int, due time.Time) *delivery.Delivery {
	id := delivery.NewID()
	return &delivery.Delivery{ID: id, EndpointID: ep, TenantID: "t-1", EventType: "task.created", Items: 1,
		Body:    []byte(`{"type":"task.created","eventId":"` + id + `","tenantId":"t-1","createdUtc":"2026-11-22T10:00:00.000Z","data":{}}`),
		Attempt: attempts, FirstAttempt: time.Now(), LastStatus: 500, Reason: "HTTP 500", Due: due, Tier: tier}
}

func (r *tierRig) write(t *testing.T, topic string, ds ...*delivery.Delivery) {
	t.Helper()
	recs := make([]*kgo.Record, len(ds))
	for i, d := range ds {
		recs[i] = d.Record(topic)
	}
	if err := r.cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// firstPost waits for the first post of delivery id.
func firstPost(t *testing.T, s *testbackend.Receiver, id string, timeout time.Duration) testbackend.Post {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		posts, _ := s.Snapshot()
		for _, p := range posts {
			if p.Header.Get("X-Hookline-Delivery") == id {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery %s never posted", id)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLateHeadDoesNotHoldUpTheTier puts a delivery due 10 s ahead (as
// after a Retry-After of 10 s) at the head of a tier partition, with 100
// deliveries of another endpoint behind it due at the tier's delay: those
// are posted on time, and the late one no earlier than its due.
func TestLateHeadDoesNotHoldUpTheTier(t *testing.T) {
	testbackend.ForEachRedisBackend(t, func(t *testing.T, b testbackend.Backend) {
		s := testbackend.NewReceiver(t, "X-Hookline", secret)
		ep := func(id string) *endpoints.Endpoint {
			return &endpoints.Endpoint{ID: id, TenantID: "t-1", URL: s.URL() + "/" + id, Secrets: []string{secret}, MaxItems: 1}
		}
		r := newTierRig(t, b, []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 2 * time.Second}, ep("throttled"), ep("other"))
		ret, err := retrier.New(r.cfg)
		if err != nil {
			t.Fatal(err)
		}
		runUntilCleanup(t, ret)
		tier0 := r.tiers.Topic(0)
		// Once this is posted the retrier owns the partition.
		warm := pending("other", 1, 0, time.Now())
		r.write(t, tier0, warm)
		firstPost(t, s, warm.ID, 20*time.Second)

		late := pending("throttled", 1, 0, time.Now().Add(10*time.Second))
		behind := make([]*delivery.Delivery, 100)
		due := map[string]time.Time{}
		for i := range behind {
			behind[i] = pending("other", 1, 0, time.Now().Add(r.tiers.Delay(0)))
			due[behind[i].ID] = behind[i].Due
		}
		r.write(t, tier0, append([]*delivery.Delivery{late}, behind...)...)

		var lateness []time.Duration
		deadline := time.Now().Add(15 * time.Second)
		for len(lateness) < len(behind) && time.Now().Before(deadline) {
			lateness = lateness[:0]
			posts, _ := s.Snapshot()
			for _, p := range posts {
				if at, ok := due[p.Header.Get("X-Hookline-Delivery")]; ok {
					lateness = append(lateness, p.At.Sub(at))
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		slices.Sort(lateness)
		if len(lateness) < len(behind) {
			t.Fatalf("%d of %d deliveries behind the late head posted", len(lateness), len(behind))
		}
		p := firstPost(t, s, late.ID, 20*time.Second)
		msg := fmt.Sprintf("late head (%s): behind=%d lateness p50=%s max=%s; late one posted %s after its due; requeued=%d",
			b.Name, len(lateness), lateness[len(lateness)/2].Round(time.Millisecond), lateness[len(lateness)-1].Round(time.Millisecond),
			p.At.Sub(late.Due).Round(time.Millisecond), ret.Stats().Requeued)
		t.Log(msg)
		fmt.Println(msg)
		if worst := lateness[len(lateness)-1]; worst > time.Second {
			t.Fatalf("a delivery behind the late head was posted %s after its due", worst)
		}
		if p.At.Before(late.Due) {
			t.Fatalf("the late delivery was posted %s before its due", late.Due.Sub(p.At))
		}
		posts, _ := s.Snapshot()
		if len(posts) != len(behind)+2 {
			t.Fatalf("%d posts, want %d: one per delivery", len(posts), len(behind)+2)
		}
	})
}
