package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/idempotency"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/redis/go-redis/v9"
)

// countingRecorder counts round trips and can hold them up or fail them.
type countingRecorder struct {
	next  idempotency.SpanRecorder
	trips atomic.Int64
	hold  chan struct{} // when set, every round trip waits for a receive
	fail  atomic.Bool
}

var errRedisDown = errors.New("redis down")

func (c *countingRecorder) Record(ctx context.Context, spans []idempotency.Span) error {
	c.trips.Add(1)
	if c.hold != nil {
		<-c.hold
	}
	if c.fail.Load() {
		return errRedisDown
	}
	return c.next.Record(ctx, spans)
}

// TestGroupStoresEveryMarkInFewerRoundTrips: 64 concurrent callers over
// four partitions each get their spans stored, every one loadable after,
// and while a round trip is in flight the others gather into one.
func TestGroupStoresEveryMarkInFewerRoundTrips(t *testing.T) {
	testbackend.ForEachRedis(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ranges := idempotency.NewRanges(rdb, prefix, "g")
		rec := &countingRecorder{next: ranges, hold: make(chan struct{})}
		g := idempotency.NewGroup(rec)
		var observedTrips, observedSpans atomic.Int64
		g.Observe = func(spans int, took time.Duration) {
			observedTrips.Add(1)
			observedSpans.Add(int64(spans))
			if took <= 0 {
				t.Errorf("round trip of %d spans observed taking %v", spans, took)
			}
		}

		const callers = 64
		var wg sync.WaitGroup
		errs := make(chan error, callers)
		for i := 0; i < callers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				span := idempotency.Span{Topic: "events", Partition: int32(i % 4), EndpointID: fmt.Sprintf("ep%d", i), First: int64(i), Last: int64(i)}
				errs <- g.Record(ctx, []idempotency.Span{span})
			}()
		}
		// The first round trip is held while the rest arrive; then every
		// round goes through.
		waitFor(t, func() bool { return rec.trips.Load() == 1 })
		time.Sleep(50 * time.Millisecond)
		close(rec.hold)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("record: %v", err)
			}
		}
		stored := 0
		for part := int32(0); part < 4; part++ {
			got, err := ranges.Load(ctx, "events", part, 0)
			if err != nil {
				t.Fatal(err)
			}
			for ep, spans := range got {
				var i int
				fmt.Sscanf(ep, "ep%d", &i)
				if len(spans) != 1 || spans[0] != [2]int64{int64(i), int64(i)} || int32(i%4) != part {
					t.Fatalf("partition %d: %s has %v", part, ep, spans)
				}
				stored++
			}
		}
		if stored != callers {
			t.Fatalf("%d spans stored, want %d", stored, callers)
		}
		if trips := rec.trips.Load(); trips > 3 {
			t.Fatalf("%d round trips for %d callers that arrived during one: want them gathered (at most 3)", trips, callers)
		}
		// Observe saw every round trip and every span, once.
		if observedTrips.Load() != rec.trips.Load() || observedSpans.Load() != callers {
			t.Fatalf("observed %d round trips of %d spans; made %d of %d", observedTrips.Load(), observedSpans.Load(), rec.trips.Load(), callers)
		}
	})
}

