package dispatcher_test

// BenchmarkManyEndpoints measures the dispatcher among many endpoints, some
// of them broken, and single-event delivery to slow receivers:
//
//	go test -run '^$' -bench ManyEndpoints -benchtime 1x ./dispatcher/
//
// Each sub-benchmark runs the hookline binary's dispatcher command as a
// process of its own (default settings unless said), with Kafka from
// HOOKLINE_TEST_KAFKA when set (else an in-process kfake; topics a run
// makes on a real cluster are deleted at its end) and the Redis of
// benchRedis. Receivers verify every signature and count each event
// exactly (a duplicate is counted apart). Every endpoint has a listener of
// its own, as distinct hosts would.
//
// healthy-only and with-bad: 100 tenants, and a producer in the test binary
// publishing catalog events through the producer library at a fixed
// rate, round robin over the tenants, for a fixed time, once the
// dispatcher is ready (/readyz). Endpoints take every event type, batched
// with maxItems 100 and maxWait 200ms, so at these rates a batch seals by
// time and latency, receipt minus the event's createdUtc, is about maxWait
// when the dispatcher keeps up. with-bad has 1,000 endpoints, 10 per
// tenant: 8 healthy (answering 204 at once), 1 black hole (accepts the
// connection, reads, never answers: each delivery waits out the default
// timeout, endpoints.DefaultTimeout, 10s) and 1 answering 503.
// healthy-only has the same 800 healthy endpoints alone. The dispatcher
// runs with --concurrency 1 (the default); failed deliveries go to the
// first retry tier, and no retrier runs. Each reports, of the healthy
// endpoints: events/s (delivered over first publish to last receipt),
// p50/p99/max latency, and p99 of the events published in the second half
// (at the default 30 s, after the black holes' first timeouts, so start-up
// shows apart); the dispatcher's peak RSS (VmHWM), CPU time and settled
// deliveries and attempts by outcome (from its /metrics); and the test
// binary's CPU time. A summary line gives the with-bad / healthy-only
// ratios of events/s and p99.
//
// single-50x4: 50 tenants with one single-event endpoint each (maxItems 1),
// --concurrency 4, every receiver answering after 20 ms; the topic is
// preloaded with events round robin over the tenants. It reports events/s
// from the first receipt to the last, and that as a fraction of the
// ceiling 50 x 4 / 20 ms = 10,000 events/s. Its detail line adds, from
// /metrics, what a slot waited for its Redis mark against the round trips
// that stored the marks, and the marks per round trip; its slots line,
// from the receivers, how long each request was held and how long a slot
// took from an answer to its next request (the dispatcher's half).
//
// slow-success, trickle and slow-100-of-1000: slow receivers beside healthy
// ones (bench_slow_test.go).
//
// Targets, each line saying met or MISSED: with-bad's healthy events/s at
// least 80% of healthy-only's and its p99 at most 120%; peak RSS < 512 MB;
// single-50x4 >= 90% of 10,000 events/s.
//
// Environment:
//
//	HOOKLINE_BENCH_MANY_RATE      events/s published in healthy-only and
//	                              with-bad, over all tenants (default 200;
//	                              each reaches 8 healthy endpoints)
//	HOOKLINE_BENCH_MANY_SECONDS   how long they publish (default 30)
//	HOOKLINE_BENCH_MANY_SINGLE    events preloaded for single-50x4
//	                              (default 100000: 10 s at the ceiling)
//	HOOKLINE_BENCH_VERBOSE=1      copy the dispatcher's stderr to the test's
//
// Each b.N iteration is a fresh topic, group and set of receivers; figures
// are over all iterations. Speed is measured here only, never asserted.

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/demo"
	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/hookline/hookline/producer"
)

const (
	manyTenants       = 100
	manyHealthyPer    = 8 // healthy endpoints per tenant
	manyMaxItems      = 100
	manyMaxWait       = 200 * time.Millisecond
	manySingleEps     = 50
	manySingleConc    = 4
	manySingleDelay   = 20 * time.Millisecond
	manySingleCeiling = manySingleEps * manySingleConc * float64(time.Second/manySingleDelay)
	// manyQuiet ends a wait for events once none arrived for this long:
	// the rest went to the retry tier.
	manyQuiet = 15 * time.Second
)

// manyConfig is the scale, from the environment.
type manyConfig struct {
	rate         float64
	publish      time.Duration
	singleEvents int
}

func manyConfigFromEnv(b *testing.B) manyConfig {
	c := manyConfig{rate: 200, publish: 30 * time.Second, singleEvents: 100_000}
	num := func(name string, set func(float64)) {
		if v := os.Getenv(name); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f <= 0 {
				b.Fatalf("%s=%q: want a positive number", name, v)
			}
			set(f)
		}
	}
	num("HOOKLINE_BENCH_MANY_RATE", func(f float64) { c.rate = f })
	num("HOOKLINE_BENCH_MANY_SECONDS", func(f float64) { c.publish = time.Duration(f * float64(time.Second)) })
	num("HOOKLINE_BENCH_MANY_SINGLE", func(f float64) { c.singleEvents = int(f) })
	return c
}

