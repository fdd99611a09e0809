package dispatcher_test

// BenchmarkDispatch measures the dispatcher end to end against a
// delivery-only ceiling measured in the same run:
//
//	go test -run '^$' -bench Dispatch -benchtime 1x ./dispatcher/
//
// For each mode it preloads a topic (of the Kafka of HOOKLINE_TEST_KAFKA
// when set, deleted at the end; else of an in-process kfake) with
// catalog events of one tenant, written through the producer library
// (so records carry the routing headers), starts a local receiver that
// verifies every signature, and then, at each in-flight count N of
// HOOKLINE_BENCH_INFLIGHT (a sub-benchmark <mode>/c<N> each),
//
//   - runs the hookline binary's dispatcher command with --concurrency N as
//     a process of its own against that topic (Redis: see below), timing
//     from process start until the receiver has counted every event, and
//     reads the process's peak RSS (VmHWM) and CPU time before stopping it;
//   - runs the ceiling, ./internal/benchrig ceiling --inflight N, also a
//     process of its own: a minimal signer that POSTs the same record values
//     in the same batch sizes, signed the same way and with the same
//     headers, N requests in flight over N keep-alive connections, to the
//     same receiver, with no Kafka and no Redis. It loads the events before
//     its clock starts.
//
// Modes: batched (10,000 events a delivery), single (one a delivery), both
// with 4 registered endpoints; batched-headerless, the batched run over the
// same records without their hl-* headers (as any other Kafka client writes
// them), so their cost shows as the ratio of the two lines of one run; and
// batched-10k-endpoints, the batched run with 10,000 registered endpoints
// (100 of the bench tenant), so the registry's size shows likewise.
//
// It first prints the machine (NumCPU, GOMAXPROCS, platform, CPU model) and
// the backends in use, then one summary line per sub-benchmark: events/s of
// hookline and of the ceiling at the same N, their ratio (hookline /
// ceiling), the CPU seconds of the dispatcher process and of the signer
// process, their ratio (CPU per event, as both send the same events), the
// dispatcher's CPU seconds per 1M events, and its peak RSS. Targets:
//
//   - batched/c4: ratio >= 0.60, dispatcher CPU per 1M events <= 1.0 s;
//   - batched-headerless: events/s >= 0.80 of batched's at the same N;
//   - single/c4: ratio >= 0.75, CPU per event <= 1.6 times the ceiling's;
//   - peak RSS < 256 MB.
//
// The c1 lines are the same measurement at the dispatcher's default
// concurrency. A detail line per sub-benchmark adds the CPU seconds of the
// test binary: while the dispatcher runs (receiver, in-process Redis and
// broker when used: rig-cpu-s) and while the ceiling runs (its receiver; with the signer,
// ceiling-cpu-s). On a machine with C cores, wall time times C bounds the
// sums.
//
// Environment:
//
//	HOOKLINE_TEST_REDIS=URL        the Redis the dispatcher uses (a database
//	                               of a real server); unset: an in-process
//	                               miniredis, whose CPU per command is
//	                               several times a real Redis's
//	HOOKLINE_TEST_KAFKA=BROKERS    the Kafka the events are preloaded to and
//	                               consumed from (its topics are deleted at
//	                               the end; its CPU is in no figure); unset:
//	                               an in-process kfake, part of rig-cpu-s
//	HOOKLINE_BENCH_INFLIGHT=LIST   in-flight counts to measure (default 1,4)
//	HOOKLINE_BENCH_BATCHED_EVENTS  events preloaded for batched modes (default 1000000)
//	HOOKLINE_BENCH_SINGLE_EVENTS   events preloaded for single modes (default 20000)
//	HOOKLINE_BENCH_INPROCESS=1     run the dispatcher inside the test binary
//	                               (Config.Concurrency N) instead of as a
//	                               process (no peak RSS or CPU figures then)
//	HOOKLINE_BENCH_CPUPROFILE=F    write a CPU profile of the dispatcher to
//	                               F.<mode>.c<N>: with INPROCESS, of the test
//	                               binary during the timed phase (broker and
//	                               receiver included); else the dispatcher
//	                               process is `benchrig dispatcher` (the
//	                               dispatcher command's wiring plus a
//	                               profile) in place of hookline
//	HOOKLINE_BENCH_COMPARE=BIN     also run BIN (another build of the hookline
//	                               command, e.g. of an earlier commit) with
//	                               the same --concurrency in each iteration,
//	                               and report it beside this build
//	HOOKLINE_BENCH_VERBOSE=1       copy the dispatcher process's stderr (e.g.
//	                               with GODEBUG=gctrace=1) to the test's
//	HOOKLINE_BENCH_SHAPES=LIST     also run batched-<shape> and single-<shape>
//	                               for each payload shape of LIST (thin,
//	                               legacy, template), after the full-shape
//	                               modes, so a shape's cost is the ratio of
//	                               its line to the full line of one run. The
//	                               ceiling still sends the record values.
//
// Each b.N iteration uses a fresh consumer group over the same preloaded
// topic, so -benchtime 3x repeats the measurement; figures are totals over
// the iterations. Speed is measured here only, never asserted in tests.

