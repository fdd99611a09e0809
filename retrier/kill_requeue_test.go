package retrier

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/replay"
	"github.com/hookline/hookline/internal/retry"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/redis/go-redis/v9"
)

// TestKillAfterRequeueAttemptsOnce stops the retrier the crash way right
// after it re-enqueued a late head, before the source record commits, so
// both the source and its copy are read again by the next member: the
// delivery still gets one POST per attempt its answers call for (a 500,
// then a 204), none before its due, and no dead letter.
func TestKillAfterRequeueAttemptsOnce(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		testbackend.ForEachRedis(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
			killAfterRequeue(t, k, rdb, prefix)
		})
	})
}

func killAfterRequeue(t *testing.T, k testbackend.Kafka, rdb redis.UniversalClient, prefix string) {
	name := testbackend.UniqueName(t)
	topics := kafka.Topics{Dead: name + ".dead", Attempts: name + ".attempts"}.WithDefaults()
	tiers := retry.Policy{Prefix: name + ".retry.", Delays: []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 2 * time.Second}}.WithDefaults()
	ctx := context.Background()
	if err := kafka.EnsureTopics(ctx, k.Admin(t), 1, -1, append(tiers.Topics(), topics.Dead)...); err != nil {
		t.Fatal(err)
	}
	recv := &killReceiver{pass: map[string]int{}, posts: map[string][]int{}}
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	set, err := endpoints.NewSet(&endpoints.Endpoint{ID: "ep", TenantID: "t-1", URL: srv.URL, Secrets: []string{"whsec-kill"}, MaxItems: 1})
	if err != nil {
		t.Fatal(err)
	}
	d := &delivery.Delivery{ID: delivery.NewID(), EndpointID: "ep", TenantID: "t-1", EventType: "task.created", Items: 1,
		Body: []byte(`{"type":"task.created","eventId":"e","tenantId":"t-1","data":{}}`), Attempt: 1, FirstAttempt: time.Now(),
		LastStatus: 500, Reason: "HTTP 500", Due: time.Now().Add(2 * time.Second), Tier: 0}
	recv.pass[d.ID] = 1
	cl := k.Client(t, kafka.ProducerOpts()...)
	if err := cl.ProduceSync(ctx, d.Record(tiers.Topic(0))).FirstErr(); err != nil {
		t.Fatal(err)
	}

	cfg := Config{Brokers: k.Brokers, Group: name + ".r", Topics: topics, Retry: tiers, Endpoints: set, Redis: rdb, RedisPrefix: prefix,
		Sender:         delivery.SenderConfig{AllowHTTP: true, AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
		CommitInterval: 100 * time.Millisecond}
	killed := make(chan struct{})
	var once sync.Once
	rctx, cancel := context.WithCancel(ctx)
	first := cfg
	first.afterRequeue = func(work context.Context, _ *delivery.Delivery, _ string) {
		once.Do(func() { close(killed); cancel() })
		<-work.Done() // nothing after this point happens in a killed process
	}
	ret, err := New(first)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- ret.Run(rctx) }()
	select {
	case <-killed:
	case <-time.After(20 * time.Second):
		t.Fatal("the late head was never re-enqueued")
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}

	ret, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	go func() { errc <- ret.Run(ctx) }()
	defer func() {
		sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
		defer scancel()
		_ = ret.Shutdown(sctx)
		<-errc
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !recv.got2xx(d.ID) {
		if time.Now().After(deadline) {
			t.Fatalf("no 2xx; posts %v", recv.posts[d.ID])
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Long enough for any other copy of attempt one (or its successor in
	// the longest tier) to come due and show.
	time.Sleep(tiers.Delay(tiers.Tiers()-1) + time.Second)
	copies := 0
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	defer scancel()
	if err := replay.Scan(sctx, k.Brokers, nil, tiers.Topics(), func(c *delivery.Delivery, _ time.Time) {
		if c.ID == d.ID && c.Attempt == 1 {
			copies++
		}
	}); err != nil {
		t.Fatal(err)
	}
	dead := 0
	if err := replay.Scan(sctx, k.Brokers, nil, []string{topics.Dead}, func(*delivery.Delivery, time.Time) { dead++ }); err != nil {
		t.Fatal(err)
	}
	recv.mu.Lock()
	posts := append([]int(nil), recv.posts[d.ID]...)
	recv.mu.Unlock()
	st := ret.Stats()
	msg := fmt.Sprintf("kill after requeue (%s): records of attempt 1=%d posts=%v dead=%d skipped handed=%d done=%d",
		k.Name, copies, posts, dead, st.AlreadyHanded, st.AlreadyDone)
	t.Log(msg)
	fmt.Println(msg)
	if len(posts) != 2 || posts[0] != 500 || posts[1] != 204 || dead != 0 {
		t.Fatal("the copies of a re-enqueued record were attempted more than once")
	}
}
