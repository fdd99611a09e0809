package dispatcher_test

// Slow receivers beside healthy ones, as sub-benchmarks of
// BenchmarkManyEndpoints:
//
//	go test -run '^$' -bench 'ManyEndpoints/(slow-success|trickle|slow-100)' -benchtime 1x -timeout 30m ./dispatcher/
//
// They measure whether receivers that are slow but succeed hold up the
// healthy endpoints of other tenants. Every endpoint takes single events
// (maxItems 1) with the default timeout (endpoints.DefaultTimeout, 10s);
// the dispatcher runs with --concurrency 4, so a receiver taking 4s per
// request can take 1 event/s. Processes, Kafka, Redis and receivers are as
// in BenchmarkManyEndpoints (bench_many_test.go); each tenant has one
// endpoint with a listener of its own, and every tenant's events spread
// over all partitions (the record key holds the object id), so slow and
// healthy tenants share every partition.
//
// slow-success: tenant A's endpoint answers 204 at once, tenant B's
// answers 200 after 4s; each tenant gets 20 events/s for 40s.
//
// trickle: as slow-success, but B's receiver sends its 200 status and
// headers at once, then its body one byte every 500ms for up to 15s. The
// dispatcher reads the answer's body (for the delivery log), so each of
// B's requests lasts until its timeout.
//
// slow-100-of-1000: 1,000 tenants of one endpoint each; 100 answer 200
// after 4s, 900 answer 204 at once. The healthy ones get 400 events/s in
// all (round robin, about 0.44 each), the slow ones 5 events/s each, for
// 30s: five times what a slow one takes, so each fills its queue (4 in
// flight, 64 queued for a single-event endpoint) within some 17s. At a
// uniform rate the healthy ones could take, a slow one would get under the
// 1 event/s it takes and nothing would queue.
//
// Each run publishes from the test binary once the dispatcher is ready,
// then waits until the healthy endpoints got every event published to them
// or, at most, a grace of 10s after the last publish; what they have then
// is what the run delivered. One line per scenario gives, of the healthy
// endpoints, events delivered / published, events/s (delivered over first
// publish to last receipt) against their inflow, and p50/p99/max of
// receipt minus createdUtc over the events delivered (and p99 of those
// published in the second half); of the slow ones, events published, those
// answered within the run (trickle: whose answer began), and from the
// dispatcher's /metrics, over all endpoints, deliveries deferred (sent to
// the first retry tier unattempted) and retrying (an attempt failed, then
// to that tier); the rest were queued, in flight or not yet routed. Then
// duplicates, the dispatcher's peak RSS (VmHWM) and the targets, each met
// or MISSED: healthy p99 < 1s; healthy throughput = inflow (every event
// delivered within the run, at 95% of the inflow rate or more). A detail
// line gives /metrics' deliveries and attempts by outcome and the stop.
//
// Once the figures are taken the slow receivers are closed, so that on
// SIGTERM the dispatcher's drain fails their remaining deliveries at once
// (to the retry tier) instead of waiting 4s for each.
//
// Environment:
//
//	HOOKLINE_BENCH_SLOW_RATE          events/s to each of A and B (default 20)
//	HOOKLINE_BENCH_SLOW_SECONDS       how long slow-success and trickle
//	                                  publish (default 40)
//	HOOKLINE_BENCH_SLOW_MANY_RATE     events/s to the 900 healthy endpoints
//	                                  in all (default 400)
//	HOOKLINE_BENCH_SLOW_MANY_SLOW     events/s to each of the 100 slow
//	                                  endpoints (default 5)
//	HOOKLINE_BENCH_SLOW_MANY_SECONDS  how long slow-100-of-1000 publishes
//	                                  (default 30)
//	HOOKLINE_BENCH_SLOW_GRACE         seconds waited after the last publish
//	                                  (default 10)
//
// Each b.N iteration is a fresh topic, group and set of receivers; figures
// are over all iterations. Speed is measured here only, never asserted.