// manyResult is one sub-benchmark's figures, summed over iterations.
type manyResult struct {
	manyTake
	want    int           // events the healthy endpoints should get
	elapsed time.Duration // first publish (or process start) to last receipt
	steady  time.Duration // first receipt to last
	rssKB   int64
	// cpu is the dispatcher's; rigCPU the test binary's (producer,
	// receivers, and kfake when in use) from the process start.
	cpu, rigCPU time.Duration
	// held: black-hole connections open at the end; posts: to the
	// healthy receivers; failed: to the 503 endpoints.
	held, posts, failed int64
	detail              string
}

func (r *manyResult) add(o manyResult) {
	r.all, r.late = append(r.all, o.all...), append(r.late, o.late...)
	r.events += o.events
	r.dups += o.dups
	r.want += o.want
	r.elapsed += o.elapsed
	r.steady += o.steady
	r.rssKB = max(r.rssKB, o.rssKB)
	r.cpu, r.rigCPU = r.cpu+o.cpu, r.rigCPU+o.rigCPU
	r.held, r.posts, r.failed = max(r.held, o.held), r.posts+o.posts, r.failed+o.failed
	r.detail = o.detail
}

func (r *manyResult) got() int      { return r.events - r.dups }
func (r *manyResult) rate() float64 { return float64(r.got()) / r.elapsed.Seconds() }

func BenchmarkManyEndpoints(b *testing.B) {
	cfg := manyConfigFromEnv(b)
	bin := benchBuild(b, "../cmd/hookline")
	redisURL := benchRedis(b)
	machine, redisName, _ := benchMachine(b)
	k := benchKafka(b)
	fmt.Printf("many machine: %s | Redis: %s | Kafka: %s\n", machine, redisName, benchKafkaName())
	var healthy, bad *manyResult
	b.Run("healthy-only", func(b *testing.B) { healthy = benchManyMixed(b, cfg, bin, k, redisURL, false) })
	b.Run("with-bad", func(b *testing.B) { bad = benchManyMixed(b, cfg, bin, k, redisURL, true) })
	if healthy != nil && bad != nil {
		tput, p99 := bad.rate()/healthy.rate(), manyP99(bad.all).Seconds()/manyP99(healthy.all).Seconds()
		late := manyP99(bad.late).Seconds() / manyP99(healthy.late).Seconds()
		fmt.Printf("many with-bad / healthy-only: events/s %.2f (>= 0.80 %s), p99 %.2f (<= 1.20 %s), second-half p99 %.2f (<= 1.20 %s); peakRSS %.0f and %.0f MB (< 512 %s)\n",
			tput, manyVerdict(tput >= 0.8), p99, manyVerdict(p99 <= 1.2), late, manyVerdict(late <= 1.2),
			float64(bad.rssKB)/1024, float64(healthy.rssKB)/1024, manyVerdict(max(bad.rssKB, healthy.rssKB) < 512<<10))
	}
	b.Run("single-50x4", func(b *testing.B) { benchManySingle(b, cfg, bin, k, redisURL) })
	benchSlowReceivers(b, bin, k, redisURL)
}

// benchManyMixed is healthy-only (withBad false) or with-bad.
func benchManyMixed(b *testing.B, cfg manyConfig, bin string, k testbackend.Kafka, redisURL string, withBad bool) *manyResult {
	name := "healthy-only"
	if withBad {
		name = "with-bad"
	}
	var res manyResult
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res.add(benchManyMixedRun(b, cfg, bin, k, redisURL, withBad))
	}
	b.StopTimer()
	manyReport(b, &res)
	all := manySorted(res.all)
	b.ReportMetric(manyQuantile(all, 0.5).Seconds()*1000, "p50-ms")
	b.ReportMetric(manyQuantile(all, 0.99).Seconds()*1000, "p99-ms")
	b.ReportMetric(manyP99(res.late).Seconds()*1000, "p99-2nd-half-ms")
	fmt.Printf("many %s: %.0f ev/s p50=%s p99=%s max=%s second-half-p99=%s peakRSS=%.0f MB dispatcher-cpu=%.1fs rig-cpu=%.1fs events=%d/%d dups=%d\n",
		name, res.rate(), manyMS(manyQuantile(all, 0.5)), manyMS(manyQuantile(all, 0.99)), manyMS(manyQuantile(all, 1)),
		manyMS(manyP99(res.late)), float64(res.rssKB)/1024, res.cpu.Seconds()/float64(b.N), res.rigCPU.Seconds()/float64(b.N), res.got(), res.want, res.dups)
	fmt.Printf("  %s detail: published %.0f ev/s for %s over %d tenants; healthy posts=%d, 503 posts=%d, black-hole connections held=%d; dispatcher %s\n",
		name, cfg.rate, cfg.publish, manyTenants, res.posts, res.failed, res.held, res.detail)
	return &res
}