import (
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/payload"
	"github.com/hookline/hookline/internal/signing"
	"github.com/hookline/hookline/internal/testbackend"
	"github.com/redis/go-redis/v9"
)

const (
	benchSecret     = "whsec-bench-secret-0123456789"
	benchTenant     = "t-bench"
	benchPartitions = 6
	benchHeaderPfx  = signing.DefaultPrefix
	// benchWait bounds one dispatcher or ceiling phase.
	benchWait = 5 * time.Minute
)

// benchMode is one sub-benchmark.
type benchMode struct {
	name     string
	maxItems int
	envVar   string
	events   int
	// registered is how many endpoints the dispatcher holds: the bench
	// endpoint and others that receive nothing (see benchEndpoints).
	registered int
	// headerless: the records carry no hl-* headers, as written by any
	// other Kafka client.
	headerless bool
	// payload is the bench endpoint's shape; nil: full.
	payload *payload.Spec
	// inflight is the dispatcher's --concurrency and the ceiling's
	// --inflight; set per sub-benchmark.
	inflight int
}

// label names a sub-benchmark's figures: mode/c<inflight>.
func (m benchMode) label() string { return m.name + "/c" + strconv.Itoa(m.inflight) }

// benchTemplate is a Slack-style template for the template modes: it
// decodes every event and writes a short message per event.
const benchTemplate = `{"text": {{jsonStr (printf "%s %s in %s" .type .eventId .tenantId)}}}`

// benchShapeModes are the batched and single modes again for each shape
// HOOKLINE_BENCH_SHAPES lists.
func benchShapeModes(b *testing.B, base []benchMode) []benchMode {
	var out []benchMode
	for _, shape := range strings.FieldsFunc(os.Getenv("HOOKLINE_BENCH_SHAPES"), func(r rune) bool { return r == ',' || r == ' ' }) {
		spec := &payload.Spec{Shape: shape}
		if shape == payload.ShapeTemplate {
			spec.Template = benchTemplate
		}
		if err := spec.Validate(); err != nil || spec.IsFull() {
			b.Fatalf("HOOKLINE_BENCH_SHAPES: %q: want thin, legacy or template (%v)", shape, err)
		}
		for _, m := range base {
			if m.name != "batched" && m.name != "single" {
				continue
			}
			m.name, m.payload = m.name+"-"+shape, spec
			out = append(out, m)
		}
	}
	return out
}

// benchRig is what every mode shares: the compiled processes, the
// in-flight counts to measure at and the Redis in use.
type benchRig struct {
	dispatcher []string // command and leading arguments; nil: in-process
	rig        string   // benchrig, for the ceiling
	inflight   []int    // HOOKLINE_BENCH_INFLIGHT
	redis      string   // how the summary lines name the Redis
}

func BenchmarkDispatch(b *testing.B) {
	rig := benchRig{rig: benchBuild(b, "./internal/benchrig"), inflight: benchInflight(b)}
	switch {
	case os.Getenv("HOOKLINE_BENCH_INPROCESS") == "1":
	case os.Getenv("HOOKLINE_BENCH_CPUPROFILE") != "":
		rig.dispatcher = []string{rig.rig, "dispatcher"}
	default:
		rig.dispatcher = []string{benchBuild(b, "../cmd/hookline"), "dispatcher"}
	}
	machine, redisLong, redisShort := benchMachine(b)
	rig.redis = redisShort
	fmt.Printf("dispatch machine: %s | Redis: %s | Kafka: %s | in flight: %s\n",
		machine, redisLong, benchKafkaName(), strings.Trim(strings.ReplaceAll(fmt.Sprint(rig.inflight), " ", ","), "[]"))
	modes := []benchMode{
		{name: "batched", maxItems: 10_000, envVar: "HOOKLINE_BENCH_BATCHED_EVENTS", events: 1_000_000, registered: 4},
		// The same records without their headers.
		{name: "batched-headerless", maxItems: 10_000, envVar: "HOOKLINE_BENCH_BATCHED_EVENTS", events: 1_000_000, registered: 4, headerless: true},
		{name: "single", maxItems: 1, envVar: "HOOKLINE_BENCH_SINGLE_EVENTS", events: 20_000, registered: 4},
		// The same batched run with a large registry: 10,000 endpoints,
		// 100 of them the bench tenant's.
		{name: "batched-10k-endpoints", maxItems: 10_000, envVar: "HOOKLINE_BENCH_BATCHED_EVENTS", events: 1_000_000, registered: 10_000},
	}
	modes = append(modes, benchShapeModes(b, modes)...)
	for _, m := range modes {
		if v := os.Getenv(m.envVar); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				b.Fatalf("%s=%q: want a positive number of events", m.envVar, v)
			}
			m.events = n
		}
		b.Run(m.name, func(b *testing.B) { benchDispatchMode(b, m, rig) })
	}
}