import (
	"fmt"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/testbackend"
)

const (
	slowConc         = 4
	slowDelay        = 4 * time.Second
	slowTrickleEvery = 500 * time.Millisecond
	slowTrickleFor   = 15 * time.Second
	slowTargetP99    = time.Second
)

// slowScenario is one sub-benchmark: healthy and slow endpoints, one
// tenant each.
type slowScenario struct {
	name          string
	healthy, slow int
	healthyRate   float64 // events/s to the healthy endpoints in all
	slowRate      float64 // events/s to each slow endpoint
	publish       time.Duration
	trickle       bool // slow ones trickle their body instead of waiting
}

// benchSlowReceivers runs the scenarios as sub-benchmarks of b.
func benchSlowReceivers(b *testing.B, bin string, k testbackend.Kafka, redisURL string) {
	rate := slowEnv(b, "HOOKLINE_BENCH_SLOW_RATE", 20)
	pair := time.Duration(slowEnv(b, "HOOKLINE_BENCH_SLOW_SECONDS", 40) * float64(time.Second))
	many := time.Duration(slowEnv(b, "HOOKLINE_BENCH_SLOW_MANY_SECONDS", 30) * float64(time.Second))
	grace := time.Duration(slowEnv(b, "HOOKLINE_BENCH_SLOW_GRACE", 10) * float64(time.Second))
	for _, sc := range []slowScenario{
		{name: "slow-success", healthy: 1, slow: 1, healthyRate: rate, slowRate: rate, publish: pair},
		{name: "trickle", healthy: 1, slow: 1, healthyRate: rate, slowRate: rate, publish: pair, trickle: true},
		{name: "slow-100-of-1000", healthy: 900, slow: 100, publish: many,
			healthyRate: slowEnv(b, "HOOKLINE_BENCH_SLOW_MANY_RATE", 400), slowRate: slowEnv(b, "HOOKLINE_BENCH_SLOW_MANY_SLOW", 5)},
	} {
		b.Run(sc.name, func(b *testing.B) { benchSlow(b, sc, grace, bin, k, redisURL) })
	}
}

// slowResult is one scenario's figures, summed over iterations.
type slowResult struct {
	healthy manyResult
	// Of the slow endpoints: events published, answered (distinct) and
	// duplicates; deferred and retrying are over all endpoints.
	slowSent, slowGot, slowDups int
	deferred, retrying          int64
	stop                        string // how the last run's dispatcher stopped
}

func (r *slowResult) add(o slowResult) {
	r.healthy.add(o.healthy)
	r.slowSent, r.slowGot, r.slowDups = r.slowSent+o.slowSent, r.slowGot+o.slowGot, r.slowDups+o.slowDups
	r.deferred, r.retrying = r.deferred+o.deferred, r.retrying+o.retrying
	r.stop = o.stop
}

