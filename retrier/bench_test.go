package retrier_test

// Retrier benchmarks; each runs its scenario once:
//
//	go test -run xxx -bench . -benchtime 1x ./retrier/
//
// HOOKLINE_BENCH_DUE=N overrides the 100,000 deliveries of the precision run.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/dispatcher"
	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/retry"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/retrier"
	"github.com/twmb/franz-go/pkg/kgo"
)

// countingServer answers 204 and counts requests and events (Batch-Size).
func countingServer(b *testing.B) (*httptest.Server, *atomic.Int64, *atomic.Int64) {
	var reqs, evs atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.Header.Get("X-Hookline-Batch-Size"))
		evs.Add(int64(max(n, 1)))
		reqs.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	return srv, &reqs, &evs
}

type benchEnv struct {
	k      testbackend.Kafka
	topics kafka.Topics
	tiers  retry.Policy
	set    *endpoints.Set
	sender delivery.SenderConfig
}

func newBenchEnv(b *testing.B, url string, maxItems int) *benchEnv {
	e := &benchEnv{k: testbackend.NewFake(b), sender: delivery.SenderConfig{AllowHTTP: true,
		AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}
	e.topics = kafka.Topics{Events: "bench.events"}.WithDefaults()
	e.tiers = retry.Policy{Delays: []time.Duration{time.Minute, 5 * time.Minute}}.WithDefaults()
	var err error
	e.set, err = endpoints.NewSet(&endpoints.Endpoint{ID: "ep1", TenantID: "t-1", URL: url, Secrets: []string{secret}, MaxItems: maxItems})
	if err != nil {
		b.Fatal(err)
	}
	if err := kafka.EnsureTopics(context.Background(), e.k.Admin(b), 6, -1, append(e.topics.All(), e.tiers.Topics()...)...); err != nil {
		b.Fatal(err)
	}
	return e
}

// preload writes n deliveries of items events each to the first tier,
// due at due(i).
func (e *benchEnv) preload(b *testing.B, n, items int, due func(i int) time.Time) {
	cl := e.k.Client(b, kgo.ProducerLinger(5*time.Millisecond))
	env := []byte(`{"type":"task.updated","eventId":"task:abc123:2026-04-30T14:22:01.234Z","tenantId":"t-1","createdUtc":"2026-04-30T14:22:01.456Z","data":{"task":{"id":"abc123","status":"Done","title":"Model level 3 ducts"},"before":{"id":"abc123","status":"Todo","title":"Model level 3 ducts"}}}`)
	body := env
	if items > 1 {
		body = append([]byte{'['}, env...)
		for i := 1; i < items; i++ {
			body = append(append(body, ','), env...)
		}
		body = append(body, ']')
	}
	topic := e.tiers.Topic(0)
	for i := 0; i < n; i++ {
		d := &delivery.Delivery{ID: delivery.NewID(), EndpointID: "ep1", TenantID: "t-1", EventType: "task.updated",
			Items: items, Batch: items > 1, Body: body, Attempt: 1, FirstAttempt: time.Now(), LastStatus: 503, Due: due(i)}
		rec := d.Record(topic)
		rec.Partition = int32(i % 6)
		cl.Produce(context.Background(), rec, func(_ *kgo.Record, err error) {
			if err != nil {
				b.Error(err)
			}
		})
	}
	if err := cl.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
}

func (e *benchEnv) retrier(b *testing.B) *retrier.Retrier {
	r, err := retrier.New(retrier.Config{Brokers: e.k.Brokers, Group: "bench.r", Topics: e.topics, Retry: e.tiers, Endpoints: e.set,
		Redis: testbackend.NewMiniredis(b), Sender: e.sender})
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = r.Run(b.Context()) }()
	return r
}