func benchManyMixedRun(b *testing.B, cfg manyConfig, bin string, k testbackend.Kafka, redisURL string, withBad bool) manyResult {
	recv, okURLs := newManyReceiver(b, manyTenants*manyHealthyPer, 204, 0)
	var fails *manyReceiver
	var holes *manyBlackHoles
	var failURLs, holeURLs []string
	if withBad {
		fails, failURLs = newManyReceiver(b, manyTenants, 503, 0)
		holes, holeURLs = newManyBlackHoles(b, manyTenants)
	}
	tenants := make([]string, manyTenants)
	var eps []*endpoints.Endpoint
	ep := func(id, tenant, url string) {
		eps = append(eps, &endpoints.Endpoint{ID: id, TenantID: tenant, URL: url, Secrets: []string{benchSecret},
			MaxItems: manyMaxItems, MaxWait: endpoints.Duration(manyMaxWait)})
	}
	for t := range tenants {
		tenants[t] = fmt.Sprintf("t-many-%03d", t)
		for j := 0; j < manyHealthyPer; j++ {
			ep(fmt.Sprintf("ep-%03d-ok-%d", t, j), tenants[t], okURLs[t*manyHealthyPer+j])
		}
		if withBad {
			ep(fmt.Sprintf("ep-%03d-hole", t), tenants[t], holeURLs[t])
			ep(fmt.Sprintf("ep-%03d-503", t), tenants[t], failURLs[t])
		}
	}
	topic := k.Topic(b, benchPartitions)
	rig0 := benchSelfCPU()
	p := startManyDispatcher(b, bin, k, topic, redisURL, eps, 1)
	start := time.Now()
	sent := manyPublish(b, k, topic, tenants, cfg.rate, cfg.publish)
	want := sent * manyHealthyPer
	recv.waitFor(int64(want), manyQuiet)
	r := manyResult{manyTake: recv.take(start.Add(cfg.publish / 2)), want: want, posts: recv.posts.Load()}
	r.rssKB, r.cpu, r.detail = p.sample(b)
	r.rigCPU = benchSelfCPU() - rig0
	if withBad {
		r.held, r.failed = holes.open.Load(), fails.posts.Load()
		holes.close()
	}
	p.stop(b)
	manyCheck(b, recv)
	r.elapsed, r.steady = r.last.Sub(start), r.last.Sub(r.first)
	return r
}

func benchManySingle(b *testing.B, cfg manyConfig, bin string, k testbackend.Kafka, redisURL string) {
	var res manyResult
	var recv *manyReceiver // the last run's, for its slot figures
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		var urls []string
		recv, urls = newManyReceiver(b, manySingleEps, 204, manySingleDelay)
		tenants := make([]string, manySingleEps)
		var eps []*endpoints.Endpoint
		for t := range tenants {
			tenants[t] = fmt.Sprintf("t-single-%02d", t)
			eps = append(eps, &endpoints.Endpoint{ID: fmt.Sprintf("ep-single-%02d", t), TenantID: tenants[t], URL: urls[t],
				Secrets: []string{benchSecret}, MaxItems: 1})
		}
		topic := k.Topic(b, benchPartitions)
		manyPreload(b, k, topic, tenants, cfg.singleEvents)
		b.StartTimer()
		rig0 := benchSelfCPU()
		p := startManyDispatcher(b, bin, k, topic, redisURL, eps, manySingleConc)
		recv.waitFor(int64(cfg.singleEvents), manyQuiet)
		r := manyResult{manyTake: recv.take(time.Time{}), want: cfg.singleEvents, posts: recv.posts.Load()}
		r.rssKB, r.cpu, r.detail = p.sample(b)
		r.rigCPU = benchSelfCPU() - rig0
		p.stop(b)
		manyCheck(b, recv)
		r.elapsed, r.steady = r.last.Sub(p.started), r.last.Sub(r.first)
		res.add(r)
	}
	b.StopTimer()
	steady := float64(res.events-res.dups) / res.steady.Seconds()
	b.ReportMetric(steady, "steady-events/s")
	b.ReportMetric(steady/manySingleCeiling, "of-ceiling")
	manyReport(b, &res)
	fmt.Printf("many single-50x4: %.0f ev/s first to last receipt = %.2f of 50 x 4 / 20ms = %.0f ev/s (>= 0.90 %s); from process start %.0f ev/s; peakRSS=%.0f MB dispatcher-cpu=%.1fs rig-cpu=%.1fs events=%d/%d dups=%d\n",
		steady, steady/manySingleCeiling, manySingleCeiling, manyVerdict(steady >= 0.9*manySingleCeiling),
		res.rate(), float64(res.rssKB)/1024, res.cpu.Seconds()/float64(b.N), res.rigCPU.Seconds()/float64(b.N), res.got(), res.want, res.dups)
	fmt.Printf("  single-50x4 detail: posts=%d; dispatcher %s\n", res.posts, res.detail)
	fmt.Printf("  single-50x4 slots (last run): %s\n", &recv.turns)
}