// TestGroupFailsTheRoundAndRecoversAfter: a failed round trip fails every
// caller in it; a caller retrying after Redis is back gets stored.
func TestGroupFailsTheRoundAndRecoversAfter(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: testbackend.NewMiniredis(t).Options().Addr})
	defer rdb.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ranges := idempotency.NewRanges(rdb, "", "g")
	rec := &countingRecorder{next: ranges}
	rec.fail.Store(true)
	g := idempotency.NewGroup(rec)
	observed := 0 // the callers here are one after another
	g.Observe = func(spans int, _ time.Duration) { observed += spans }
	span := []idempotency.Span{{Topic: "events", Partition: 0, EndpointID: "ep", First: 5, Last: 9}}
	if err := g.Record(ctx, span); !errors.Is(err, errRedisDown) {
		t.Fatalf("record while Redis is down: %v, want %v", err, errRedisDown)
	}
	if observed != 0 {
		t.Fatalf("a failed round trip was observed as storing %d spans", observed)
	}
	rec.fail.Store(false)
	if err := g.Record(ctx, span); err != nil {
		t.Fatalf("record after: %v", err)
	}
	if observed != 1 {
		t.Fatalf("observed %d spans stored, want the one", observed)
	}
	got, err := ranges.Load(ctx, "events", 0, 0)
	if err != nil || len(got["ep"]) != 1 {
		t.Fatalf("stored %v (%v), want the span", got, err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestGroupUnderSteadyLoadStoresEverything: eight callers recording one
// span after another over three partitions, as delivery slots do, all get
// stored, through the pooled client and through one kept connection (not on a
// cluster), on miniredis and on real Redis; the pooled case counts its round trips.
func TestGroupUnderSteadyLoadStoresEverything(t *testing.T) {
	testbackend.ForEachRedis(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ranges := idempotency.NewRanges(rdb, prefix, "g")
		pooled := &countingRecorder{next: ranges}
		steadyLoad(t, idempotency.NewGroup(pooled), ranges, "events")
		t.Logf("pooled: %d round trips", pooled.trips.Load())
		// The dispatcher keeps a connection on one server or a
		// Sentinel's master (a *redis.Client); a cluster's marks go
		// through the pool, to each partition's slot.
		if c, ok := rdb.(*redis.Client); ok {
			steadyLoad(t, idempotency.NewGroup(idempotency.NewConnRecorder(c, prefix, "g")), ranges, "events-kept")
		} else if _, ok := rdb.(*redis.ClusterClient); !ok {
			t.Fatalf("want a *redis.Client or a *redis.ClusterClient, got %T", rdb)
		}
	})
}

// steadyLoad records 8 x 200 spans through g and checks every one is in
// ranges.
func steadyLoad(t *testing.T, g *idempotency.Group, ranges *idempotency.Ranges, topic string) {
	t.Helper()
	ctx := context.Background()
	const slots, each, parts = 8, 200, 3
	var wg sync.WaitGroup
	for s := 0; s < slots; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				off := int64(s*each + i)
				span := idempotency.Span{Topic: topic, Partition: int32(s % parts), EndpointID: fmt.Sprintf("ep%d", s), First: off, Last: off}
				if err := g.Record(ctx, []idempotency.Span{span}); err != nil {
					t.Errorf("record: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	n := 0
	for part := int32(0); part < parts; part++ {
		got, err := ranges.Load(ctx, topic, part, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, spans := range got {
			n += len(spans)
		}
	}
	if n != slots*each {
		t.Fatalf("%s: %d spans stored, want %d", topic, n, slots*each)
	}
}

// TestGroupCallerLeavingOnContextLeavesItsSpanToTheRound: a caller whose
// context ends while it waits gets the context's error; its span is stored
// by the next round trip all the same.
func TestGroupCallerLeavingOnContextLeavesItsSpanToTheRound(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: testbackend.NewMiniredis(t).Options().Addr})
	defer rdb.Close()
	ranges := idempotency.NewRanges(rdb, "", "g")
	rec := &countingRecorder{next: ranges, hold: make(chan struct{})}
	g := idempotency.NewGroup(rec)
	first := make(chan error, 1)
	go func() {
		first <- g.Record(context.Background(), []idempotency.Span{{Topic: "events", EndpointID: "a", First: 1, Last: 1}})
	}()
	waitFor(t, func() bool { return rec.trips.Load() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := g.Record(ctx, []idempotency.Span{{Topic: "events", EndpointID: "b", First: 2, Last: 2}}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting caller: %v, want its context's error", err)
	}
	close(rec.hold)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := g.Record(context.Background(), []idempotency.Span{{Topic: "events", EndpointID: "c", First: 3, Last: 3}}); err != nil {
		t.Fatal(err)
	}
	got, _ := ranges.Load(context.Background(), "events", 0, 0)
	if len(got["a"]) != 1 || len(got["b"]) != 1 || len(got["c"]) != 1 {
		t.Fatalf("stored %v, want a, b and c", got)
	}
}

// TestConnRecorderSurvivesALostConnection: marks through one kept
// connection fail while Redis is unreachable and go through on a fresh
// connection once it is back; every span stored is loadable.
func TestConnRecorderSurvivesALostConnection(t *testing.T) {
	target := testbackend.NewMiniredis(t).Options().Addr
	proxy := testbackend.NewProxy(t, target)
	rdb := redis.NewClient(&redis.Options{Addr: proxy.Addr(), MaxRetries: -1})
	defer rdb.Close()
	ctx := context.Background()
	g := idempotency.NewGroup(idempotency.NewConnRecorder(rdb, "", "g"))
	span := func(off int64) []idempotency.Span {
		return []idempotency.Span{{Topic: "events", EndpointID: "ep", First: off, Last: off}}
	}
	if err := g.Record(ctx, span(1)); err != nil {
		t.Fatal(err)
	}
	proxy.Cut()
	if err := g.Record(ctx, span(2)); err == nil {
		t.Fatal("recorded with Redis unreachable")
	}
	proxy.Restore()
	if err := g.Record(ctx, span(3)); err != nil {
		t.Fatalf("after Redis is back: %v", err)
	}
	direct := redis.NewClient(&redis.Options{Addr: target})
	defer direct.Close()
	got, err := idempotency.NewRanges(direct, "", "g").Load(ctx, "events", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if spans := got["ep"]; len(spans) != 2 || spans[0] != [2]int64{1, 1} || spans[1] != [2]int64{3, 3} {
		t.Fatalf("stored %v, want spans 1 and 3", got)
	}
}
