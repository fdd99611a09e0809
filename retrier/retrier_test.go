package retrier_test

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/deliverylog"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/retry"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
	"github.com/hookline/hookline/retrier"
)

const secret = "whsec-retry-secret-0123456789"

// schedule is the shortened retry schedule of these tests.
var schedule = []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}

// rig runs a dispatcher and a retrier on one backend with their own topics.
type rig struct {
	b      testbackend.Backend
	topics kafka.Topics
	tiers  retry.Policy
	set    *endpoints.Set
	prod   *producer.Producer
	ret    *retrier.Retrier
	retCfg retrier.Config
}

func newRig(t *testing.T, b testbackend.Backend, eps ...*endpoints.Endpoint) *rig {
	t.Helper()
	return newRigWith(t, b, schedule, eps...)
}

// newRigWith is newRig with its own schedule.
func newRigWith(t *testing.T, b testbackend.Backend, delays []time.Duration, eps ...*endpoints.Endpoint) *rig {
	t.Helper()
	name := testbackend.UniqueName(t)
	r := &rig{b: b, topics: kafka.Topics{
		Events: b.Topic(t, 2), Invalid: name + ".invalid", Attempts: name + ".attempts", Dead: name + ".dead",
	}.WithDefaults(), tiers: retry.Policy{Prefix: name + ".retry.", Delays: delays}.WithDefaults()}
	var err error
	if r.set, err = endpoints.NewSet(eps...); err != nil {
		t.Fatal(err)
	}
	if r.prod, err = producer.New(producer.Config{Brokers: b.Brokers, Topic: r.topics.Events}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.prod.Close(context.Background()) })
	sender := delivery.SenderConfig{AllowHTTP: true, AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	d, err := dispatcher.New(dispatcher.Config{Brokers: b.Brokers, Group: name + ".d", Topics: r.topics, Retry: r.tiers, Endpoints: r.set,
		Redis: b.Redis, RedisPrefix: b.RedisPrefix, Sender: sender, CommitInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, d)
	r.retCfg = retrier.Config{Brokers: b.Brokers, Group: name + ".r", Topics: r.topics, Retry: r.tiers, Endpoints: r.set,
		Redis: b.Redis, RedisPrefix: b.RedisPrefix, Sender: sender, CommitInterval: 100 * time.Millisecond}
	r.ret = r.startRetrier(t)
	return r
}

func (r *rig) startRetrier(t *testing.T) *retrier.Retrier {
	ret, err := retrier.New(r.retCfg)
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, ret)
	// Timed tests start their clocks at the publish: let the group form
	// first, which on a real broker takes a moment.
	deadline := time.Now().Add(30 * time.Second)
	for ret.Ready(context.Background()) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("retrier not ready after 30s: %v", ret.Ready(context.Background()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return ret
}

type runner interface {
	Run(context.Context) error
	Shutdown(context.Context) error
}

func runUntilCleanup(t *testing.T, c runner) {
	errc := make(chan error, 1)
	go func() { errc <- c.Run(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-errc; err != nil {
			t.Errorf("run: %v", err)
		}
	})
}

func (r *rig) publish(t *testing.T, n int) []string {
	var ids []string
	for i := 0; i < n; i++ {
		res, err := r.prod.Publish(context.Background(), producer.Event{Type: "task.created", TenantID: "t-1",
			Data: map[string]any{"task": map[string]any{"id": "task" + strconv.Itoa(i), "title": "x"}}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.EventID)
	}
	return ids
}

// dead waits for n dead letters.
func (r *rig) dead(t *testing.T, n int) []*delivery.Delivery {
	recs := r.b.ReadAll(t, r.topics.Dead, n, 20*time.Second)
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

func endpoint(s *testbackend.Receiver, mod func(*endpoints.Endpoint)) *endpoints.Endpoint {
	ep := &endpoints.Endpoint{ID: "ep1", TenantID: "t-1", URL: s.URL() + "/hook", Secrets: []string{secret}, MaxItems: 1}
	if mod != nil {
		mod(ep)
	}
	return ep
}

func TestFailingThenRecoveringEndpointGetsEachDeliveryOnceWithTheSameID(t *testing.T) {
	testbackend.ForEachRedisBackend(t, func(t *testing.T, b testbackend.Backend) {
		s := testbackend.NewReceiver(t, "X-Hookline", secret)
		s.FailFirst(3, 500, "") // the dispatcher's attempt and two retries fail
		r := newRig(t, b, endpoint(s, nil))
		ids := r.publish(t, 5)
		seen := s.Delivered(t, 5, 30*time.Second)
		for _, id := range ids {
			if seen[id] != 1 {
				t.Fatalf("event %s delivered %d times with a 2xx", id, seen[id])
			}
		}
		posts, _ := s.Snapshot()
		byID := map[string][]testbackend.Post{}
		for _, p := range posts {
			id := p.Header.Get("X-Hookline-Delivery")
			byID[id] = append(byID[id], p)
		}
		if len(byID) != 5 {
			t.Fatalf("%d delivery ids for 5 events", len(byID))
		}
		for id, ps := range byID {
			if len(ps) != 4 || ps[3].Status/100 != 2 {
				t.Fatalf("delivery %s: %d attempts, last status %d; want 3 failures then a 2xx", id, len(ps), ps[len(ps)-1].Status)
			}
			for i := 1; i < len(ps); i++ {
				if !bytes.Equal(ps[i].Body, ps[0].Body) {
					t.Fatalf("delivery %s: body changed on attempt %d", id, i+1)
				}
				if ps[i].Header.Get("X-Hookline-Timestamp") == ps[0].Header.Get("X-Hookline-Timestamp") {
					t.Fatalf("delivery %s: attempt %d was not signed afresh", id, i+1)
				}
				if gap, want := ps[i].At.Sub(ps[i-1].At), schedule[i-1]; gap < want {
					t.Fatalf("delivery %s: attempt %d came %s after the previous, before its %s tier", id, i+1, gap, want)
				}
			}
		}
		time.Sleep(time.Second)
		if again, _ := s.Snapshot(); len(again) != len(posts) {
			t.Fatalf("%d more posts after every delivery got its 2xx", len(again)-len(posts))
		}

		// The delivery log the API serves tells the same story, once the
		// indexer has read the attempt log (from its start: its group is new).
		ix, err := deliverylog.NewIndexer(deliverylog.Config{Brokers: b.Brokers, Topic: r.topics.Attempts,
			Group: testbackend.UniqueName(t) + ".ix", Redis: b.Redis, Prefix: b.RedisPrefix})
		if err != nil {
			t.Fatal(err)
		}
		runUntilCleanup(t, ix)
		rows := deliveryLog(t, deliverylog.NewReader(b.Redis, b.RedisPrefix), "t-1", "ep1", 5)
		for _, row := range rows {
			if row.Status != deliverylog.StatusDelivered || row.Attempts != 4 || row.LastCode != 204 || byID[row.ID] == nil {
				t.Fatalf("delivery log row %+v", row)
			}
		}
	})
}

// deliveryLog waits until the delivery log lists want deliveries of the
// endpoint, every one settled (the indexer may be part-way through the
// attempts), and returns them.
func deliveryLog(t *testing.T, log *deliverylog.Reader, tenant, endpoint string, want int) []deliverylog.Delivery {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rows, _, err := log.Deliveries(context.Background(), tenant, endpoint, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		settled := len(rows) == want
		for _, row := range rows {
			settled = settled && row.Status != deliverylog.StatusRetrying
		}
		if settled {
			return rows
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery log lists %d deliveries after 30s, want %d settled: %+v", len(rows), want, rows)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestExhaustionAndPoliciesEndInDeadLetters(t *testing.T) {
	testbackend.ForEachRedisBackend(t, func(t *testing.T, b testbackend.Backend) {
		always := testbackend.NewReceiver(t, "X-Hookline", secret)
		always.FailFirst(1000, 503, "")
		badReq := testbackend.NewReceiver(t, "X-Hookline", secret)
		badReq.FailFirst(1000, 400, "")
		aged := testbackend.NewReceiver(t, "X-Hookline", secret)
		aged.FailFirst(1000, 500, "")
		r := newRig(t, b,
			&endpoints.Endpoint{ID: "exhaust", TenantID: "t-1", URL: always.URL(), Secrets: []string{secret}, MaxItems: 1},
			&endpoints.Endpoint{ID: "strict", TenantID: "t-1", URL: badReq.URL(), Secrets: []string{secret}, MaxItems: 1, RetryPolicy: "5xx"},
			&endpoints.Endpoint{ID: "aged", TenantID: "t-1", URL: aged.URL(), Secrets: []string{secret}, MaxItems: 1,
				MaxAge: endpoints.Duration(500 * time.Millisecond)},
		)
		r.publish(t, 1)
		dead := map[string]*delivery.Delivery{}
		for _, d := range r.dead(t, 3) {
			dead[d.EndpointID] = d
		}
		if d := dead["exhaust"]; d == nil || d.Attempt != 4 || d.LastStatus != 503 || !strings.Contains(d.Reason, "failed permanently after 4 attempts") {
			t.Errorf("exhausted: %+v", d)
		}
		if d := dead["strict"]; d == nil || d.Attempt != 1 || d.LastStatus != 400 || !strings.Contains(d.Reason, "5xx-only") {
			t.Errorf("5xx-only policy: %+v", d)
		}
		if d := dead["aged"]; d == nil || d.Attempt >= 4 || !strings.Contains(d.Reason, "max age") {
			t.Errorf("max age: %+v", d)
		}
		for _, d := range dead {
			if len(d.Body) == 0 || len(d.ID) != 24 {
				t.Errorf("dead letter without its delivery: %+v", d)
			}
		}
	})
}

func TestRetryAfterIsHonoured(t *testing.T) {
	testbackend.ForEachRedisBackend(t, func(t *testing.T, b testbackend.Backend) {
		s := testbackend.NewReceiver(t, "X-Hookline", secret)
		s.FailFirst(2, 429, "2") // seconds, well over the 200 ms and 400 ms tiers
		newRig(t, b, endpoint(s, nil)).publish(t, 1)
		s.Delivered(t, 1, 30*time.Second)
		posts, _ := s.Snapshot()
		if len(posts) != 3 {
			t.Fatalf("%d posts, want 2 throttled and 1 delivered", len(posts))
		}
		for i := 1; i < 3; i++ {
			if gap := posts[i].At.Sub(posts[i-1].At); gap < 2*time.Second {
				t.Fatalf("attempt %d came %s after a Retry-After of 2s", i+1, gap)
			}
		}
	})
}

func TestDisabledEndpointIsDeadLetteredAsInactive(t *testing.T) {
	testbackend.ForEachRedisBackend(t, func(t *testing.T, b testbackend.Backend) {
		s := testbackend.NewReceiver(t, "X-Hookline", secret)
		s.FailFirst(1, 500, "")
		r := newRig(t, b, endpoint(s, nil))
		r.publish(t, 1)
		deadline := time.Now().Add(20 * time.Second)
		for {
			if p, _ := s.Snapshot(); len(p) == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("first attempt never came")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := r.set.Disable(context.Background(), "ep1", "paused by the customer"); err != nil {
			t.Fatal(err)
		}
		d := r.dead(t, 1)[0]
		if !strings.Contains(d.Reason, "endpoint inactive") || d.Attempt != 1 {
			t.Fatalf("dead letter %+v", d)
		}
	})
}

// TestMaxAgeEndsTheChainAtItsDeadline gives an always-failing endpoint a
// maxAge shorter than the schedule: the attempt the schedule puts past the
// deadline is made at the deadline instead, as the last one, and the
// delivery is dead-lettered then, naming max age.
func TestMaxAgeEndsTheChainAtItsDeadline(t *testing.T) {
	testbackend.ForEachRedisBackend(t, func(t *testing.T, b testbackend.Backend) {
		s := testbackend.NewReceiver(t, "X-Hookline", secret)
		s.FailFirst(1000, 500, "")
		const maxAge = 1500 * time.Millisecond
		delays := []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 10 * time.Second}
		r := newRigWith(t, b, delays, endpoint(s, func(ep *endpoints.Endpoint) { ep.MaxAge = endpoints.Duration(maxAge) }))
		r.publish(t, 1)
		recs := r.b.ReadAll(t, r.topics.Dead, 1, 20*time.Second)
		if len(recs) != 1 {
			t.Fatalf("%d dead letters, want 1", len(recs))
		}
		d, err := delivery.FromRecord(recs[0])
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond) // any attempt after the dead letter would show
		posts, _ := s.Snapshot()
		first := d.FirstAttempt
		var at []string
		for _, p := range posts {
			at = append(at, "+"+p.At.Sub(first).Round(time.Millisecond).String())
		}
		msg := fmt.Sprintf("max age (%s): attempts at %s; dead-lettered at +%s after %d attempts: %q", b.Name, strings.Join(at, " "),
			recs[0].Timestamp.Sub(first).Round(time.Millisecond), d.Attempt, d.Reason)
		t.Log(msg)
		fmt.Println(msg)
		want := []time.Duration{0, delays[0], delays[0] + delays[1], maxAge}
		if len(posts) != len(want) {
			t.Fatalf("%d attempts, want %d", len(posts), len(want))
		}
		for i, p := range posts {
			if off := p.At.Sub(first); off < want[i]-50*time.Millisecond || off > want[i]+400*time.Millisecond {
				t.Fatalf("attempt %d at +%s, want about +%s", i+1, off, want[i])
			}
		}
		if off := recs[0].Timestamp.Sub(first); off < maxAge || off > maxAge+500*time.Millisecond {
			t.Fatalf("dead-lettered at +%s, want just after +%s", off, maxAge)
		}
		if d.Attempt != len(want) || !strings.Contains(d.Reason, "max age") {
			t.Fatalf("dead letter after %d attempts: %q", d.Attempt, d.Reason)
		}
	})
}
