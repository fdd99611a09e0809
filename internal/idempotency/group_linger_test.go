package idempotency_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/idempotency"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/redis/go-redis/v9"
)

// lingerGroup is a Group over miniredis counting its round trips.
func lingerGroup(t *testing.T, linger time.Duration) (*idempotency.Group, *countingRecorder, *idempotency.Ranges) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: testbackend.NewMiniredis(t).Options().Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	ranges := idempotency.NewRanges(rdb, "", "g")
	rec := &countingRecorder{next: ranges}
	g := idempotency.NewGroup(rec)
	g.Linger = linger
	return g, rec, ranges
}

func oneSpan(ep string, off int64) []idempotency.Span {
	return []idempotency.Span{{Topic: "events", EndpointID: ep, First: off, Last: off}}
}

// TestGroupLingersForDeliveriesStillInFlight: four deliveries begun
// together finish 20 ms apart, as four slots of one endpoint do; their
// marks share one round trip, each caller returns with its span stored,
// and the round leaves as soon as the last one records, long before the
// linger is up.
func TestGroupLingersForDeliveriesStillInFlight(t *testing.T) {
	g, rec, ranges := lingerGroup(t, time.Minute)
	const slots = 4
	for i := 0; i < slots; i++ {
		g.Begin()
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, slots)
	for i := 0; i < slots; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer g.End(time.Millisecond)
			time.Sleep(time.Duration(i) * 20 * time.Millisecond)
			errs <- g.Record(context.Background(), oneSpan(fmt.Sprintf("ep%d", i), int64(i)))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("the round waited out its linger (%v) although every delivery had recorded", took)
	}
	if trips := rec.trips.Load(); trips != 1 {
		t.Fatalf("%d round trips for %d deliveries begun together, want 1", trips, slots)
	}
	got, err := ranges.Load(context.Background(), "events", 0, 0)
	if err != nil || len(got) != slots {
		t.Fatalf("stored %v (%v), want %d endpoints' spans", got, err, slots)
	}
}

// TestGroupLingerIsBoundedByItsDuration: a delivery still in flight (a slow
// endpoint) holds a round for at most Linger; the mark already made is
// stored then, and the slow one records in a round of its own.
func TestGroupLingerIsBoundedByItsDuration(t *testing.T) {
	const linger = 50 * time.Millisecond
	g, rec, ranges := lingerGroup(t, linger)
	g.Begin() // the fast one
	g.Begin() // the slow one, still in flight
	start := time.Now()
	if err := g.Record(context.Background(), oneSpan("fast", 1)); err != nil {
		t.Fatal(err)
	}
	g.End(time.Millisecond)
	if took := time.Since(start); took < linger {
		t.Fatalf("round left after %v, before its linger (%v), with a delivery still in flight", took, linger)
	}
	if err := g.Record(context.Background(), oneSpan("slow", 2)); err != nil {
		t.Fatal(err)
	}
	g.End(time.Millisecond)
	if trips := rec.trips.Load(); trips != 2 {
		t.Fatalf("%d round trips, want 2", trips)
	}
	got, _ := ranges.Load(context.Background(), "events", 0, 0)
	if len(got["fast"]) != 1 || len(got["slow"]) != 1 {
		t.Fatalf("stored %v, want both spans", got)
	}
}

// TestGroupLingerEndsWhenTheOtherDeliveryEndsWithoutAMark: work that ends
// without recording (stopped mid-request) releases a lingering round at
// once instead of holding it for the whole linger.
func TestGroupLingerEndsWhenTheOtherDeliveryEndsWithoutAMark(t *testing.T) {
	g, rec, _ := lingerGroup(t, time.Minute)
	g.Begin()
	g.Begin()
	done := make(chan error, 1)
	go func() { done <- g.Record(context.Background(), oneSpan("a", 1)) }()
	time.Sleep(20 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("round left (%v) with the other delivery still in flight", err)
	default:
	}
	g.End(time.Millisecond) // the other one, abandoned
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the round kept lingering after the only other delivery ended")
	}
	if trips := rec.trips.Load(); trips != 1 {
		t.Fatalf("%d round trips, want 1", trips)
	}
}

// TestGroupDoesNotLingerForSlowWork: when deliveries typically take far
// longer than the linger (receivers answering in tens of milliseconds),
// a round leaves at once rather than add the linger to every slot's cycle.
func TestGroupDoesNotLingerForSlowWork(t *testing.T) {
	g, rec, _ := lingerGroup(t, time.Minute)
	for i := 0; i < 50; i++ { // the work so far took an hour each
		g.Begin()
		g.End(time.Hour)
	}
	g.Begin() // one still in flight
	g.Begin()
	done := make(chan error, 1)
	go func() { done <- g.Record(context.Background(), oneSpan("a", 1)) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the round lingered for slow work")
	}
	g.End(time.Hour)
	g.End(time.Hour)
	if trips := rec.trips.Load(); trips != 1 {
		t.Fatalf("%d round trips, want 1", trips)
	}
}