// manyCheck fails on a delivery the receiver rejected.
func manyCheck(b *testing.B, r *manyReceiver) {
	b.Helper()
	if p := r.problem.Load(); p != nil {
		b.Fatalf("receiver rejected a delivery: %s", *p)
	}
}

// manyReport reports the figures every sub-benchmark has.
func manyReport(b *testing.B, r *manyResult) {
	b.ReportMetric(r.rate(), "events/s")
	b.ReportMetric(float64(r.rssKB)/1024, "peakRSS-MB")
	b.ReportMetric(r.cpu.Seconds()/float64(b.N), "dispatcher-cpu-s")
	b.ReportMetric(r.rigCPU.Seconds()/float64(b.N), "rig-cpu-s")
	b.ReportMetric(float64(r.want-r.got()), "missing-events")
}

func manySorted(d []time.Duration) []time.Duration {
	s := append([]time.Duration(nil), d...)
	slices.Sort(s)
	return s
}

func manyP99(d []time.Duration) time.Duration { return manyQuantile(manySorted(d), 0.99) }

// manyVerdict says whether a target was met.
func manyVerdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func manyMS(d time.Duration) string { return d.Round(time.Millisecond).String() }

// manyDeleteTopics deletes, at the benchmark's end, topic and every topic
// named with prefix, so runs on a real cluster leave nothing behind.
func manyDeleteTopics(b *testing.B, k testbackend.Kafka, topic, prefix string) {
	adm := k.Admin(b)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		names := []string{topic}
		if all, err := adm.ListTopics(ctx); err == nil {
			for _, n := range all.Names() {
				if strings.HasPrefix(n, prefix) {
					names = append(names, n)
				}
			}
		}
		if _, err := adm.DeleteTopics(ctx, names...); err != nil {
			b.Logf("delete topics %v: %v", names, err)
		}
	})
}

// manyPublish publishes rate events a second for d, round robin over
// tenants, and returns how many it published. Each event's createdUtc is
// the producer's clock when published.
func manyPublish(b *testing.B, k testbackend.Kafka, topic string, tenants []string, rate float64, d time.Duration) int {
	b.Helper()
	pub := manyPublisher(b, k, topic)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	sent := 0
	for start := time.Now(); time.Since(start) < d; <-tick.C {
		for due := int(rate * time.Since(start).Seconds()); sent < due; sent++ {
			pub.publish(tenants[sent%len(tenants)])
		}
	}
	pub.close(b)
	return sent
}

// manyPreload publishes n events round robin over tenants as fast as the
// producer goes.
func manyPreload(b *testing.B, k testbackend.Kafka, topic string, tenants []string, n int) {
	b.Helper()
	start := time.Now()
	pub := manyPublisher(b, k, topic)
	for i := 0; i < n; i++ {
		pub.publish(tenants[i%len(tenants)])
	}
	pub.close(b)
	b.Logf("preloaded %d events over %d tenants in %s", n, len(tenants), time.Since(start).Round(time.Millisecond))
}

// manyPub publishes catalog events through the producer library, so
// records carry the routing headers.
type manyPub struct {
	p        *producer.Producer
	gen      *demo.Generator
	failed   atomic.Int64
	firstErr atomic.Pointer[error]
}

func manyPublisher(b *testing.B, k testbackend.Kafka, topic string) *manyPub {
	p, err := producer.New(producer.Config{Brokers: k.Brokers, Topic: topic})
	if err != nil {
		b.Fatal(err)
	}
	return &manyPub{p: p, gen: demo.NewGenerator(20261202)}
}

func (m *manyPub) publish(tenant string) {
	ev := m.gen.Next()
	ev.TenantID = tenant
	m.p.PublishAsync(context.Background(), ev, func(_ producer.Published, err error) {
		if err != nil {
			m.failed.Add(1)
			m.firstErr.CompareAndSwap(nil, &err)
		}
	})
}

func (m *manyPub) close(b *testing.B) {
	b.Helper()
	if err := m.p.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	if f := m.failed.Load(); f > 0 {
		b.Fatalf("%d publishes failed; first: %v", f, *m.firstErr.Load())
	}
}