func benchSlow(b *testing.B, sc slowScenario, grace time.Duration, bin string, k testbackend.Kafka, redisURL string) {
	var res slowResult
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res.add(benchSlowRun(b, sc, grace, bin, k, redisURL))
	}
	b.StopTimer()
	h := &res.healthy
	manyReport(b, h)
	all := manySorted(h.all)
	p99 := manyQuantile(all, 0.99)
	b.ReportMetric(manyQuantile(all, 0.5).Seconds()*1000, "p50-ms")
	b.ReportMetric(p99.Seconds()*1000, "p99-ms")
	b.ReportMetric(float64(h.got())/float64(max(h.want, 1)), "healthy-delivered")
	inflow := sc.healthyRate
	kept := h.got() == h.want && h.rate() >= 0.95*inflow
	rest := int64(res.slowSent-res.slowGot) - res.deferred - res.retrying
	late := "none delivered"
	if len(h.late) > 0 {
		late = manyMS(manyP99(h.late))
	}
	fmt.Printf("many %s: healthy %d/%d events, %.1f ev/s vs inflow %.1f ev/s, p50=%s p99=%s max=%s (of delivered) second-half-p99=%s; "+
		"slow %d published (%.1f ev/s), answered %d, deferred=%d retrying=%d (all endpoints), rest %d queued/in flight/unrouted; "+
		"dups healthy=%d slow=%d; peakRSS=%.0f MB; target: healthy p99 < 1s %s, healthy throughput = inflow %s\n",
		sc.name, h.got(), h.want, h.rate(), inflow,
		manyMS(manyQuantile(all, 0.5)), manyMS(p99), manyMS(manyQuantile(all, 1)), late,
		res.slowSent, sc.slowRate*float64(sc.slow), res.slowGot, res.deferred, res.retrying, rest,
		h.dups, res.slowDups, float64(h.rssKB)/1024, manyVerdict(len(all) > 0 && p99 < slowTargetP99), manyVerdict(kept))
	fmt.Printf("  %s detail: %d healthy + %d slow endpoints, published %s, grace %s, --concurrency %d; dispatcher-cpu=%.1fs rig-cpu=%.1fs; dispatcher %s; %s\n",
		sc.name, sc.healthy, sc.slow, sc.publish, grace, slowConc, h.cpu.Seconds()/float64(b.N), h.rigCPU.Seconds()/float64(b.N), h.detail, res.stop)
}

func benchSlowRun(b *testing.B, sc slowScenario, grace time.Duration, bin string, k testbackend.Kafka, redisURL string) slowResult {
	ok, okURLs := newManyReceiver(b, sc.healthy, 204, 0)
	var slow *manyReceiver
	var slowURLs []string
	if sc.trickle {
		slow, slowURLs = newTrickleReceiver(b, sc.slow, slowTrickleEvery, slowTrickleFor)
	} else {
		slow, slowURLs = newManyReceiver(b, sc.slow, 200, slowDelay)
	}
	var eps []*endpoints.Endpoint
	tenants := func(kind string, urls []string) []string {
		ts := make([]string, len(urls))
		for i, url := range urls {
			ts[i] = fmt.Sprintf("t-%s-%04d", kind, i)
			eps = append(eps, &endpoints.Endpoint{ID: fmt.Sprintf("ep-%s-%04d", kind, i), TenantID: ts[i], URL: url,
				Secrets: []string{benchSecret}, MaxItems: 1})
		}
		return ts
	}
	okTenants, slowTenants := tenants("ok", okURLs), tenants("slow", slowURLs)
	topic := k.Topic(b, benchPartitions)
	rig0 := benchSelfCPU()
	p := startManyDispatcher(b, bin, k, topic, redisURL, eps, slowConc)
	start := time.Now()
	sent := slowPublish(b, k, topic, []slowStream{
		{tenants: okTenants, rate: sc.healthyRate},
		{tenants: slowTenants, rate: sc.slowRate * float64(sc.slow)},
	}, sc.publish)
	ok.waitUntil(int64(sent[0]), time.Now().Add(grace))
	end := time.Now()
	r := slowResult{slowSent: sent[1]}
	r.healthy = manyResult{manyTake: ok.take(start.Add(sc.publish / 2)), want: sent[0], posts: ok.posts.Load()}
	st := slow.take(time.Time{})
	r.slowGot, r.slowDups = st.events-st.dups, st.dups
	r.healthy.rssKB, r.healthy.cpu, r.healthy.detail = p.sample(b)
	r.healthy.rigCPU = benchSelfCPU() - rig0
	r.deferred = slowOutcome(r.healthy.detail, "deliveries.deferred")
	r.retrying = slowOutcome(r.healthy.detail, "deliveries.retrying")
	_ = slow.srv.Close()
	r.stop = slowStop(b, p)
	manyCheck(b, ok)
	manyCheck(b, slow)
	if r.healthy.last.IsZero() {
		r.healthy.elapsed = end.Sub(start)
	} else {
		r.healthy.elapsed, r.healthy.steady = r.healthy.last.Sub(start), r.healthy.last.Sub(r.healthy.first)
	}
	return r
}