// benchInflight parses HOOKLINE_BENCH_INFLIGHT, within the dispatcher's
// --concurrency range.
func benchInflight(b *testing.B) []int {
	v := os.Getenv("HOOKLINE_BENCH_INFLIGHT")
	if v == "" {
		v = "1,4"
	}
	var out []int
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 64 {
			b.Fatalf("HOOKLINE_BENCH_INFLIGHT=%q: want a list of numbers 1-64", v)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		b.Fatalf("HOOKLINE_BENCH_INFLIGHT=%q: want a list of numbers 1-64", v)
	}
	return out
}

// benchBuild compiles a command once for the benchmark.
func benchBuild(b *testing.B, pkg string) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// benchResult is one timed phase.
type benchResult struct {
	elapsed time.Duration
	// firstPost is the time from the phase start to the receiver's first
	// verified request.
	firstPost time.Duration
	posts     int64
	maxGap    time.Duration // longest pause between requests at the receiver
	peakRSSKB int64         // of the dispatcher process; 0 in-process
	// cpu is the CPU time of the sending process (0 in-process); rigCPU
	// that of the test binary during the phase.
	cpu, rigCPU time.Duration
}

func (r *benchResult) add(o benchResult) {
	r.elapsed += o.elapsed
	r.firstPost += o.firstPost
	r.posts += o.posts
	r.maxGap = max(r.maxGap, o.maxGap)
	r.peakRSSKB = max(r.peakRSSKB, o.peakRSSKB)
	r.cpu += o.cpu
	r.rigCPU += o.rigCPU
}

// benchDispatchMode preloads the mode's events once and measures them at
// each in-flight count, as a sub-benchmark c<N> each.
func benchDispatchMode(b *testing.B, m benchMode, rig benchRig) {
	set := benchPreload(b, m.events, m.headerless)
	redisURL := benchRedis(b)
	recv := newBenchReceiver([]byte(benchSecret), benchHeaderPfx)
	srv := httptest.NewServer(recv)
	b.Cleanup(srv.Close)
	ep := &endpoints.Endpoint{
		ID: "ep-bench", TenantID: benchTenant, URL: srv.URL + "/hooks/bench", Secrets: []string{benchSecret},
		MaxItems: m.maxItems, Payload: m.payload,
		// A time seal only for a trailing partial batch.
		MaxWait: endpoints.Duration(time.Second),
	}
	// Batches must seal by items, as the ceiling groups them: 10,000 catalog
	// events (about 3.7 MB) fit the default byte cap.
	if maxBytes := ep.Limits().MaxBytes; set.maxBatchBytes(m.maxItems) > maxBytes {
		b.Fatalf("a batch of %d events needs %d bytes, over MaxBytes %d", m.maxItems, set.maxBatchBytes(m.maxItems), maxBytes)
	}
	for _, n := range rig.inflight {
		m.inflight = n
		b.Run("c"+strconv.Itoa(n), func(b *testing.B) { benchDispatchAt(b, m, rig, set, redisURL, ep, recv) })
	}
}

// benchDispatchAt measures hookline and the ceiling at m.inflight.
func benchDispatchAt(b *testing.B, m benchMode, rig benchRig, set *benchEvents, redisURL string,
	ep *endpoints.Endpoint, recv *benchReceiver) {
	var disp, ceil, cmp benchResult
	cmpBin := os.Getenv("HOOKLINE_BENCH_COMPARE")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if rig.dispatcher != nil {
			disp.add(benchRunProcess(b, rig.dispatcher, set, redisURL, ep, recv, m))
		} else {
			disp.add(benchRunInProcess(b, set, redisURL, ep, recv, m))
		}
		b.StopTimer()
		ceil.add(benchRunCeiling(b, rig.rig, set, ep, recv, m))
		if cmpBin != "" {
			cmp.add(benchRunProcess(b, []string{cmpBin, "dispatcher"}, set, redisURL, ep, recv, m))
		}
		b.StartTimer()
	}
	b.StopTimer()
	benchReport(b, m, rig, benchFigures{disp: disp, ceil: ceil, cmp: cmp, cmpBin: cmpBin})
}