func waitFor(b *testing.B, n int64, c *atomic.Int64, timeout time.Duration) time.Duration {
	start := time.Now()
	for c.Load() < n {
		if time.Since(start) > timeout {
			b.Fatalf("%d of %d after %s", c.Load(), n, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// BenchmarkDueTimePrecision: 100k single-event deliveries due within one
// minute; how late does each attempt start after its due time?
func BenchmarkDueTimePrecision(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("HOOKLINE_BENCH_DUE")); err == nil && v > 0 {
		n = v
	}
	for i := 0; i < b.N; i++ {
		srv, reqs, _ := countingServer(b)
		e := newBenchEnv(b, srv.URL, 1)
		first := time.Now().Add(15 * time.Second) // after the preload
		e.preload(b, n, 1, func(i int) time.Time { return first.Add(time.Duration(i) * time.Minute / time.Duration(n)) })
		r := e.retrier(b)
		waitFor(b, int64(n), reqs, 3*time.Minute)
		late := r.Lateness()
		slices.Sort(late)
		p := func(q float64) time.Duration { return late[int(q*float64(len(late)-1))] }
		b.ReportMetric(float64(p(0.5).Milliseconds()), "p50-late-ms")
		b.ReportMetric(float64(p(0.99).Milliseconds()), "p99-late-ms")
		fmt.Printf("due-time precision: %d deliveries due within 1m: lateness p50=%s p99=%s max=%s\n",
			len(late), p(0.5).Round(time.Millisecond), p(0.99).Round(time.Millisecond), late[len(late)-1].Round(time.Millisecond))
	}
}

// BenchmarkDrain compares draining a backlog of due retries with the
// dispatcher sending the same events in the same delivery sizes.
func BenchmarkDrain(b *testing.B) {
	const deliveries, items = 300, 1000
	for i := 0; i < b.N; i++ {
		srv, _, evs := countingServer(b)
		e := newBenchEnv(b, srv.URL, items)
		e.preload(b, deliveries, items, func(int) time.Time { return time.Now() })
		start := time.Now()
		e.retrier(b)
		retry := waitFor(b, deliveries*items, evs, 3*time.Minute)
		retryRate := float64(deliveries*items) / retry.Seconds()

		// The dispatcher, same endpoint and sizes, from the events topic.
		srv2, _, evs2 := countingServer(b)
		e2 := newBenchEnv(b, srv2.URL, items)
		cl := e2.k.Client(b, kgo.ProducerLinger(5*time.Millisecond))
		for j := 0; j < deliveries*items; j++ {
			cl.Produce(context.Background(), &kgo.Record{Topic: e2.topics.Events, Partition: int32(j % 6),
				Headers: []kgo.RecordHeader{{Key: "hl-type", Value: []byte("task.updated")}, {Key: "hl-tenant", Value: []byte("t-1")}},
				Value:   []byte(`{"type":"task.updated","eventId":"e","tenantId":"t-1","createdUtc":"2026-04-30T14:22:01.456Z","data":{"task":{"id":"abc123","status":"Done","title":"Model level 3 ducts"},"before":{"id":"abc123","status":"Todo","title":"Model level 3 ducts"}}}`)}, nil)
		}
		if err := cl.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
		d, err := dispatcher.New(dispatcher.Config{Brokers: e2.k.Brokers, Group: "bench.d", Topics: e2.topics, Retry: e2.tiers, Endpoints: e2.set,
			Redis: testbackend.NewMiniredis(b), Sender: e2.sender})
		if err != nil {
			b.Fatal(err)
		}
		go func() { _ = d.Run(b.Context()) }()
		disp := waitFor(b, deliveries*items, evs2, 3*time.Minute)
		dispRate := float64(deliveries*items) / disp.Seconds()
		b.ReportMetric(retryRate, "retrier-ev/s")
		b.ReportMetric(dispRate, "dispatcher-ev/s")
		b.ReportMetric(retryRate/dispRate, "ratio")
		fmt.Printf("drain: %d due deliveries of %d events: retrier %.0f ev/s, dispatcher %.0f ev/s, ratio %.2f (since start %s)\n",
			deliveries, items, retryRate, dispRate, retryRate/dispRate, time.Since(start).Round(time.Millisecond))
	}
}

// BenchmarkBacklogMemory: the retrier's heap with 2,000 and with 50,000
// deliveries waiting (not yet due) in its tier.
func BenchmarkBacklogMemory(b *testing.B) {
	for i := 0; i < b.N; i++ {
		var heaps []uint64
		var held []int
		for _, n := range []int{2_000, 50_000} {
			srv, _, _ := countingServer(b)
			e := newBenchEnv(b, srv.URL, 1)
			e.preload(b, n, 1, func(int) time.Time { return time.Now().Add(time.Hour) })
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			r := e.retrier(b)
			time.Sleep(3 * time.Second) // joined, fetched, paused
			held = append(held, r.Held())
			runtime.GC()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			heaps = append(heaps, after.HeapAlloc-min(before.HeapAlloc, after.HeapAlloc))
		}
		b.ReportMetric(float64(heaps[0])/1e6, "MB-2k")
		b.ReportMetric(float64(heaps[1])/1e6, "MB-50k")
		b.ReportMetric(float64(held[1]), "held-50k")
		fmt.Printf("backlog memory: %d of 2k and %d of 50k waiting deliveries held in memory; heap growth %.1f MB and %.1f MB\n",
			held[0], held[1], float64(heaps[0])/1e6, float64(heaps[1])/1e6)
	}
}