// benchFigures are one sub-benchmark's totals over its iterations.
type benchFigures struct {
	disp, ceil, cmp benchResult
	cmpBin          string // HOOKLINE_BENCH_COMPARE; "": no cmp
}

// benchReport reports the metrics and prints the summary lines. The CPU
// figures compare the sending processes only (the dispatcher, the signer):
// the receiver's share is the same work for both, and the broker's and
// Redis's is not the dispatcher's own.
func benchReport(b *testing.B, m benchMode, rig benchRig, f benchFigures) {
	disp, ceil, cmp := f.disp, f.ceil, f.cmp
	total := float64(m.events) * float64(b.N)
	dispRate := total / disp.elapsed.Seconds()
	ceilRate := total / ceil.elapsed.Seconds()
	ratio := dispRate / ceilRate
	per := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) }
	b.ReportMetric(dispRate, "events/s")
	b.ReportMetric(ceilRate, "ceiling-events/s")
	b.ReportMetric(ratio, "ratio")
	b.ReportMetric(per(disp.firstPost), "first-post-s")
	b.ReportMetric(per(disp.rigCPU), "rig-cpu-s")
	b.ReportMetric(per(ceil.cpu+ceil.rigCPU), "ceiling-cpu-s")
	b.ReportMetric(per(ceil.cpu), "signer-cpu-s")
	rss, cpu := "n/a (in-process)", "hookline=n/a (in-process)"
	if disp.peakRSSKB > 0 {
		cpuRatio := disp.cpu.Seconds() / max(ceil.cpu.Seconds(), 0.01)
		perM := disp.cpu.Seconds() / total * 1e6
		b.ReportMetric(float64(disp.peakRSSKB)/1024, "peakRSS-MB")
		b.ReportMetric(per(disp.cpu), "dispatcher-cpu-s")
		b.ReportMetric(cpuRatio, "cpu-per-event-ratio")
		b.ReportMetric(perM, "dispatcher-cpu-s/1M-events")
		rss = fmt.Sprintf("%.0f MB", float64(disp.peakRSSKB)/1024)
		cpu = fmt.Sprintf("hookline=%.2fs ceiling=%.2fs per-event ratio=%.2f hookline per 1M events=%.2fs",
			per(disp.cpu), per(ceil.cpu), cpuRatio, perM)
	}
	fmt.Printf("dispatch %s: hookline=%.0f ev/s ceiling(%d in flight)=%.0f ev/s ratio=%.2f cpu: %s peakRSS=%s (Redis: %s)\n",
		m.label(), dispRate, m.inflight, ceilRate, ratio, cpu, rss, rig.redis)
	if f.cmpBin != "" {
		cmpRate := total / cmp.elapsed.Seconds()
		b.ReportMetric(cmpRate, "compare-events/s")
		fmt.Printf("  %s compare: %s=%.0f ev/s ratio=%.2f peakRSS=%.0f MB cpu=%.2fs; this build / compared = %.2f\n",
			m.label(), filepath.Base(f.cmpBin), cmpRate, cmpRate/ceilRate, float64(cmp.peakRSSKB)/1024, per(cmp.cpu), dispRate/cmpRate)
	}
	fmt.Printf("  %s detail: events=%d posts=%d/%d wall=%.2fs/%.2fs first-post=%.2fs max-gap=%s/%s cpu: dispatcher=%.2fs broker+redis+receiver=%.2fs | ceiling signer=%.2fs receiver=%.2fs\n",
		m.label(), m.events, disp.posts/int64(b.N), ceil.posts/int64(b.N), per(disp.elapsed), per(ceil.elapsed), per(disp.firstPost),
		disp.maxGap.Round(time.Millisecond), ceil.maxGap.Round(time.Millisecond),
		per(disp.cpu), per(disp.rigCPU), per(ceil.cpu), per(ceil.rigCPU))
}

// benchRedis is the URL of the Redis the dispatcher records settled spans
// in: HOOKLINE_TEST_REDIS when set (keys are namespaced by each run's fresh
// consumer group), else an in-process miniredis's, which costs several
// times a real Redis's CPU per command and so weighs on single-event mode.
func benchRedis(b *testing.B) (url string) {
	if url := os.Getenv(testbackend.EnvRedis); url != "" {
		if _, err := redis.ParseURL(url); err != nil {
			b.Fatalf("%s=%q: %v", testbackend.EnvRedis, url, err)
		}
		return url
	}
	return "redis://" + testbackend.NewMiniredis(b).Options().Addr + "/0"
}
